"""Every gate and workflow operator, success and failure, in both modes, through ``dag.test()``.

Each case (tests/gate_cases.py) must reach its task state and category; its XCom summary must hold
the documented keys; its log the engine's own words; its argv the flags its arguments ask for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow_helpers import asset_events, read_run, run_dag
from gate_cases import GATES, MODES, GateCase, gate_dag_id

from airflow_provider_rocky.testing import read_record

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")
WORK = Path(os.environ["ROCKY_TEST_WORKDIR"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", GATES, ids=lambda c: c.name)
def test_each_gate_reaches_its_verdict(case: GateCase, mode: str, capfd: pytest.CaptureFixture[str]) -> None:
    name = gate_dag_id(case, mode)
    (WORK / f"{name}.jsonl").unlink(missing_ok=True)
    run = run_dag("rocky_gates", name, task_id="rocky")
    log = capfd.readouterr().out
    assert run.task_state == case.state, log[-3000:]
    summary = run.summary
    assert isinstance(summary, dict) and summary["category"] == case.category, summary
    for key, value in case.summary.items():
        assert summary[key] == value, key
    for text in case.says:
        assert text in log, text
    if case.state == "failed":
        retry = "a retry may help" if case.retryable else "a retry will not help"
        assert f"[rocky:{case.category}]" in log and retry in log
    started = [r for r in read_record(WORK / f"{name}.jsonl") if r["event"] == "start"]
    commands = [r["argv"] for r in started if "--version" not in r["argv"]]
    if case.category == "engine_version":
        assert commands == [], "an engine older than the floor is never started for the command"
        return
    assert len(commands) == 1
    argv = commands[0]
    for token in case.argv:
        assert token in argv, (token, argv)
    for token in case.no_argv:
        assert token not in argv, (token, argv)


@pytest.mark.parametrize("mode", MODES)
def test_plan_then_apply_runs_exactly_the_plan_and_emits_its_tables(mode: str) -> None:
    dag_id = f"plan_apply__{mode}"
    (WORK / f"{dag_id}.jsonl").unlink(missing_ok=True)
    applied = run_dag("rocky_gates", dag_id, task_id="apply")
    planned = read_run(dag_id, applied.run_id, "plan")
    assert planned.task_state == applied.task_state == "success"
    plan_id = planned.summary["plan_id"]
    assert len(plan_id) == 64 and planned.summary["statements_by_purpose"] == {
        "create_schema": 1,
        "full_refresh_copy": 2,
    }
    argvs = [r["argv"] for r in read_record(WORK / f"{dag_id}.jsonl") if r["event"] == "start"]
    assert [a[a.index("--output=json") + 1] for a in argvs if "--version" not in a] == ["plan", "apply"]
    assert next(a for a in argvs if "apply" in a)[-1] == plan_id
    summary = applied.summary
    assert summary["outcome"] == "success" and summary["tables_copied"] == 2
    events = asset_events(dag_id, applied.run_id)
    assert sorted(uri for uri, _ in events) == sorted(
        f"rocky://plans/warehouse/staging__orders/{table}" for table in ("orders", "order_items")
    )
