"""Groups rendered from manifests, run with dag.test(): argv, order, asset events read from the DB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rocky_project as dags
from airflow.sdk import Asset
from airflow_helpers import asset_events
from project_helpers import argv_of, events_by_uri, plain, run_order, runs, starts

from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")
#: A manual run at this moment of a daily data-interval DAG covers [2026-04-05, 2026-04-06).
DAY = datetime(2026, 4, 6, tzinfo=UTC)
NS = dags.NAMESPACE
DECLARED = [".marts.country_codes", ".marts.dim_customers", ".marts.fct_daily_orders", ".marts.fct_payments",
            ".snapshots.customers_history"]  # fmt: skip
WARNINGS = ("not found; cannot create asset event", "inactive AssetModel", "Task has inactive assets")


def _run(dag_id: str, logical_date: datetime = DAY) -> tuple[Any, Path, list[tuple[str, dict[str, Any]]]]:
    dag = getattr(dags, dag_id)
    record = dags.WORK / f"{dag_id}.jsonl"
    record.unlink(missing_ok=True)
    run = dag.test(logical_date=logical_date)
    assert str(run.state) == "success", f"{dag_id}: {run.state}"
    return run, record, asset_events(dag_id, run.run_id)


def _assert_dependency_order(dag_id: str, record: Path) -> None:
    """Every task's engine run started after the runs of its upstream tasks."""
    dag = getattr(dags, dag_id)
    order = run_order(record)
    assert len(order) == len(set(order)) == len(dag.tasks), "each node ran exactly once"
    ran = {t.task_id: plain(getattr(t, "seed", None)) or runs(t)[0] or runs(t)[1] for t in dag.tasks}
    for task in dag.tasks:
        for upstream in task.upstream_task_ids:
            assert order.index(ran[upstream]) < order.index(ran[task.task_id]), (upstream, task.task_id)


