"""The gate and plan interpreters over their rows: exit code and stdout → outcome, category.

Like tests/verdict/test_interpret_table.py for runs, in milliseconds, the row's name as the test id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import doctor as doctor_verdict
from airflow_provider_rocky._verdict import gates, plan
from airflow_provider_rocky._verdict.verdict import Verdict


def check(name: str, status: str, message: str | None = None) -> dict[str, Any]:
    return {"name": name, "status": status, "message": message or f"{name} is {status}", "duration_ms": 1}


def doctor(*checks: dict[str, Any], overall: str = "healthy") -> bytes:
    return json.dumps(
        {"command": "doctor", "overall": overall, "checks": list(checks), "suggestions": ["do x"]}
    ).encode()


def diagnostic(code: str, severity: str = "Error") -> dict[str, Any]:
    return {
        "severity": severity,
        "code": code,
        "message": "m",
        "span": {"file": "models/m.sql", "line": 3, "col": 1},
        "model": "m",
        "suggestion": "fix it",
    }


def compiled(*diagnostics: dict[str, Any]) -> bytes:
    errors = any(d["severity"] == "Error" for d in diagnostics)
    return json.dumps(
        {
            "version": "1.77.0",
            "command": "compile",
            "models": 2,
            "execution_layers": 1,
            "diagnostics": list(diagnostics),
            "has_errors": errors,
        }
    ).encode()


def rocky_test_json(failures: int, *, declarative: str | None = None, unit_failed: bool = False) -> bytes:
    """A ``rocky test`` result; ``declarative``: one failed declarative test at that severity."""
    rows = [{"name": f"t{i}", "error": "boom"} for i in range(failures)]
    doc: dict[str, Any] = {
        "version": "1.77.0",
        "command": "test",
        "total": 4,
        "passed": 4 - failures,
        "failed": failures,
        "failures": rows,
    }
    if declarative is not None:
        result = {"model": "m", "table": "c.s.m", "test_type": "not_null", "column": "id", "sql": "select 1"}
        doc["declarative"] = {
            # The engine's tally (rocky-cli commands/test.rs): failed = fail at error severity only.
            "total": 1, "passed": 0, "failed": int(declarative == "error"), "errored": 0,
            "warned": int(declarative == "warning"),
            "results": [{**result, "status": "fail", "severity": declarative, "detail": "3 NULL rows"}],
        }  # fmt: skip
    if unit_failed:
        unit = {"model": "m", "test": "t_dedup", "passed": False, "error": "2 rows differ"}
        doc["unit_tests"] = {"total": 1, "passed": 0, "failed": 1, "results": [unit]}
    return json.dumps(doc).encode()


def ci(compile_ok: bool, tests_failed: int, code: int, *diagnostics: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "version": "1.77.0",
            "command": "ci",
            "compile_ok": compile_ok,
            "tests_ok": not tests_failed,
            "models_compiled": 2,
            "tests_passed": 2,
            "tests_failed": tests_failed,
            "exit_code": code,
            "diagnostics": list(diagnostics),
            "failures": [{"name": "t", "error": "boom"}] * tests_failed,
        }
    ).encode()


def fresh(*statuses: str) -> bytes:
    rows = [
        {
            "name": f"s{i}",
            "pipeline": "p",
            "table": "c.s.t",
            "measured_from": "warehouse",
            "status": s,
            "age_seconds": 10,
        }
        for i, s in enumerate(statuses)
    ]
    return json.dumps(
        {
            "version": "1.77.0",
            "command": "freshness",
            "checked_at": "2026-12-01T00:00:00Z",
            "sources": rows,
            "models": [],
            "summary": {"pass": 0, "warn": 0, "error": 0, "runtime_error": 0},
        }
    ).encode()


def planned(**top: Any) -> bytes:
    doc = {
        "version": "1.77.0",
        "command": "plan",
        "filter": "",
        "statements": [{"purpose": "p", "target": "t", "sql": "s"}],
        "plan_id": "ab" * 32,
        "plan_kind": "run",
        **top,
    }
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Row:
    name: str
    interpret: Callable[..., Verdict]
    exit_code: int
    stdout: bytes
    category: str | None = None
    options: dict[str, Any] | None = None
    #: Whether the error is retryable; ``None``: not retryable (the gates' usual verdict).
    retryable: bool = False


DOCTOR = doctor_verdict.interpret_doctor
AUTH_401 = "Ping failed: HTTP 401 Unauthorized: the access token has expired"

ROWS = [
    Row("doctor_healthy", DOCTOR, 0, doctor(check("state", "healthy"))),
    Row("doctor_warning", DOCTOR, 0, doctor(check("auth", "warning"), overall="warning")),
    Row(  # a live probe (the state schema: a rolling upgrade can end): retryable
        "doctor_critical_probe",
        DOCTOR,
        3,
        doctor(check("state_schema", "critical"), overall="critical"),
        "health",
        retryable=True,
    ),
    Row(  # the configuration: a retry re-reads the same file
        "doctor_critical_config",
        DOCTOR,
        3,
        doctor(check("config", "critical"), check("adapters", "critical"), overall="critical"),
        "health",
    ),
    Row(  # a ping the warehouse answered with 401: the credentials, not the network
        "doctor_critical_auth_refused",
        DOCTOR,
        3,
        doctor(check("auth/default", "critical", AUTH_401), overall="critical"),
        "health",
    ),
    Row(
        "doctor_unknown_status_is_critical",
        DOCTOR,
        0,
        doctor(check("state", "degraded")),
        "health",
        retryable=True,
    ),
    Row(  # fail closed: the engine said critical (exit 3) though no row is
        "doctor_overall_critical_without_a_critical_row",
        DOCTOR,
        3,
        doctor(check("state", "healthy"), overall="critical"),
        "health",
    ),
    Row(  # fail closed: an overall the engine never prints
        "doctor_unknown_overall",
        DOCTOR,
        0,
        doctor(check("state", "healthy"), overall="degraded"),
        "output",
    ),
    Row(
        "doctor_critical_not_gating",
        DOCTOR,
        3,
        doctor(check("state", "critical"), check("auth", "healthy"), overall="critical"),
        None,
        {"checks": ["auth"]},
    ),
    Row(  # a typo: the gate would test nothing
        "doctor_check_not_reported",
        DOCTOR,
        3,
        doctor(check("state", "critical"), check("auth", "healthy"), overall="critical"),
        "usage",
        {"checks": ["stat", "auth"]},
    ),
    Row(  # --check=auth/default runs no check at all (doctor.rs should_run)
        "doctor_nothing_reported",
        DOCTOR,
        0,
        doctor(),
        "usage",
        {"checks": ["auth/default"]},
    ),
    Row(  # a group name gates every check of the group: auth/<adapter> without the summary row
        "doctor_group_gates_its_checks",
        DOCTOR,
        3,
        doctor(check("auth/default", "critical", "Ping failed: connection reset"), overall="critical"),
        "health",
        {"checks": ["auth"]},
        retryable=True,
    ),
    Row(  # one check of a group gates alone
        "doctor_one_check_of_a_group",
        DOCTOR,
        3,
        doctor(check("auth/wh", "healthy"), check("auth/ft", "critical"), overall="critical"),
        None,
        {"checks": ["auth/wh"]},
    ),
    Row("compile_clean", gates.interpret_compile, 0, compiled()),
    Row("compile_warning", gates.interpret_compile, 0, compiled(diagnostic("W004", "Warning"))),
    Row("compile_error", gates.interpret_compile, 1, compiled(diagnostic("E001")), "compile"),
    Row(
        "compile_contract_only",
        gates.interpret_compile,
        1,
        compiled(diagnostic("E010"), diagnostic("E013")),
        "contract",
    ),
    Row(
        "compile_contract_and_other",
        gates.interpret_compile,
        1,
        compiled(diagnostic("E010"), diagnostic("E020")),
        "compile",
    ),
    Row(  # a newer engine's severity: the engine's own verdict (clean, exit 0) decides
        "compile_unknown_severity_on_a_clean_compile",
        gates.interpret_compile,
        0,
        compiled(diagnostic("H001", "Hint")),
    ),
    Row(
        "compile_unknown_severity_with_has_errors",
        gates.interpret_compile,
        1,
        json.dumps({**json.loads(compiled(diagnostic("E001", "Fatal"))), "has_errors": True}).encode(),
        "compile",
    ),
    Row("test_clean", gates.interpret_test, 0, rocky_test_json(0)),
    Row("test_failed", gates.interpret_test, 1, rocky_test_json(2), "test"),
    Row("test_declarative_failed", gates.interpret_test, 1, rocky_test_json(0, declarative="error"), "test"),
    Row("test_declarative_warned", gates.interpret_test, 0, rocky_test_json(0, declarative="warning")),
    Row("test_unit_failed_exit_0", gates.interpret_test, 0, rocky_test_json(0, unit_failed=True), "test"),
    Row("ci_clean", gates.interpret_ci, 0, ci(True, 0, 0)),
    Row("ci_warnings_only", gates.interpret_ci, 4, ci(True, 0, 4, diagnostic("W004", "Warning"))),
    Row("ci_compile_error", gates.interpret_ci, 1, ci(False, 0, 1, diagnostic("E001")), "compile"),
    Row("ci_test_failure", gates.interpret_ci, 1, ci(True, 1, 1), "test"),
    Row("freshness_pass", gates.interpret_freshness, 0, fresh("pass", "pass")),
    Row("freshness_warn", gates.interpret_freshness, 0, fresh("pass", "warn")),
    Row("freshness_error", gates.interpret_freshness, 1, fresh("pass", "error"), "freshness", retryable=True),
    Row(
        "freshness_runtime_error",
        gates.interpret_freshness,
        1,
        fresh("runtime_error"),
        "freshness",
        retryable=True,
    ),
    Row(
        "freshness_unknown_status", gates.interpret_freshness, 0, fresh("stale"), "freshness", retryable=True
    ),
    Row("plan_ok", plan.interpret_plan, 0, planned()),
    Row("plan_over_budget", plan.interpret_plan, 1, planned(has_budget_errors=True), "budget"),
    Row("plan_without_id", plan.interpret_plan, 0, planned(plan_id=None), "output"),
    Row("gate_without_json", DOCTOR, 1, b"", "engine", retryable=True),
    Row("gate_garbage", gates.interpret_test, 0, b"not json", "output"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_gate_row_reaches_its_verdict(row: Row) -> None:
    outcome = ProcessOutcome(
        exit_code=row.exit_code, stdout=row.stdout, stderr_tail=["Error: x"] if row.exit_code else []
    )
    verdict = row.interpret(outcome, command=["rocky"], **(row.options or {}))
    category = verdict.error.category if verdict.error else None
    assert (verdict.outcome == "success", category) == (row.category is None, row.category), str(
        verdict.error
    )
    if verdict.error is not None:
        assert verdict.error.retryable is row.retryable


def test_the_gates_cover_their_categories() -> None:
    assert {row.category for row in ROWS} >= {"health", "test", "freshness", "compile", "contract", "budget"}


def test_an_error_message_stays_bounded_however_many_and_long_the_diagnostics() -> None:
    """500 long diagnostics made a 250,426-character exception message."""
    long = {**diagnostic("E001"), "message": "x" * 5000}
    outcome = ProcessOutcome(exit_code=1, stdout=compiled(*[long] * 500), stderr_tail=["Error: x"])
    error = gates.interpret_compile(outcome, command=["rocky"]).error
    assert error is not None and error.category == "compile"
    assert len(error.reason) < 6000 and "and 490 more" in error.reason


def test_has_errors_without_an_error_diagnostic_says_where_to_look() -> None:
    doc = {**json.loads(compiled()), "has_errors": True}
    outcome = ProcessOutcome(exit_code=1, stdout=json.dumps(doc).encode(), stderr_tail=["Error: E999 boom"])
    error = gates.interpret_compile(outcome, command=["rocky"]).error
    assert error is not None and "named no Error diagnostic" in error.reason
