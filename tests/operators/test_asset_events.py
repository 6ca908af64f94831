"""Asset events written by real runs, read back from the metadata DB.

The reference is what the engine reports it wrote (the stand-in's record, ``materialized`` events),
never the provider's own summary: a table the provider dropped would be missing from both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow_helpers import asset_events, run_dag

from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.testing import read_record

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")
NAMESPACE = "duckdb:///data/warehouse.duckdb"
MODES = ("sync", "deferrable")


def record_of(dag_id: str) -> Path:
    return Path(os.environ["ROCKY_TEST_WORKDIR"]) / f"{dag_id}.jsonl"


def events_of(name: str, mode: str) -> tuple[object, list[tuple[str, dict]]]:
    """Run the DAG (its record holding this run only); return it and its asset events."""
    dag_id = f"assets__{name}__{mode}"
    record_of(dag_id).unlink(missing_ok=True)
    run = run_dag("rocky_assets", dag_id)
    return run, asset_events(run.dag_id, run.run_id)


def written_tables(dag_id: str) -> list[tuple[str, str | None]]:
    """(table, partition) the engine wrote in the DAG's last run, from the stand-in's record."""
    return sorted(
        (r["table"], r["partition"]) for r in read_record(record_of(dag_id)) if r["event"] == "materialized"
    )


@pytest.mark.parametrize("mode", MODES)
def test_replication_run_emits_one_event_per_table_with_documented_extra(mode: str) -> None:
    run, events = events_of("replication", mode)
    assert run.task_state == "success"
    written = written_tables(run.dag_id)
    assert written and all(partition is None for _, partition in written)
    tables = [table for table, _ in written]
    assert sorted(extra["target_table"] for _, extra in events) == tables
    assert len(events) == run.summary["tables_copied"]
    for uri, extra in events:
        assert uri == rocky_asset(extra["target_table"], namespace=NAMESPACE).uri
        assert extra["strategy"] == "full_refresh"
        assert extra["run_status"] == "Success" and extra["engine_version"] == "1.71.0"
        assert isinstance(extra["rows_copied"], int) and "duration_ms" in extra


@pytest.mark.parametrize("mode", MODES)
def test_each_emitted_uri_is_in_the_summary_and_the_log_beside_its_table(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """0.1.0 logged only a count: a table named one way and scheduled on another starved silently."""
    run, events = events_of("backfill", mode)
    log = capfd.readouterr().out
    listed = run.summary["assets"]
    assert run.summary["assets_total"] == len(listed) == len(events)
    assert sorted((row["uri"], row.get("partition_key")) for row in listed) == sorted(
        (uri, extra.get("partition_key")) for uri, extra in events
    )
    for row in listed:
        assert row["uri"] == rocky_asset(row["table"], namespace=NAMESPACE).uri
        at = f" [{row['partition_key']}]" if "partition_key" in row else ""
        assert f"asset event: {row['table']}{at} -> {row['uri']}" in log


@pytest.mark.parametrize("mode", MODES)
def test_partitioned_backfill_emits_one_event_per_partition(mode: str) -> None:
    run, events = events_of("backfill", mode)
    assert run.task_state == "success"
    keys = sorted(extra["partition_key"] for _, extra in events if "partition_key" in extra)
    assert keys == ["2026-04-04", "2026-04-05", "2026-04-06", "2026-04-07", "2026-04-08"]
    partitioned = [(uri, extra) for uri, extra in events if "partition_key" in extra]
    assert len({uri for uri, _ in partitioned}) == 1, "one table, five partitions"
    assert all({"partition_start", "partition_end", "sql_hash"} <= set(extra) for _, extra in partitioned)


@pytest.mark.parametrize("mode", MODES)
def test_partial_run_emits_events_only_for_tables_that_landed(mode: str) -> None:
    run, events = events_of("partial", mode)
    assert run.task_state == "success" and run.summary["outcome"] == "partial"
    landed = [table for table, _ in written_tables(run.dag_id)]
    assert landed and sorted(extra["target_table"] for _, extra in events) == landed
    assert run.summary["tables_failed"] > 0
    assert all(extra["run_status"] == "PartialFailure" for _, extra in events)


@pytest.mark.parametrize("mode", MODES)
def test_a_declared_outlet_that_did_not_land_in_a_partial_run_gets_no_event(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Airflow records every declared outlet of a successful task; a partial run succeeds."""
    run = run_dag("rocky_assets", f"assets__partial_outlets__{mode}")
    log = capfd.readouterr().out
    assert run.task_state == "success" and run.summary["outcome"] == "partial"
    landed = rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE).uri
    missing = rocky_asset("warehouse.staging__orders.order_items", namespace=NAMESPACE).uri
    uris = [uri for uri, _ in asset_events(run.dag_id, run.run_id)]
    assert uris == [landed]
    assert f"No asset event for declared outlet {missing}: it did not land in this partial run" in log