def _partition_keys(dag_id: str, run_id: str, uri: str) -> list[str | None]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent).where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
        ).all()
        return sorted(getattr(e, "partition_key", None) for e in rows if e.asset.uri == uri)  # type: ignore[type-var]


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_the_demo_group_runs_every_node_once_in_order_with_one_event_per_table(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    dag_id = f"project__demo__{mode}"
    run, record, events = _run(dag_id)
    _assert_dependency_order(dag_id, record)
    fct = argv_of(record, "--model", "fct_daily_orders")
    assert fct[fct.index("--from") :][:4] == ["--from", "2026-04-05", "--to", "2026-04-05"]
    assert "--partition" not in argv_of(record, "--model", "dim_customers")
    quality = argv_of(record, "--pipeline", "orders_quality")
    assert not {"--model", "--from", "--partition", "--models"} & set(quality), quality
    seed = argv_of(record, "--filter", "country_codes")
    assert seed[seed.index("seed") :] == ["seed", "--filter", "country_codes"], "rocky seed, not run --model"
    by_uri = events_by_uri(events)
    assert all(len(extras) == 1 for extras in by_uri.values()), "one event per table"
    declared = {rocky_asset(t, namespace=NS).uri for t in DECLARED}
    assert declared <= set(by_uri)
    replicated = set(by_uri) - declared
    assert len(replicated) == 6, "the load and replication nodes' tables, through their aliases"
    (fct_extra,) = by_uri[rocky_asset(".marts.fct_daily_orders", namespace=NS).uri]
    assert fct_extra["partition_key"] == "2026-04-05" and fct_extra["strategy"] == "time_interval"
    if AIRFLOW_V_3_3_PLUS:
        keys = _partition_keys(dag_id, run.run_id, rocky_asset(".marts.fct_daily_orders", namespace=NS).uri)
        assert keys == ["2026-04-05"], "the native partition key"
    log = capfd.readouterr()
    warned = [line for line in (log.out + log.err).splitlines() if any(w in line for w in WARNINGS)]
    assert any("staging__" in line for line in warned), "the capture sees the alias-only tables' warnings"
    for line in warned:
        assert not any(uri in line or uri.replace("duckdb:/", "duckdb:///") in line for uri in declared), line


def test_each_grain_runs_the_data_interval_and_its_events_carry_the_keys() -> None:
    run, record, events = _run("project__grains")
    expected = {
        "by_hour": ["--from", "2026-04-05T00", "--to", "2026-04-05T23"],
        "by_day": ["--from", "2026-04-05", "--to", "2026-04-05"],
        "by_month": ["--from", "2026-04", "--to", "2026-04"],
        "by_year": ["--from", "2026", "--to", "2026"],
    }
    for model, flags in expected.items():
        argv = argv_of(record, "--model", model)
        assert argv[argv.index("--from") :][:4] == flags, model
    hourly = rocky_asset(".marts.by_hour", namespace=NS).uri
    extras = events_by_uri(events)[hourly]
    hours = [f"2026-04-05T{h:02d}" for h in range(24)]
    if AIRFLOW_V_3_3_PLUS:
        assert len(extras) == 24, "one event per partition key on Airflow 3.3+"
        assert _partition_keys("project__grains", run.run_id, hourly) == hours
    else:
        (extra,) = extras
        assert extra["partition_keys"] == hours and extra["event_count"] == 24


def test_a_run_without_a_data_interval_runs_the_partition_holding_its_logical_date() -> None:
    _, record, _ = _run("project__grains_manual", logical_date=datetime(2026, 4, 5, 13, 30, tzinfo=UTC))
    for model, key in (("by_hour", "2026-04-05T13"), ("by_day", "2026-04-05"), ("by_month", "2026-04")):
        argv = argv_of(record, "--model", model)
        assert argv[argv.index("--from") :][:4] == ["--from", key, "--to", key], model


def test_the_one_run_shape_is_the_engines_dag_run_with_an_event_per_completed_node() -> None:
    run, record, events = _run("project__one_run")
    (start,) = starts(record)
    argv = start["argv"]
    assert argv[argv.index("run") :] == ["run", "--dag", "--from", "2026-04-05", "--to", "2026-04-05"]
    by_uri = events_by_uri(events)
    assert set(by_uri) == {rocky_asset(t, namespace=NS).uri for t in DECLARED}, "every node completed"
    assert all(len(extras) == 1 for extras in by_uri.values())
    (seed,) = by_uri[rocky_asset(".marts.country_codes", namespace=NS).uri]
    assert seed["rocky_node"] == "seed:country_codes", "the seed ran in the engine's DAG"
    summary = run.get_task_instance("demo.run_all").xcom_pull(task_ids="demo.run_all")
    assert (summary["completed"], summary["failed"], summary["skipped"]) == (13, 0, 1)
    assert summary["nodes_skipped"] == [{"id": "test:fct_daily_orders", "kind": "test", "error": None}]


def test_a_failed_node_fails_the_one_run_task_naming_it_and_records_no_event() -> None:
    dag = dags.project__one_run_failed
    (dags.WORK / "project__one_run_failed.jsonl").unlink(missing_ok=True)
    run = dag.test(logical_date=DAY)
    assert str(run.state) == "failed"
    ti = run.get_task_instance("demo.run_all")
    summary = ti.xcom_pull(task_ids="demo.run_all")
    assert summary["category"] == "engine" and summary["failed"] == 3
    assert {n["id"] for n in summary["nodes_failed"]} == {
        "load:raw_customers",
        "load:raw_orders",
        "replication:raw_payments",
    }
    assert "seed:country_codes" in summary["nodes_completed"], "what landed is still reported"
    assert {
        "id": "transformation:dim_customers",
        "kind": "transformation",
        "error": "upstream failure",
    } in summary["nodes_skipped"]
    assert asset_events("project__one_run_failed", run.run_id) == [], "a failed task records no event"


def test_namespace_isolation_runs_each_node_in_its_own_state_namespace() -> None:
    _, record, _ = _run("project__namespaces")
    spaces = [
        e["argv"][e["argv"].index("--state-namespace") + 1]
        for e in starts(record)
        if "--state-namespace" in e["argv"]
    ]
    # keyed by the task id: a seed's id carries its kind prefix, so it cannot collide with a model's
    assert sorted(spaces) == sorted(
        ["seed__country_codes", "dim_customers", "fct_daily_orders", "fct_payments"]
    )


def test_rocky_dag_runs_the_selected_nodes() -> None:
    _, record, _ = _run("project__rocky_dag")
    assert sorted(run_order(record)) == sorted(
        ["raw_orders", "raw_customers", "country_codes", "dim_customers", "fct_daily_orders"]
    )
    _assert_dependency_order("project__rocky_dag", record)


def test_a_generated_project_runs_in_dependency_order() -> None:
    _, record, events = _run("project__generated")
    _assert_dependency_order("project__generated", record)
    assert all(len(extras) == 1 for uri, extras in events_by_uri(events).items() if "/marts/" in uri)


@pytest.mark.skipif(not dags.CORPUS_DAG.is_file(), reason="shared corpus not present")
def test_the_recorded_dag_json_runs_its_load_pipeline() -> None:
    _, record, _ = _run("project__corpus")
    assert run_order(record) == ["playground"]


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_plain_operator_declaring_its_table_records_one_event_for_it(mode: str) -> None:
    """Before the events fix, the declared outlet and the alias recorded two events for the table."""
    _, _, events = _run(f"project__plain_declared__{mode}")
    uri = rocky_asset(".marts.dim_customers", namespace=NS).uri
    extras = events_by_uri(events)[uri]
    assert len(extras) == 1 and extras[0]["target_table"] == ".marts.dim_customers"


@pytest.mark.parametrize(("name", "catalog"), [("conn", None), ("group", "other")])
def test_the_group_pins_the_naming_it_declared_whatever_the_connection_says(
    name: str, catalog: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection's default_catalog renamed the emitted tables: two events per table, one inactive."""
    extra = {"default_catalog": "conncat"}
    monkeypatch.setenv("AIRFLOW_CONN_ROCKY_CATALOG", json.dumps({"conn_type": "rocky", "extra": extra}))
    dag_id = f"project__catalog__{name}"
    _, _, events = _run(dag_id)
    declared = {o.uri for t in getattr(dags, dag_id).tasks for o in t.outlets if isinstance(o, Asset)}
    by_uri = events_by_uri(events)
    assert set(by_uri) == declared and all(len(extras) == 1 for extras in by_uri.values())
    assert not any("conncat" in uri for uri in by_uri)
    want = rocky_asset(".marts.fct_payments", namespace=NS, default_catalog=catalog).uri
    assert want in by_uri
