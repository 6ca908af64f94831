"""Everyday Airflow semantics through ``dag.test()`` in both modes (issue 20; tests/dags/rocky_everyday.py).

Each test fails on the release before (recorded in the issue's closing note): retries ignored, a
freshness gate that cannot wait, a verdict that changed with ``stderr_tail_lines``, configuration
masked out of XCom, an event for a failed declared table, a log line that miscounted the events.
What the engine did is read from the stand-in's own record (``ROCKY_STANDIN_RECORD``), not from
the provider's summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import asset_events, run_dag

from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")
WORK = Path(os.environ["ROCKY_TEST_WORKDIR"])
MODES = ("sync", "deferrable")
NAMESPACE = "rocky://everyday"


def run(dag_id: str) -> Any:
    (WORK / f"{dag_id}.jsonl").unlink(missing_ok=True)
    return run_dag("rocky_everyday", dag_id)


def engine_runs(dag_id: str) -> list[tuple[str, int]]:
    """(scenario, exit code) of every engine run the stand-in recorded for this DAG, in order."""
    records = read_record(WORK / f"{dag_id}.jsonl")
    scenarios = {
        r["pid"]: r["env"]["ROCKY_STANDIN_SCENARIO"]
        for r in records
        if r["event"] == "start" and "--version" not in r["argv"]
    }
    ends = [r for r in records if r["event"] == "end" and r["pid"] in scenarios]
    return [(scenarios[r["pid"]], r["exit_code"]) for r in ends]


def tries(dag_id: str, run_id: str) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).one()
        return int(ti.try_number)


# -- item 1: fatal only when a retry cannot help ----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("scenario", "category"), [("network_failure", "adapter"), ("hard_failure", "engine")]
)
def test_a_failure_not_known_to_be_permanent_is_retried(scenario: str, category: str, mode: str) -> None:
    """Before: ``RockyEngineError`` was an ``AirflowFailException``: one try, ``retries`` ignored."""
    dag_id = f"everyday__retried__{scenario}__{mode}"
    result = run(dag_id)
    assert (result.task_state, tries(dag_id, result.run_id)) == ("success", 2)
    assert [code for _scenario, code in engine_runs(dag_id)] == [1, 0]
    assert engine_runs(dag_id)[0][0] == scenario


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="retry_policy is Airflow 3.3+")
@pytest.mark.parametrize("mode", MODES)
def test_the_retry_policy_sees_a_network_failure_as_transient(mode: str) -> None:
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_id = f"everyday__policy__network_failure__{mode}"
    result = run(dag_id)
    assert result.task_state == "success"
    with create_session() as session:
        (first,) = session.scalars(
            select(TaskInstanceHistory).where(
                TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.run_id == result.run_id
            )
        ).all()
    assert first.retry_delay_override == 1.0 and first.retry_reason.startswith("[rocky:adapter] retry 1/")


# -- item 2: a freshness gate waits until fresh ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_stale_source_fails_the_try_and_a_later_try_sees_it_fresh(mode: str) -> None:
    """Before: a stale source raised an ``AirflowFailException``, which Airflow never retries."""
    dag_id = f"everyday__freshness_wait__{mode}"
    result = run(dag_id)
    assert (result.task_state, tries(dag_id, result.run_id)) == ("success", 2)
    assert [code for _scenario, code in engine_runs(dag_id)] == [1, 0], "stale, then fresh"
    assert result.summary["counts"] == {"pass": 8}


# -- item 3: the verdict does not depend on the shown tail ----------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("scenario", "category", "retry"),
    [("state_locked", "state", "a retry may help"), ("quality_gate", "quality_check", "a retry will not")],
)
def test_stderr_tail_lines_zero_changes_no_verdict(
    scenario: str, category: str, retry: str, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Before: with ``stderr_tail_lines=0`` both read as ``engine`` (the verdict read the shown tail)."""
    result = run(f"everyday__unshown__{scenario}__{mode}")
    log = capfd.readouterr().out
    assert result.task_state == "failed" and result.summary["category"] == category
    assert f"[rocky:{category}]" in log and retry in log
    assert "stderr line(s) of the engine" not in log, "stderr_tail_lines=0 still shows no line"


# -- item 4: only secrets are masked --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_configuration_in_env_vars_reaches_xcom_and_events_unmasked(mode: str) -> None:
    """Before: ``env_vars={"ROCKY_CATALOG": "warehouse"}`` turned every table into ``***.staging__...``."""
    from airflow.sdk.log import redact  # the masker this process's tasks registered their secrets with

    dag_id = f"everyday__config_env__{mode}"
    result = run(dag_id)
    assert result.task_state == "success"
    tables = {m["table"] for m in result.summary["materializations"]}
    assert tables == {"warehouse.staging__orders.orders", "warehouse.staging__orders.order_items"}
    uris = {uri for uri, _extra in asset_events(dag_id, result.run_id)}
    assert f"{NAMESPACE}/warehouse/staging__orders/orders" in uris
    assert redact("warehouse") == "warehouse", "configuration is never registered as a secret"
    assert redact("everyday-t0ken-5d1e") == "***", "a value under a sensitive name still is"
    assert "everyday-t0ken-5d1e" not in str(result.xcoms)


# -- item 5: no event for a failed declared table --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_declared_table_gets_no_event_with_emit_assets_false(mode: str) -> None:
    """Before: ``emit_assets=False`` skipped the guard, and Airflow recorded both declared outlets."""
    dag_id = f"everyday__declared_partial__{mode}"
    result = run(dag_id)
    assert result.task_state == "success" and result.summary["status"] == "PartialFailure"
    events = asset_events(dag_id, result.run_id)
    assert [uri for uri, _extra in events] == [f"{NAMESPACE}/warehouse/staging__orders/orders"]
    assert events[0][1]["target_table"] == "warehouse.staging__orders.orders"


# -- item 9: a green run is quiet and counts its events right -------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_green_run_logs_no_provider_warning_and_counts_every_event(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Before: "Recorded 1 asset event(s)" for two events (the declared table was not counted)."""
    dag_id = f"everyday__green__{mode}"
    result = run(dag_id)
    log = capfd.readouterr().out
    assert result.task_state == "success"
    assert len(asset_events(dag_id, result.run_id)) == 2
    assert "Recorded 2 asset event(s): 1 through AssetAlias" in log and "1 for declared outlets" in log
    provider = [line for line in log.splitlines() if "[warning" in line and "airflow_provider_rocky" in line]
    assert provider == [], provider