@pytest.mark.parametrize("mode", MODES)
def test_failed_run_emits_no_event(mode: str) -> None:
    run, events = events_of("failed", mode)
    assert run.task_state == "failed"
    assert events == []


def test_static_outlet_gets_the_matching_extra() -> None:
    run = run_dag("rocky_assets", "assets__static_outlet")
    events = asset_events(run.dag_id, run.run_id)
    target = rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE).uri
    matching = [extra for uri, extra in events if uri == target]
    assert matching and all(extra["target_table"] == "warehouse.staging__orders.orders" for extra in matching)
    assert any(extra.get("strategy") == "full_refresh" and "rows_copied" in extra for extra in matching)


@pytest.mark.parametrize("mode", MODES)
def test_pipes_run_logs_messages_and_merges_materializations_without_duplicates(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    run, events = events_of("pipes", mode)
    log = capfd.readouterr().out
    assert run.task_state == "success"
    assert "rocky pipes: rocky run starting" in log, "Pipes `log` messages reach the task log"
    assert "rocky pipes: check drift on" in log, "drift actions arrive as Pipes check reports"
    pipes = run.summary["pipes"]
    written = written_tables(run.dag_id)
    assert pipes["problems"] == 0 and pipes["checks_total"] >= 1
    assert pipes["materializations_reported"] == len(written), "every written table reported over Pipes"
    assert run.summary["materializations_total"] == len(written), "stdout's tables: each one the engine wrote"
    uris = sorted(uri for uri, _ in events)
    expected = sorted(rocky_asset(table, namespace=NAMESPACE).uri for table, _ in written)
    assert uris == expected, "one event per written table: Pipes and stdout merged, no duplicates"


def test_an_invalid_literal_namespace_fails_at_parse_time() -> None:
    """0.1.0 ran the engine, logged one ERROR, and emitted no asset event: downstream DAGs starved."""
    from airflow_provider_rocky.operators.rocky import RockyOperator

    with pytest.raises(ValueError, match=r"t: asset_namespace is invalid: .*credentials"):
        RockyOperator(task_id="t", asset_namespace="snowflake://user:pw@acct")


def _engine_printing(tmp_path, result) -> str:  # type: ignore[no-untyped-def]
    """An executable that prints one fixed RunResult, whatever it is asked."""
    (tmp_path / "stdout.json").write_text(result.model_dump_json())
    engine = tmp_path / "engine"
    engine.write_text(f"#!/bin/sh\ncat {tmp_path / 'stdout.json'}\n")
    engine.chmod(0o755)
    return str(engine)


@pytest.mark.parametrize("where", ["operator", "connection"])
def test_default_catalog_names_tables_the_engine_gave_no_catalog(
    where: str,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import json

    from airflow.sdk.execution_time.context import OutletEventAccessors
    from run_results import run_result

    from airflow_provider_rocky.operators.rocky import RockyOperator

    result = run_result(
        [
            {
                "asset_key": ["", "marts", "fct_orders"],
                "rows_copied": 3,
                "duration_ms": 1,
                "metadata": {"strategy": "full_refresh", "target_table_full_name": ".marts.fct_orders"},
            }
        ]
    )
    naming = {"asset_namespace": "snowflake://acct", "default_catalog": "ANALYTICS"}
    extra = {"binary_path": _engine_printing(tmp_path, result), **(naming if where == "connection" else {})}
    monkeypatch.setenv("AIRFLOW_CONN_ROCKY_DEFAULT", json.dumps({"conn_type": "rocky", "extra": extra}))
    op = RockyOperator(task_id="t", project_dir=str(tmp_path), **(naming if where == "operator" else {}))

    class TI:
        dag_id, run_id, task_id, map_index, try_number, start_date = "d", "r", "t", -1, 1, None

        def xcom_push(self, key: str, value: object) -> None:
            pass

    op.execute({"ti": TI(), "outlet_events": OutletEventAccessors()})  # type: ignore[arg-type]
    assert [spec.uri for spec in op._asset_specs] == ["snowflake://acct/ANALYTICS/marts/fct_orders"]
