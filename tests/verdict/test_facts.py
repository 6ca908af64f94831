"""What every summary adds for the Rocky view is bounded, whatever the argv, message or stderr."""

from __future__ import annotations

import json

from airflow_provider_rocky._verdict.facts import MAX_ARGV, MAX_REASON, MAX_TAIL_LINES, MAX_TOKEN, facts
from airflow_provider_rocky.exceptions import RockyEngineError, RockyTransientAdapterError


def test_the_added_keys_stay_small_whatever_they_are_given() -> None:
    error = RockyEngineError("x" * 50_000, exit_code=1, stderr_tail=["y" * 10_000] * 500, command=["rocky"])
    added = facts("run", ["rocky", *(f"--var=V{i}={'z' * 2000}" for i in range(1000))], error)
    assert len(added["command"]) == MAX_ARGV + 1 and added["command"][-1] == "… 937 more argument(s)"
    assert all(len(token) <= MAX_TOKEN for token in added["command"])
    assert len(added["failure"]["message"]) == MAX_REASON
    assert len(added["failure"]["stderr_tail"]) == MAX_TAIL_LINES
    assert len(json.dumps(added).encode()) < 64 * 1024


def test_the_failure_keeps_what_a_person_acts_on() -> None:
    error = RockyTransientAdapterError("warehouse busy", exit_code=1, stderr_tail=["Error: quota"])
    added = facts("apply", ["rocky", "apply", "plan-1"], error)
    assert added == {
        "command_name": "apply",
        "command": ["rocky", "apply", "plan-1"],
        "failure": {
            "category": "adapter",
            "retryable": True,
            "error_class": "RockyTransientAdapterError",
            "exit_code": 1,
            "message": "warehouse busy",
            "stderr_tail": ["Error: quota"],
        },
    }
    assert facts("doctor", None, None) == {"command_name": "doctor", "command": None, "failure": None}
