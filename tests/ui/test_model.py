"""The view model from summaries of each shape: which command, and where each observation goes."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_rocky.ui.model import build, kind_of
from airflow_provider_rocky.ui.store import TaskKey, TaskRecord


def record(summary: Any, operator: str | None = "RockyOperator", **kwargs: Any) -> TaskRecord:
    return TaskRecord(
        TaskKey("d", "r", "t"), found=True, operator=operator, state="success", summary=summary, **kwargs
    )


@pytest.mark.parametrize(
    ("summary", "operator", "kind"),
    [
        ({"command_name": "freshness"}, "MyOwnOperator", "freshness"),  # the summary's own word first
        ({}, "RockyCiOperator", "ci"),  # then the operator class
        ({"plan_id": "p1"}, "SubclassedPlan", "plan"),  # then the shape (a subclass, any release)
        ({"overall": "healthy"}, None, "doctor"),
        ({"compile_ok": True, "has_errors": False}, None, "ci"),
        ({"has_errors": True}, None, "compile"),
        ({"not_fresh": []}, None, "freshness"),
        ({"passed": 3, "total": 3}, None, "test"),
        ({"materializations": []}, None, "run"),
        ({"outcome": "success"}, None, "unknown"),
    ],
)
def test_which_command_a_summary_is_of(summary: dict[str, Any], operator: str | None, kind: str) -> None:
    assert kind_of(summary, operator) == kind


def test_observations_land_on_their_tables_and_the_rest_at_run_level() -> None:
    summary = {
        "outcome": "success",
        "exit_code": 0,
        "tables_copied": 2,
        "materializations": [
            {
                "table": "wh.s.orders",
                "rows_copied": 5,
                "strategy": "incremental",
                "volume_verdict": "above_range",
            },
            {"table": "wh.s.items", "rows_copied": 7, "notes": ["schema widened"]},
        ],
        "drift_actions": [{"table": "s.orders", "action": "drop_and_recreate", "reason": "type changed"}],
        "anomalies": [{"table": "wh.s.items", "evaluated": False, "reason": "no baseline"}],
        "checks_failed": [{"table": "wh.s.orders", "check": "not_null", "severity": "error"}],
        "volume_verdicts": [{"table": "elsewhere.t", "verdict": "below_range"}],
    }
    view = build(record(summary))
    rows = {row["table"]: row for row in view["tables"]["rows"]}
    orders = [o["text"] for o in rows["wh.s.orders"]["observations"]]
    assert "volume: above_range" in orders and any(o.startswith("drift: drop_and_recreate") for o in orders)
    assert rows["wh.s.orders"]["checks"] == [{"check": "not_null", "severity": "error", "passed": False}]
    items = [o["text"] for o in rows["wh.s.items"]["observations"]]
    assert "schema widened" in items and any("not evaluated: no baseline" in o for o in items)
    assert view["tables"]["unmatched"] == [
        {"table": "elsewhere.t", "kind": "volume", "text": "volume: below_range"}
    ]


def test_a_refused_try_has_a_failure_and_no_command() -> None:
    summary = {
        "outcome": "failed",
        "exit_code": None,
        "run_id": None,
        "category": "usage",
        "command_name": "run",
        "command": None,
        "failure": {
            "category": "usage",
            "retryable": False,
            "message": "filter='x' is invalid",
            "stderr_tail": [],
        },
    }
    view = build(record(summary))
    assert view["kind"] == "run" and view["command"] is None and view["recorded_by_view"] is True
    assert view["failure"]["message"] == "filter='x' is invalid" and "arguments" in view["failure"]["advice"]


def test_a_task_still_running_has_no_summary_yet() -> None:
    view = build(TaskRecord(TaskKey("d", "r", "t"), found=True, operator="RockyOperator", state="deferred"))
    assert view["found"] is False and "not finished" in view["reason"]
