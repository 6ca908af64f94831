"""``RockyTaskGroup(shape="watch")`` at parse time: the producer, one task per node, the engine's edges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset
from project_helpers import START, demo_manifest, forbid_spawns_and_lookups, plain, runs, write_manifest

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._project.partitions import interval_args
from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.operators.watch import RockyWatchNodeOperator, RockyWatchSeedOperator
from airflow_provider_rocky.operators.watch_producer import RockyWatchProducerOperator
from airflow_provider_rocky.testing._standin.project import demo_nodes

NS = "duckdb:///data/wh.duckdb"


def _render(manifest: Path, **kwargs: Any) -> tuple[DAG, dict[str, Any]]:
    with DAG("render", schedule="@daily", start_date=START) as dag:
        RockyTaskGroup("proj", manifest=manifest, shape="watch", asset_namespace=NS, **kwargs)
    return dag, {t.task_id.removeprefix("proj."): t for t in dag.tasks}


def test_one_producer_and_one_task_per_node_wired_as_the_engines_graph(tmp_path: Path) -> None:
    dag, tasks = _render(demo_manifest(tmp_path))
    producer = tasks.pop("run_dag")
    assert isinstance(producer, RockyWatchProducerOperator)
    assert producer.outlets == [], "each node task records its own table's event"
    assert producer.pool == "rocky_state__rocky_default", "the engine's writer takes the state pool"
    assert sorted(tasks) == sorted(
        ["load__raw_orders", "load__raw_customers", "replication__raw_payments", "seed__country_codes",
         "dim_customers", "fct_daily_orders", "fct_payments", "snapshot__customers_history",
         "quality__orders_quality"]
    )  # fmt: skip
    for name, task in tasks.items():
        assert isinstance(
            task, RockyWatchSeedOperator if name.startswith("seed__") else RockyWatchNodeOperator
        )
        assert task.watch_producer == "proj.run_dag" and task.pool == "default_pool", name
    assert tasks["dim_customers"].rocky_node_id == "transformation:dim_customers"
    assert runs(tasks["dim_customers"]) == ("dim_customers", "marts")
    assert plain(tasks["seed__country_codes"].seed) == "country_codes"
    # the engine's edges between node tasks; the roots after the producer, started at once
    assert tasks["fct_daily_orders"].upstream_task_ids == {"proj.load__raw_orders", "proj.dim_customers"}
    assert tasks["fct_daily_orders"].trigger_rule == "all_success"
    roots = {name for name, task in tasks.items() if "proj.run_dag" in task.upstream_task_ids}
    assert roots == {
        "load__raw_orders",
        "load__raw_customers",
        "replication__raw_payments",
        "seed__country_codes",
    }
    assert all(tasks[name].trigger_rule == "always" for name in roots)
    assert set(producer.downstream_task_ids) == {f"proj.{name}" for name in roots}
    declared = [o.uri for o in tasks["dim_customers"].outlets if isinstance(o, Asset)]
    assert declared == [rocky_asset(".marts.dim_customers", namespace=NS).uri]
    dag.validate()


def test_a_single_grain_gives_the_producer_and_the_partitioned_nodes_the_same_selection(
    tmp_path: Path,
) -> None:
    _, tasks = _render(demo_manifest(tmp_path))
    selection = interval_args("day")
    assert {k: getattr(tasks["run_dag"], k) for k in selection} == selection
    assert {k: getattr(tasks["fct_daily_orders"], k) for k in selection} == selection, (
        "its retry builds the same"
    )
    assert tasks["dim_customers"].partition_from is None, "an unpartitioned node takes none"


def test_several_grains_give_no_selection_to_anyone(tmp_path: Path) -> None:
    """``--dag`` takes one selection; a node's retry must build what the engine's run built."""
    nodes = demo_nodes()
    for node in nodes:
        if node["id"] == "transformation:fct_payments":
            node["partition_shape"] = {"granularity": "monthly"}
    _, tasks = _render(write_manifest(tmp_path, nodes))
    assert tasks["run_dag"].partition_from is None and tasks["fct_daily_orders"].partition_from is None


def test_node_args_take_task_arguments_and_a_seeds_pipeline(tmp_path: Path) -> None:
    node_args = {"dim_customers": {"retries": 4}, "country_codes": {"pipeline": "raw_orders"}}
    _, tasks = _render(demo_manifest(tmp_path), operator_args={"retries": 1}, node_args=node_args)
    assert tasks["dim_customers"].retries == 4 and tasks["fct_payments"].retries == 1
    assert tasks["seed__country_codes"].pipeline == "raw_orders"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"select": ["+fct_daily_orders"]}, "select and exclude need shape='nodes'"),
        ({"exclude": ["kind:seed"]}, "select and exclude need shape='nodes'"),
        ({"state_isolation": "namespace"}, "cannot use state_isolation='namespace'"),
        ({"operator_args": {"filter": "a=b"}}, "does not take filter"),
        ({"operator_args": {"shadow_suffix": "_s"}}, "does not take shadow_suffix"),
        (
            {"operator_args": {"start_from_trigger": True, "deferrable": True}},
            "does not take start_from_trigger",
        ),
        (
            {"node_args": {"dim_customers": {"env_vars": {"A": "b"}}}},
            "would change the node's engine command",
        ),
        ({"node_args": {"dim_customers": {"parallel": 2}}}, "would change the node's engine command"),
    ],
)
def test_what_a_watch_group_cannot_do_is_refused_naming_it(
    tmp_path: Path, kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        _render(demo_manifest(tmp_path), **kwargs)


def test_parse_time_spawns_nothing_and_looks_up_no_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_spawns_and_lookups(monkeypatch)
    _, tasks = _render(
        demo_manifest(tmp_path), operator_args={"rocky_conn_id": "rocky_prod", "deferrable": True}
    )
    assert len(tasks) == 10


def test_a_model_named_like_the_producer_keeps_its_id(tmp_path: Path) -> None:
    nodes = demo_nodes()
    nodes.append({**nodes[-4], "id": "transformation:run_dag", "label": "run_dag", "target": None})
    nodes[-1]["target"] = {"catalog": "", "schema": "marts", "table": "run_dag"}
    _, tasks = _render(write_manifest(tmp_path, nodes))
    assert isinstance(tasks["run_dag"], RockyWatchNodeOperator)
    assert isinstance(tasks["run_dag_"], RockyWatchProducerOperator)
