"""Every stand-in scenario, in both modes, through ``dag.test()`` against a real metadata DB.

Each case must reach the documented task state and category (tests/scenario_cases.py), and the two
modes must agree: one interpreter decides, whichever mode ran the process. Each case's asset events,
read back from the metadata DB, are exactly one per table and partition the engine wrote (the
stand-in's record, not the provider's summary) for a successful task, under ``rocky_asset``'s URI
(Airflow records no outlet events for a task that failed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow_helpers import asset_events, run_dag
from scenario_cases import CASES, MODES, Case, dag_id

from airflow_provider_rocky.assets import rocky_asset

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")


def records(workdir: Path, name: str) -> list[dict]:
    path = workdir / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scenario_reaches_its_documented_verdict(
    case: Case, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    import os

    name = dag_id(case, mode)
    work = Path(os.environ["ROCKY_TEST_WORKDIR"])
    (work / f"{name}.jsonl").unlink(missing_ok=True)
    run = run_dag("rocky_scenarios", name)
    log = capfd.readouterr().out

    assert run.task_state == case.state, log[-3000:]
    summary = run.summary
    assert isinstance(summary, dict), "the summary must be in XCom whatever the outcome"
    assert summary["category"] == case.category
    if case.outcome:
        assert summary["outcome"] == case.outcome
    if case.status:
        assert summary["status"] == case.status
    for key, total in case.totals.items():
        assert summary[f"{key}_total"] == total, key
    if case.state == "failed":
        assert f"[rocky:{case.category}]" in log
        assert ("a retry may help" if case.retryable else "a retry will not help") in log
    else:
        assert "Rocky run summary: outcome=" in log
    # A ``--version`` probe is not a run: whether one happens depends on which test warmed the cache.
    starts = [r for r in records(work, name) if r.get("event") == "start" and r["argv"] != ["--version"]]
    if case.category not in ("binary_missing", "usage") or case.scenario == "usage":
        assert len(starts) == 1, "the engine ran exactly once"
    else:
        assert starts == [], "nothing may be spawned for input refused before the run"
    if mode == "deferrable" and starts:
        assert any(token.startswith("--idempotency-key=") for token in starts[0]["argv"])
    written = [r for r in records(work, name) if r.get("event") == "materialized"]
    assert_asset_events(case, run, summary, written)


def assert_asset_events(case: Case, run: object, summary: dict, written: list[dict]) -> None:
    """The run's asset events are exactly the tables and partitions the engine wrote.

    The reference is the stand-in's own record (one ``materialized`` event per table and partition it
    wrote), never the provider's summary: a table dropped by the provider's parser would be missing
    from the summary and the events alike.
    """
    events = asset_events(run.dag_id, run.run_id)  # type: ignore[attr-defined]
    if case.state != "success" or case.op_kwargs.get("emit_assets") is False:
        assert events == [], "no asset event from a failed task or with emit_assets=False"
        return
    expected = sorted((rocky_asset(w["table"]).uri, w["partition"]) for w in written)
    seen = sorted((uri, extra.get("partition_key")) for uri, extra in events)
    assert seen == expected, "one event per table and partition the engine wrote, named by rocky_asset"
    landed = summary.get("materializations") or []
    reported = sorted((rocky_asset(m["table"]).uri, m["partition_key"]) for m in landed)
    assert summary["materializations_total"] == len(written) and reported == expected, "the summary too"
    for _uri, extra in events:
        assert extra["run_status"] == summary["status"] and extra["engine_version"]
        assert {"target_table", "strategy", "duration_ms"} <= set(extra)
