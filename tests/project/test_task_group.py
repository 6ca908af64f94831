"""RockyTaskGroup / RockyDAG rendered at parse time: tasks, wiring, declared outlets, options, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset, AssetAlias
from project_helpers import (
    CORPUS_DAG,
    START,
    demo_manifest,
    forbid_spawns_and_lookups,
    plain,
    runs,
    synthetic_manifest,
    write_manifest,
)

from airflow_provider_rocky import RockyDAG, RockyTaskGroup
from airflow_provider_rocky._project.manifest import ManifestError
from airflow_provider_rocky._project.partitions import interval_args
from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.operators.run_dag import RockyRunDagOperator
from airflow_provider_rocky.operators.seed import RockySeedOperator

NS = "duckdb:///data/wh.duckdb"


def _render(manifest: Path, **kwargs: Any) -> tuple[DAG, dict[str, Any]]:
    with DAG("render", schedule="@daily", start_date=START) as dag:
        RockyTaskGroup("proj", manifest=manifest, **kwargs)
    tasks = {t.task_id.removeprefix("proj."): t for t in dag.tasks}
    for name, task in tasks.items():  # a seed node loads with rocky seed; one_run is rocky run --dag
        kind = RockySeedOperator if name.startswith("seed__") else RockyOperator
        assert isinstance(task, RockyRunDagOperator if kwargs.get("shape") == "one_run" else kind), name
    return dag, tasks


def _declared(task: RockyOperator) -> list[str]:
    return [o.uri for o in task.outlets if isinstance(o, Asset)]


def test_the_demo_project_renders_one_wired_task_per_materializing_node(tmp_path: Path) -> None:
    _, tasks = _render(demo_manifest(tmp_path), asset_namespace=NS)
    assert sorted(tasks) == sorted(
        [
            "load__raw_orders",
            "load__raw_customers",
            "replication__raw_payments",
            "seed__country_codes",
            "dim_customers",
            "fct_daily_orders",
            "fct_payments",
            "snapshot__customers_history",
            "quality__orders_quality",
        ]
    )
    assert tasks["fct_daily_orders"].upstream_task_ids == {"proj.load__raw_orders", "proj.dim_customers"}
    assert tasks["quality__orders_quality"].upstream_task_ids == {"proj.fct_daily_orders"}
    assert runs(tasks["dim_customers"]) == ("dim_customers", "marts")
    assert (plain(tasks["seed__country_codes"].seed), plain(tasks["seed__country_codes"].pipeline)) == (
        "country_codes",
        None,
    )
    assert runs(tasks["load__raw_orders"]) == (None, "raw_orders")
    for name, table in [
        ("dim_customers", ".marts.dim_customers"),
        ("snapshot__customers_history", ".snapshots.customers_history"),
        ("seed__country_codes", ".marts.country_codes"),
    ]:
        assert _declared(tasks[name]) == [rocky_asset(table, namespace=NS).uri]
        assert tasks[name].asset_namespace == NS, "events name the declared assets"
    assert _declared(tasks["load__raw_orders"]) == [] and _declared(tasks["quality__orders_quality"]) == []
    assert all(any(isinstance(o, AssetAlias) for o in t.outlets) for t in tasks.values()), "undeclared tables"


def test_declared_assets_are_the_ones_rocky_asset_gives() -> None:
    ns = "snowflake://myorg-acct"
    nodes = [
        {
            "id": "transformation:t",
            "kind": "transformation",
            "label": "t",
            "target": {"catalog": "DB", "schema": "S", "table": "T"},
        }
    ]
    _, tasks = _render(write_manifest(Path(_tmp()), nodes), asset_namespace=ns)
    (asset,) = [o for o in tasks["t"].outlets if isinstance(o, Asset)]
    assert asset == rocky_asset("DB.S.T", namespace=ns)


def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="rocky-project-")


def test_operator_args_reach_every_task_and_node_args_replace_them(tmp_path: Path) -> None:
    args = {
        "binary_path": "/opt/rocky",
        "rocky_conn_id": "rocky_prod",
        "deferrable": True,
        "retries": 3,
        "env_vars": {"TOKEN": "x"},
        "timeout_seconds": 600,
    }
    _, tasks = _render(
        demo_manifest(tmp_path), operator_args=args, node_args={"fct_payments": {"timeout_seconds": 60}}
    )
    for task in tasks.values():
        assert (task.binary_path, task.rocky_conn_id, task.deferrable, task.retries) == (
            "/opt/rocky",
            "rocky_prod",
            True,
            3,
        )
        assert task.env_vars == {"TOKEN": "x"}
    assert tasks["fct_payments"].timeout_seconds == 60 and tasks["dim_customers"].timeout_seconds == 600
    assert tasks["dim_customers"].asset_namespace == "rocky://default", "no connection lookup: the default"


def test_a_time_interval_node_runs_the_data_interval_at_its_grain(tmp_path: Path) -> None:
    _, tasks = _render(demo_manifest(tmp_path))
    fct = tasks["fct_daily_orders"]
    assert (fct.partition_from, fct.partition_to) == tuple(interval_args("day").values())
    assert all(
        getattr(t, "partition_from", None) is None for n, t in tasks.items() if n != "fct_daily_orders"
    )


def test_explicit_partition_arguments_win_and_apply_to_partitioned_nodes_only(tmp_path: Path) -> None:
    manifest = demo_manifest(tmp_path)
    _, tasks = _render(manifest, operator_args={"partition": "{{ ds }}"})
    assert (
        tasks["fct_daily_orders"].partition == "{{ ds }}" and tasks["fct_daily_orders"].partition_from is None
    )
    assert tasks["dim_customers"].partition is None
    _, tasks = _render(manifest, node_args={"fct_daily_orders": {"latest": True}})
    assert tasks["fct_daily_orders"].latest and tasks["fct_daily_orders"].partition_from is None
    _, tasks = _render(manifest, partitions="engine")
    assert (tasks["fct_daily_orders"].partition_from, tasks["fct_daily_orders"].partition) == (None, None)


def test_every_task_of_one_state_file_shares_one_pool(tmp_path: Path) -> None:
    manifest = demo_manifest(tmp_path)
    _, tasks = _render(manifest)
    assert {t.pool for t in tasks.values()} == {"rocky_state__rocky_default"}
    _, other = _render(manifest, operator_args={"rocky_conn_id": "rocky_prod", "project_dir": "/srv/p"})
    (name,) = {t.pool for t in other.values()}
    assert name.startswith("rocky_state__rocky_prod__") and len(name) == len("rocky_state__rocky_prod__") + 8
    _, mine = _render(manifest, state_pool="rocky_writer", operator_args={"pool": "ignored_here"})
    assert {t.pool for t in mine.values()} == {"ignored_here"}, "a pool the user gave wins"


def test_namespace_isolation_gives_each_node_its_own_state(tmp_path: Path) -> None:
    manifest = demo_manifest(tmp_path)
    _, tasks = _render(manifest, state_isolation="namespace", operator_args={"state_namespace": "prod"})
    spaces = {name: t.state_namespace for name, t in tasks.items()}
    assert spaces["dim_customers"] == "prod__dim_customers" and len(set(spaces.values())) == len(spaces)
    assert {t.pool for t in tasks.values()} == {"default_pool"}
    with pytest.raises(ValueError, match=r"state_isolation='namespace'.*state_path"):
        _render(manifest, state_isolation="namespace", operator_args={"state_path": "s.redb"})


def test_the_one_run_shape_declares_every_table_on_one_task(tmp_path: Path) -> None:
    _, tasks = _render(demo_manifest(tmp_path), shape="one_run", asset_namespace=NS)
    (task,) = tasks.values()
    assert task.task_id == "proj.run_all" and task.command.name == "run_dag"
    tables = [
        ".marts.country_codes",
        ".marts.dim_customers",
        ".marts.fct_daily_orders",
        ".marts.fct_payments",
        ".snapshots.customers_history",
    ]
    assert sorted(_declared(task)) == sorted(rocky_asset(t, namespace=NS).uri for t in tables)
    assert (task.partition_from, task.partition_to) == tuple(interval_args("day").values())
    assert task.node_outlets["seed:country_codes"] == [rocky_asset(".marts.country_codes", namespace=NS).uri]
    assert set(task.node_outlets) == {
        "seed:country_codes",
        "transformation:dim_customers",
        "transformation:fct_daily_orders",
        "transformation:fct_payments",
        "snapshot:customers_history",
    }
    with pytest.raises(ValueError, match="one_run"):
        _render(demo_manifest(tmp_path), shape="one_run", select=["kind:seed"])


def test_the_one_run_shape_is_the_engines_own_dag_run(tmp_path: Path) -> None:
    """0.1.0 rendered `rocky run --models models --all`: one pipeline plus the models, never the seeds,
    quality, snapshot or load pipelines (and refused on a multi-pipeline project)."""
    from airflow_provider_rocky._engine.args.dag_run import DagRunArgs
    from airflow_provider_rocky._engine.command import RockySettings

    quiet = {"parallel": 2, "fail_on_partial": False, "filter": None}  # unset values are not refused
    _, tasks = _render(demo_manifest(tmp_path), shape="one_run", operator_args=quiet)
    (task,) = tasks.values()
    args = DagRunArgs(partition_from="2026-04-05", partition_to="2026-04-05", parallel=task.parallel)
    assert args.argv(RockySettings()) == [
        "run",
        "--dag",
        "--from=2026-04-05",
        "--to=2026-04-05",
        "--parallel=2",
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"filter": "tenant=acme"}, "filter"),
        ({"pipeline_filter_typo": None, "governance_override": {"grants": []}}, "governance_override"),
        ({"shadow_suffix": "_pr"}, "shadow_suffix"),
        ({"idempotency_key": "k"}, "idempotency_key"),
        ({"defer_upstream": True}, "defer_upstream"),
        ({"resume_latest": True}, "resume_latest"),
        ({"fail_on_partial": True}, "fail_on_partial"),
    ],
)
def test_one_run_refuses_what_rocky_run_dag_ignores_or_refuses(
    tmp_path: Path, args: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=f"rocky run --dag`, which does not take {named}"):
        _render(demo_manifest(tmp_path), shape="one_run", operator_args=args)


def test_a_seed_node_gets_the_task_arguments_but_not_the_run_arguments(tmp_path: Path) -> None:
    args = {"retries": 4, "filter": "source=orders", "parallel": 2, "seeds_dir": "data/seeds"}
    _, tasks = _render(demo_manifest(tmp_path), operator_args=args)
    seed = tasks["seed__country_codes"]
    assert (seed.retries, seed.seeds_dir, plain(seed.seed)) == (4, "data/seeds", "country_codes")
    assert not hasattr(seed, "filter") and not hasattr(tasks["dim_customers"], "seeds_dir")
    assert (tasks["dim_customers"].filter, tasks["dim_customers"].parallel) == ("source=orders", 2)
    _, tasks = _render(demo_manifest(tmp_path), node_args={"country_codes": {"pipeline": "raw_orders"}})
    assert tasks["seed__country_codes"].pipeline == "raw_orders", "a multi-pipeline project names one"
    with pytest.raises(ValueError, match=r"sets filter, which a seed node \(rocky seed\) does not take"):
        _render(demo_manifest(tmp_path), node_args={"country_codes": {"filter": "a=b"}})
    with pytest.raises(ValueError, match="must not set 'pipeline'"):
        _render(demo_manifest(tmp_path), node_args={"dim_customers": {"pipeline": "other"}})


def test_shadow_never_reaches_a_node_the_engine_would_write_to_production(tmp_path: Path) -> None:
    """The engine refuses --shadow for snapshot and load pipelines (run.rs ~2306, ~2392); rocky seed has
    no shadow at all. 0.1.0 passed shadow_suffix from operator_args to every node."""
    manifest = demo_manifest(tmp_path)
    with pytest.raises(ValueError, match=r"'seed:country_codes', 'snapshot:customers_history'") as err:
        _render(manifest, operator_args={"shadow_suffix": "_pr42"})
    assert "load:" not in str(err.value), "a replication pipeline's load node shadows"
    _, tasks = _render(
        manifest, operator_args={"shadow_suffix": "_pr42"}, exclude=["kind:seed", "kind:snapshot"]
    )
    assert (
        tasks["dim_customers"].shadow_suffix == "_pr42" and tasks["load__raw_orders"].shadow_suffix == "_pr42"
    )
    off = {"country_codes": {"shadow_suffix": None}, "snapshot:customers_history": {"shadow_suffix": None}}
    _, tasks = _render(manifest, operator_args={"shadow_suffix": "_pr42"}, node_args=off)
    assert tasks["snapshot__customers_history"].shadow_suffix is None
    load_pipeline = [{"id": "load:files", "kind": "load", "label": "files", "pipeline": "files"}]
    with pytest.raises(ValueError, match="'load:files'"):
        _render(write_manifest(tmp_path, load_pipeline, name="l.json"), operator_args={"shadow_suffix": "_x"})


def test_rocky_dag_renders_the_same_tasks_without_a_group(tmp_path: Path) -> None:
    dag = RockyDAG(
        "as_dag", manifest=demo_manifest(tmp_path), schedule=None, start_date=START, exclude=["kind:quality"]
    )
    assert "dim_customers" in dag.task_dict and "quality__orders_quality" not in dag.task_dict
    assert dag.task_dict["fct_daily_orders"].upstream_task_ids == {"load__raw_orders", "dim_customers"}


@pytest.mark.skipif(not CORPUS_DAG.is_file(), reason="shared corpus not present")
def test_the_recorded_dag_json_renders() -> None:
    _, tasks = _render(CORPUS_DAG)
    assert list(tasks) == ["load__playground"]
    assert runs(tasks["load__playground"])[1] == "playground" and _declared(tasks["load__playground"]) == []


def test_a_thousand_node_manifest_renders(tmp_path: Path) -> None:
    _, tasks = _render(synthetic_manifest(tmp_path, 1000))
    assert len(tasks) == 960
    expected = {"proj.m00026", "proj.m00024", "proj.m00023", "proj.m00022"}
    assert tasks["m00027"].upstream_task_ids == expected, "m00025 is ephemeral: its upstream instead"


def test_parse_time_spawns_nothing_and_looks_up_no_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_spawns_and_lookups(monkeypatch)
    _, tasks = _render(demo_manifest(tmp_path), operator_args={"rocky_conn_id": "rocky_prod"})
    assert len(tasks) == 9


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"operator_args": {"model": "x"}}, "operator_args must not set 'model'"),
        (
            {"node_args": {"dim_customers": {"pipeline": "p"}}},
            "node_args\\['dim_customers'\\] must not set 'pipeline'",
        ),
        ({"shape": "graph"}, "shape='graph'"),
        ({"partitions": "latest"}, "partitions='latest'"),
        ({"state_isolation": "lock"}, "state_isolation='lock'"),
        (
            {"node_args": {"fct_dialy_orders": {"retries": 1}}},
            "node_args names no node of .*'fct_dialy_orders'",
        ),
    ],
)
def test_bad_options_are_refused_naming_them(tmp_path: Path, kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _render(demo_manifest(tmp_path), **kwargs)


def test_a_table_the_namespace_cannot_name_is_refused_naming_the_node(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"node 'seed:country_codes': table '\.marts\.country_codes' has no catalog"
    ):
        _render(demo_manifest(tmp_path), asset_namespace="snowflake://acct")


def test_a_group_outside_a_dag_is_refused(tmp_path: Path) -> None:
    with pytest.raises((ValueError, RuntimeError), match=r"inside a (DAG|dag)"):
        RockyTaskGroup("proj", manifest=demo_manifest(tmp_path))


def test_a_missing_or_broken_manifest_is_a_dag_import_error_naming_it(tmp_path: Path) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    broken = tmp_path / "broken.json"
    broken.write_text('{"command": "dag", "nodes": [')
    dag_file = tmp_path / "dags" / "rocky_project_dag.py"
    dag_file.parent.mkdir()
    dag_file.write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_rocky import RockyTaskGroup\n"
        "for name in ('missing', 'broken'):\n"
        "    with DAG(f'p_{name}', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        f"        RockyTaskGroup('p', manifest={str(tmp_path)!r} + f'/{{name}}.json')\n"
    )
    bag = DagBag(dag_folder=str(dag_file.parent))
    (message,) = bag.import_errors.values()
    assert "ManifestError" in message and f"{tmp_path}/missing.json: the file does not exist" in message
    assert "rocky-airflow-manifest" in message
    with pytest.raises(ManifestError, match=r"broken\.json: is not JSON"):
        _render(broken)


def test_the_wiring_equals_set_upstreams(tmp_path: Path) -> None:
    """build.wire fills the dependency sets directly; the result must be what set_upstream gives."""
    manifest = synthetic_manifest(tmp_path, 300)
    dag, tasks = _render(manifest)
    with DAG("reference", schedule=None, start_date=START) as reference:
        RockyTaskGroup("proj", manifest=manifest)
    for task in reference.tasks:  # rewire the reference through Airflow's own API
        task.upstream_task_ids.clear()
        task.downstream_task_ids.clear()
    mine = {t.task_id: (set(t.upstream_task_ids), set(t.downstream_task_ids)) for t in dag.tasks}
    for task_id, (ups, _) in mine.items():
        reference.task_dict[task_id].set_upstream([reference.task_dict[u] for u in sorted(ups)])
    theirs = {t.task_id: (set(t.upstream_task_ids), set(t.downstream_task_ids)) for t in reference.tasks}
    assert mine == theirs and sum(len(u) for u, _ in mine.values()) > 500
    assert set(tasks["m00004"].upstream_list) == {tasks["m00001"], tasks["m00002"], tasks["m00003"]}


def test_a_relative_manifest_path_is_relative_to_the_dag_file(tmp_path: Path) -> None:
    import runpy

    demo_manifest(tmp_path)
    dag_file = tmp_path / "project_dag.py"
    dag_file.write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_rocky import RockyTaskGroup\n"
        "with DAG('relative', schedule=None, start_date=datetime(2026, 1, 1)) as dag:\n"
        "    RockyTaskGroup('p', manifest='manifest.json')\n"
    )
    assert len(runpy.run_path(str(dag_file))["dag"].tasks) == 9, "found beside the DAG file, not in the cwd"


def test_rocky_dag_reads_a_relative_manifest_beside_its_dag_file_too(tmp_path: Path) -> None:
    """DAG takes its fileloc from its caller's frame: RockyDAG's own __init__ (the package folder)."""
    import runpy

    demo_manifest(tmp_path)
    dag_file = tmp_path / "project_dag.py"
    dag_file.write_text(
        "from airflow_provider_rocky import RockyDAG\n"
        "dag = RockyDAG('relative_dag', manifest='manifest.json', schedule=None)\n"
    )
    dag = runpy.run_path(str(dag_file))["dag"]
    assert len(dag.tasks) == 9 and dag.fileloc == str(dag_file)


def test_nodes_sharing_a_name_get_their_own_state_namespace_and_node_args_by_name_are_refused(
    tmp_path: Path,
) -> None:
    """A seed and a model named orders shared --state-namespace=orders (parallel, one lock)."""
    from project_helpers import write_manifest

    nodes = [
        {"id": "seed:orders", "kind": "seed", "label": "orders", "pipeline": "seeds"},
        {"id": "transformation:orders", "kind": "transformation", "label": "orders"},
    ]
    manifest = write_manifest(tmp_path, nodes)
    _, tasks = _render(manifest, state_isolation="namespace")
    assert len({task.state_namespace for task in tasks.values()}) == 2
    with pytest.raises(ValueError, match=r"node_args\['orders'\] names 2 nodes .*: key it by node id"):
        _render(manifest, node_args={"orders": {"retries": 1}})
    _, tasks = _render(manifest, node_args={"seed:orders": {"retries": 5}})
    assert sorted(task.retries for task in tasks.values())[-1] == 5


def test_a_task_id_too_long_with_its_group_prefix_names_the_node_and_the_group(tmp_path: Path) -> None:
    """Airflow's bare 'The key has to be less than 250 characters' named neither."""
    from project_helpers import write_manifest

    name = "m" * 195
    manifest = write_manifest(
        tmp_path, [{"id": f"transformation:{name}", "kind": "transformation", "label": name}]
    )
    with (
        DAG("long", schedule=None, start_date=START),
        pytest.raises(ValueError, match="shorten the group_id"),
    ):
        RockyTaskGroup("g" * 60, manifest=manifest)


def test_a_node_whose_task_id_had_to_be_hashed_shows_its_own_name(tmp_path: Path) -> None:
    from project_helpers import write_manifest

    nodes = [{"id": "transformation:café_rapport", "kind": "transformation", "label": "café_rapport"}]
    _, tasks = _render(write_manifest(tmp_path, nodes))
    ((task_id, task),) = tasks.items()
    assert task_id != "café_rapport" and task.task_display_name == "café_rapport"


def test_a_run_triggered_without_a_logical_date_renders_its_partition_from_run_after() -> None:
    """Such a run's context has no data_interval_* keys; Airflow's StrictUndefined failed the render."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from airflow.sdk.execution_time import macros

    env = DAG("render_env", schedule=None, start_date=START).get_template_env()
    context = {
        "dag_run": SimpleNamespace(run_after=datetime(2026, 4, 5, 13, 30, tzinfo=UTC)),
        "macros": macros,
    }
    rendered = {k: env.from_string(v).render(**context) for k, v in interval_args("hour").items()}
    assert rendered == {"partition_from": "2026-04-05T13", "partition_to": "2026-04-05T13"}
