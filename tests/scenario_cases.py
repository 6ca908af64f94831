"""The stand-in scenarios and the documented verdict each must reach, in both modes.

One table feeds the test DAG file (tests/dags/rocky_scenarios.py) and the assertions
(tests/test_scenarios.py), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    state: str  # final task state
    category: str | None = None  # RockyError.category when the task failed
    retryable: bool | None = None
    op_kwargs: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None  # summary["outcome"]
    status: str | None = None  # summary["status"] (RunResult.status)
    totals: dict[str, int] = field(default_factory=dict)  # summary[f"{key}_total"]


#: The stand-in as today's engine (1.77): current shapes (README, Compatibility).
CURRENT = {"ROCKY_STANDIN_ENGINE_VERSION": "1.77.0"}
OBSERVED = {
    "anomalies": 2,
    "volume_warnings": 1,
    "volume_verdicts": 1,
    "source_syncs_failed": 1,
    "checks_not_evaluated": 1,
    "consumer_diagnostics": 1,
}


FAST_TIMEOUT = {"timeout_seconds": 3, "term_grace_seconds": 2}

CASES: list[Case] = [
    Case("success", "success", "success", outcome="success", status="Success"),
    Case("transformation", "transformation", "success", op_kwargs={"run_models": True}, outcome="success"),
    Case(
        "partitioned",
        "partitioned",
        "success",
        op_kwargs={"run_models": True, "partition_from": "2026-04-04", "partition_to": "2026-04-08"},
        outcome="success",
    ),
    Case("partial", "partial", "success", outcome="partial", status="PartialFailure"),
    Case(
        "partial_strict", "partial", "failed", "partial", False, {"fail_on_partial": True}, outcome="partial"
    ),
    Case(
        "partial_transient_strict", "partial_transient", "failed", "partial", True, {"fail_on_partial": True}
    ),
    Case("total_failure", "total_failure", "failed", "adapter", False, status="Failure"),
    Case("adapter_transient", "adapter_transient", "failed", "adapter", True),
    Case("adapter_auth", "adapter_auth", "failed", "adapter", False),
    Case("hard_failure", "hard_failure", "failed", "engine", True),  # not known to be permanent
    Case("network_failure", "network_failure", "failed", "adapter", True),
    Case("usage", "usage", "failed", "usage", False),
    Case("state_locked", "state_locked", "failed", "state", True),
    Case("state_busy", "state_busy", "failed", "state", True),
    Case("state_schema_mismatch", "state_schema_mismatch", "failed", "state", False),
    Case("compile_error", "compile_error", "failed", "compile", False),
    Case("contract_violation", "contract_violation", "failed", "contract", False),
    Case("budget_breach", "budget_breach", "failed", "budget", False),
    Case("quality_gate", "quality_gate", "failed", "quality_check", False),
    Case("quality_gate_current", "quality_gate", "failed", "quality_check", False, env=CURRENT),
    Case("verify_after_gate", "verify_after_gate", "failed", "quality_check", False),
    Case("verify_after_current", "verify_after_gate", "failed", "quality_check", False, env=CURRENT),
    Case("quality_warn", "quality_warn", "success", outcome="success"),
    Case("observations", "observations", "success", outcome="success", totals={"anomalies": 1}),
    Case("observations_current", "observations", "success", outcome="success", env=CURRENT, totals=OBSERVED),
    Case(
        "contained",
        "contained",
        "success",
        outcome="partial",
        status="PartialFailure",
        totals={"contained": 1},
    ),
    Case("drift_current", "drift", "success", outcome="success", env=CURRENT),
    Case("drift", "drift", "success", outcome="success"),
    Case("governance_refused", "governance_refused", "failed", "governance", False),
    Case("slow", "slow", "success", outcome="success"),
    Case("hang_timeout", "hang", "failed", "timeout", True, FAST_TIMEOUT),
    Case("hang_ignore_term_timeout", "hang_ignore_term", "failed", "timeout", True, FAST_TIMEOUT),
    Case("grandchild_timeout", "grandchild", "failed", "timeout", True, FAST_TIMEOUT),
    Case("interruptible_timeout", "interruptible", "failed", "timeout", True, FAST_TIMEOUT),
    Case(
        "hang_execution_timeout",
        "hang",
        "failed",
        "timeout",
        True,
        {"execution_timeout_seconds": 4, "term_grace_seconds": 2},
    ),
    Case("garbage_stdout", "garbage_stdout", "failed", "output", False),
    # 10,000 tables. Asset events are off here: Airflow itself takes ~85 s (3.3) to >300 s (3.1) to
    # register 10,000 new assets at task end (measured; see benchmarks/README.md), which is not what
    # this case tests (parsing, bounded XCom). tests/test_asset_events.py covers emission.
    Case("huge_stdout", "huge_stdout", "success", op_kwargs={"emit_assets": False}, outcome="success"),
    Case("non_utf8_stderr", "non_utf8_stderr", "success", outcome="success"),
    Case("many_lines", "many_lines", "success", outcome="success"),
    Case(
        "binary_missing", "success", "failed", "binary_missing", False, {"binary_path": "/nonexistent/rocky"}
    ),
    Case(
        "invalid_filter",
        "success",
        "failed",
        "usage",
        False,
        {"filter": "{{ 'no-equals-sign' }}"},
    ),
]

BY_NAME = {case.name: case for case in CASES}
MODES = ("sync", "deferrable")


def dag_id(case: Case, mode: str) -> str:
    return f"scenario__{case.name}__{mode}"
