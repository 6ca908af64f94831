"""The gate and workflow commands, each scenario and the verdict it must reach, in both modes.

One table feeds tests/dags/rocky_gates.py (the DAGs) and tests/operators/test_gates.py (the
assertions), like tests/scenario_cases.py does for ``rocky run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CURRENT = {"ROCKY_STANDIN_ENGINE_VERSION": "1.77.0"}


@dataclass(frozen=True)
class GateCase:
    name: str
    operator: str  # class name in airflow_provider_rocky
    scenario: str = "success"
    state: str = "success"
    category: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # keys the XCom summary must hold
    says: tuple[str, ...] = ()  # texts the task log must hold
    argv: tuple[str, ...] = ()  # tokens the engine's argv must hold
    retryable: bool = False  # a failed case: does its error honour `retries`?
    no_argv: tuple[str, ...] = ()  # tokens the engine's argv must not hold


GATES: list[GateCase] = [
    GateCase("doctor_healthy", "RockyDoctorOperator", summary={"overall": "healthy", "critical": []}),
    GateCase(
        "doctor_warning",
        "RockyDoctorOperator",
        "doctor_warning",
        summary={"overall": "warning", "warnings": ["adapters"]},
        says=("WARNING adapters: Some adapters have missing configuration",),
    ),
    GateCase(
        "doctor_critical",
        "RockyDoctorOperator",
        "doctor_critical",
        "failed",
        "health",
        summary={"critical": ["state_schema", "auth/default"]},
        says=("2 critical check(s): state_schema:", "the engine suggests:"),
    ),
    GateCase(  # a critical state schema alone is a live probe (a rolling upgrade ends): retryable
        "doctor_critical_state_schema",
        "RockyDoctorOperator",
        "state_schema_mismatch",
        "failed",
        "health",
        kwargs={"checks": ["state_schema"]},
        argv=("--check=state_schema",),
        retryable=True,
    ),
    GateCase(
        "doctor_only_the_gating_checks",
        "RockyDoctorOperator",
        "doctor_critical",
        "success",
        kwargs={"checks": ["config", "pipelines"]},
        summary={"critical": ["state_schema", "auth/default"]},
        says=("not among checks=['config', 'pipelines'] (not gating)",),
        no_argv=("--check=config", "--check=pipelines"),
    ),
    GateCase(
        "doctor_one_check",
        "RockyDoctorOperator",
        "adapter_auth",
        "failed",
        "health",
        kwargs={"checks": "auth"},
        argv=("--check=auth",),
    ),
    # Issue 21 item 4: one check of a group runs its group (--check=auth/default runs no check at all).
    GateCase(
        "doctor_one_check_of_a_group",
        "RockyDoctorOperator",
        "adapter_auth",
        "failed",
        "health",
        kwargs={"checks": ["auth/default"]},
        argv=("--check=auth",),
        no_argv=("--check=auth/default",),
    ),
    # Issue 20 item 6 / issue 25 item 6: a name the engine did not report fails closed, naming the nearest.
    GateCase(
        "doctor_typo_beside_a_real_check",
        "RockyDoctorOperator",
        "doctor_critical",
        "failed",
        "usage",
        kwargs={"checks": ["stat", "auth"]},
        says=("'stat' (did you mean 'state'?)",),
    ),
    GateCase(
        "doctor_typo_alone",
        "RockyDoctorOperator",
        "doctor_critical",
        "failed",
        "usage",
        kwargs={"checks": ["stat"]},
        argv=("--check=stat",),
        says=("It reported: no check",),
    ),
    GateCase("compile_clean", "RockyCompileOperator", summary={"has_errors": False, "errors_total": 0}),
    GateCase(
        "compile_error",
        "RockyCompileOperator",
        "compile_error",
        "failed",
        "compile",
        summary={"errors_total": 1},
        says=("fct_daily_orders: E001 type mismatch", "(models/fct_daily_orders.sql:3)"),
    ),
    GateCase(
        "compile_contract",
        "RockyCompileOperator",
        "contract_violation",
        "failed",
        "contract",
        summary={"errors_total": 3},
    ),
    GateCase(
        "compile_warning",
        "RockyCompileOperator",
        "compile_warning",
        summary={"warnings_total": 1},
        says=("WARNING dim_customers: W004",),
    ),
    GateCase("test_clean", "RockyTestOperator", summary={"failed": 0}),
    GateCase(
        "test_failure",
        "RockyTestOperator",
        "test_failure",
        "failed",
        "test",
        summary={"failed": 1},
        says=("not_null:fct_daily_orders.order_date: 2 row(s) with NULL",),
    ),
    GateCase("ci_clean", "RockyCiOperator", summary={"compile_ok": True, "tests_ok": True}),
    GateCase(
        "ci_warnings_only",
        "RockyCiOperator",
        "compile_warning",
        summary={"engine_exit_code": 4, "warnings_total": 1},
    ),
    GateCase("ci_contract", "RockyCiOperator", "contract_violation", "failed", "contract"),
    GateCase("ci_test_failure", "RockyCiOperator", "test_failure", "failed", "test"),
    GateCase(
        "plan",
        "RockyPlanOperator",
        kwargs={"filter": "source=orders"},
        summary={"plan_kind": "run", "statements_total": 3},
        argv=("plan", "--filter=source=orders"),
    ),
    GateCase(
        "plan_over_budget",
        "RockyPlanOperator",
        "budget_breach",
        "failed",
        "budget",
        kwargs={"filter": "source=orders"},
        summary={"has_budget_errors": True, "budget_diagnostics_total": 1},
        says=("E027",),
    ),
    GateCase(
        "freshness_old_engine",
        "RockyFreshnessOperator",
        state="failed",
        category="engine_version",
        says=("older than 1.74.0, the oldest engine with `rocky freshness`",),
    ),
    GateCase("freshness_pass", "RockyFreshnessOperator", env=CURRENT, summary={"counts": {"pass": 8}}),
    GateCase(
        "freshness_warn",
        "RockyFreshnessOperator",
        "freshness_warn",
        env=CURRENT,
        summary={"counts": {"pass": 7, "warn": 1}},
        says=("WARN source raw__orders.orders",),
    ),
    GateCase(  # retryable: `retries` + `retry_delay` wait until the data is fresh (issue 20 item 2)
        "freshness_error",
        "RockyFreshnessOperator",
        "freshness_error",
        "failed",
        "freshness",
        env=CURRENT,
        retryable=True,
    ),
    GateCase(
        "run_on_an_old_engine",
        "RockyOperator",
        state="failed",
        category="engine_version",
        kwargs={"filter": "a=b"},
        env={"ROCKY_STANDIN_ENGINE_VERSION": "1.60.0"},
        says=("is rocky 1.60.0, older than 1.71.0",),
    ),
]
BY_NAME = {case.name: case for case in GATES}
MODES = ("sync", "deferrable")


def gate_dag_id(case: GateCase, mode: str) -> str:
    return f"gate__{case.name}__{mode}"
