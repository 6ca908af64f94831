"""``shape="watch"`` through ``dag.test()`` on a real metadata DB: states, retries, clears, asset events.

What the engine did is read from the stand-in's own record (``ROCKY_STANDIN_RECORD``: one ``start``
per engine process, with its argv) and from the DuckDB file it wrote; never from the provider's
summary. ``dag.test()`` runs tasks one at a time in one thread, so the producer has always ended
when a node task acts: liveness is tested in ``tests/triggers/test_watch_trigger.py`` and ``make e2e``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import rocky_watch as dags
from airflow_helpers import asset_event_rows, clear_and_continue, task_states, xcom_of
from project_helpers import starts

from airflow_provider_rocky.assets import rocky_asset

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")

NS = dags.NAMESPACE
DECLARED = {  # node task → the table it declares
    "seed__country_codes": ".marts.country_codes",
    "dim_customers": ".marts.dim_customers",
    "fct_daily_orders": ".marts.fct_daily_orders",
    "fct_payments": ".marts.fct_payments",
    "snapshot__customers_history": ".snapshots.customers_history",
}
CONTAINED = ("fct_daily_orders", "snapshot__customers_history", "quality__orders_quality")


def _fresh(dag_id: str, *, config: bool = True) -> Path:
    project = dags.project(dag_id)
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    if config:
        (project / "rocky.toml").write_text(dags.ROCKY_TOML)
    dags.record(dag_id).unlink(missing_ok=True)
    return project


def _run(dag_id: str, *, config: bool = True) -> tuple[Any, dict[str, tuple[str | None, int]]]:
    _fresh(dag_id, config=config)
    run = getattr(dags, dag_id).test()
    return run, task_states(dag_id, run.run_id)


def _engine_runs(dag_id: str) -> list[list[str]]:
    """The argv of every engine process the DAG started (``--version`` probes left out)."""
    return [e["argv"] for e in starts(dags.record(dag_id)) if "--version" not in e["argv"]]


def _alone(runs: list[list[str]]) -> list[str]:
    """The node each run-alone built (``--model``'s value, else ``--pipeline``'s, a seed's ``--filter``)."""
    out = []
    for argv in runs:
        if "--dag" in argv:
            continue
        flag = "--filter" if "seed" in argv else "--model" if "--model" in argv else "--pipeline"
        out.append(argv[argv.index(flag) + 1])
    return out


def _tables(dag_id: str) -> set[str]:
    duckdb = pytest.importorskip("duckdb")
    path = dags.project(dag_id) / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
    return {row[0] for row in rows}


def _uri(table: str) -> str:
    return rocky_asset(table, namespace=NS).uri


@pytest.mark.parametrize("dag_id", ["watch__demo", "watch__demo_deferrable"])
def test_one_engine_run_one_task_per_node_one_event_per_table_in_its_own_task(
    dag_id: str, capfd: pytest.CaptureFixture[str]
) -> None:
    run, states = _run(dag_id)
    assert str(run.state) == "success"
    assert {state for state, _ in states.values()} == {"success"}
    runs = _engine_runs(dag_id)
    assert len(runs) == 1 and runs[0][runs[0].index("run") :][:2] == ["run", "--dag"], runs
    assert {"marts.dim_customers", "marts.fct_daily_orders", "snapshots.customers_history"} <= _tables(dag_id)
    events = asset_event_rows(dag_id, run.run_id)
    assert sorted(uri for uri, _, _ in events) == sorted(_uri(t) for t in DECLARED.values()), "once each"
    for uri, source, extra in events:
        task = next(name for name, table in DECLARED.items() if _uri(table) == uri)
        assert source == f"demo.{task}", "recorded by the node's own task"
        assert extra["command"] == "run --dag" and extra["rocky_node"].endswith(task.split("__")[-1])
        assert str(extra["engine_run_id"]).startswith("run-") or task.startswith("seed__")
    summary = xcom_of(dag_id, run.run_id, "demo.dim_customers")
    assert summary["status"] == "completed" and summary["node"] == "transformation:dim_customers"
    logged = capfd.readouterr().out
    assert any(
        "executing model model=dim_customers" in line and "RockyWatchNodeOperator" in line
        for line in logged.splitlines()
    ), "the node task's log shows its node's engine lines"


def test_a_failing_node_fails_its_task_its_descendants_are_contained_and_nothing_unbuilt_gets_an_event() -> (
    None
):
    run, states = _run("watch__failing")
    assert str(run.state) == "failed"
    assert states["dim_customers"] == ("failed", 1)
    assert {name: states[name][0] for name in CONTAINED} == dict.fromkeys(CONTAINED, "upstream_failed")
    assert states["run_dag"][0] == states["fct_payments"][0] == states["seed__country_codes"][0] == "success"
    assert len(_engine_runs("watch__failing")) == 1, "the failure was the engine's, reported, not re-run"
    summary = xcom_of("watch__failing", run.run_id, "demo.dim_customers")
    assert summary["status"] == "failed" and summary["category"] == "engine"
    assert "1 model(s) failed (run_id: run-" in summary["error"]
    events = {uri for uri, _, _ in asset_event_rows("watch__failing", run.run_id)}
    assert events == {_uri(".marts.country_codes"), _uri(".marts.fct_payments")}
    tables = _tables("watch__failing")
    assert "marts.dim_customers" not in tables and "marts.fct_daily_orders" not in tables


def test_a_retry_runs_the_failed_node_alone_then_what_the_engine_skipped_behind_it() -> None:
    run, states = _run("watch__retry")
    assert str(run.state) == "success"
    assert states["dim_customers"] == ("success", 2), "try 1 failed on the engine's report, try 2 ran alone"
    runs = _engine_runs("watch__retry")
    assert sum("--dag" in argv for argv in runs) == 1, "the producer was not run again"
    assert sorted(_alone(runs)) == [
        "customers_history",
        "dim_customers",
        "fct_daily_orders",
        "orders_quality",
    ]
    alone = next(argv for argv in runs if "dim_customers" in argv)
    assert alone[alone.index("run") :] == ["run", "--model", "dim_customers", "--pipeline", "marts"]
    events = [uri for uri, _, _ in asset_event_rows("watch__retry", run.run_id)]
    assert sorted(events) == sorted(_uri(t) for t in DECLARED.values()), "one event per table, none twice"
    assert "marts.dim_customers" in _tables("watch__retry")


def test_a_producer_that_cannot_start_the_engine_fails_every_node_task_with_its_error() -> None:
    run, states = _run("watch__no_binary")
    assert str(run.state) == "failed"
    assert states.pop("run_dag")[0] == "failed"
    assert {state for state, _ in states.values()} <= {"failed", "upstream_failed"}
    roots = ("load__raw_orders", "load__raw_customers", "replication__raw_payments", "seed__country_codes")
    for name in roots:
        assert states[name][0] == "failed", name
        assert xcom_of("watch__no_binary", run.run_id, f"demo.{name}")["category"] == "binary_missing"
    assert asset_event_rows("watch__no_binary", run.run_id) == []


def test_an_engine_that_refuses_the_project_fails_every_node_task_never_green() -> None:
    run, states = _run("watch__no_config", config=False)
    assert str(run.state) == "failed"
    assert "success" not in {state for state, _ in states.values()}
    summary = xcom_of("watch__no_config", run.run_id, "demo.seed__country_codes")
    # the engine's `failed to load config` is a usage error: the producer's category, on every node
    assert summary["status"] == "failed" and summary["category"] == "usage"
    assert len(_engine_runs("watch__no_config")) == 1
    assert asset_event_rows("watch__no_config", run.run_id) == []


def test_clearing_a_failed_node_runs_it_alone_without_the_producer() -> None:
    run, states = _run("watch__clear")
    assert states["dim_customers"] == ("failed", 1)
    dag = dags.watch__clear
    state = clear_and_continue(dag, run.run_id, ["demo.dim_customers"], downstream=True)
    assert state == "success"
    after = task_states("watch__clear", run.run_id)
    assert after["dim_customers"] == ("success", 2) and after["run_dag"] == ("success", 1)
    runs = _engine_runs("watch__clear")
    assert sum("--dag" in argv for argv in runs) == 1
    assert sorted(_alone(runs)) == [
        "customers_history",
        "dim_customers",
        "fct_daily_orders",
        "orders_quality",
    ]


def test_clearing_the_producer_runs_the_project_again_and_the_nodes_take_the_new_report() -> None:
    run, _ = _run("watch__demo")
    state = clear_and_continue(dags.watch__demo, run.run_id, ["demo.run_dag"], downstream=True)
    assert state == "success"
    after = task_states("watch__demo", run.run_id)
    assert {try_number for _, try_number in after.values()} == {2}
    runs = _engine_runs("watch__demo")
    assert [("--dag" in argv) for argv in runs] == [True, True], "the project again; no node run alone"


def test_a_node_run_alone_that_finds_the_state_file_held_asks_again_without_spending_a_retry() -> None:
    run, states = _run("watch__busy")
    assert str(run.state) == "success"
    assert states["dim_customers"] == ("success", 2), "one retry: the one the engine's failure spent"
    pids = {e["pid"]: e["argv"] for e in starts(dags.record("watch__busy")) if "dim_customers" in e["argv"]}
    alone = [pid for pid, argv in pids.items() if "--dag" not in argv]
    from airflow_provider_rocky.testing import read_record

    ends = {e["pid"]: e["exit_code"] for e in read_record(dags.record("watch__busy")) if e["event"] == "end"}
    codes = [ends[pid] for pid in alone]
    assert len(codes) >= 2 and codes[-1] == 0 and set(codes[:-1]) == {1}, codes
    assert sum("--dag" in argv for argv in _engine_runs("watch__busy")) == 1
