"""Hostile gate outputs: self-contradicting results fail closed, summaries and logs stay bounded in bytes.

Issue 25.5/25.6/25.11: on main ``test`` with ``declarative: {failed: 5, results: []}`` and ``freshness``
with ``summary.error: 3`` and no rows exited 0 and passed; every gate summary took engine text whole
(10.5 MB summaries, 100 MB for a plan), ``statements_by_purpose`` had no key limit, and the doctor and
freshness reports logged every entry uncut. (The doctor's contradictions, checks absent from its output
and an unknown ``overall``, belong to issue 20.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_rocky._engine.args.plan import ApplyArgs
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._task.commands import CI, COMPILE, DOCTOR, FRESHNESS, PLAN, TEST, CommandSpec
from airflow_provider_rocky._verdict import gates
from airflow_provider_rocky.exceptions import RockyUsageError

#: The documented bound (``_verdict.bounded.MAX_SUMMARY_BYTES``, README "Gate commands").
MAX_SUMMARY_BYTES = 64 * 1024
ROWS = 2_000
#: Texts by row: the first rows 1 MB each, the others 1,000 characters.
HUGE = ("N" * 1_000_000, "n" * 1_000)
#: Astral characters take 12 bytes each once JSON-escaped.
ASTRAL = ("\U0001f600" * 100_000, "\U0001f600" * 500)


def _outcome(doc: dict[str, Any], exit_code: int = 0) -> ProcessOutcome:
    return ProcessOutcome(exit_code=exit_code, stdout=json.dumps(doc).encode())


def _test_doc(**top: Any) -> dict[str, Any]:
    return {
        "version": "1.77.0",
        "command": "test",
        "total": 0,
        "passed": 0,
        "failed": 0,
        "failures": [],
        **top,
    }


# -- contradictions -------------------------------------------------------------------------------

CONTRADICTIONS = [
    (
        "declarative_counts_without_rows",
        gates.interpret_test,
        _test_doc(
            declarative={"total": 5, "passed": 0, "failed": 5, "warned": 0, "errored": 0, "results": []}
        ),
        "test",
        "declarative: failed+errored counts 5 but lists 0",
    ),
    (
        "declarative_errored_without_rows",
        gates.interpret_test,
        _test_doc(
            declarative={"total": 2, "passed": 0, "failed": 0, "warned": 0, "errored": 2, "results": []}
        ),
        "test",
        "declarative: failed+errored counts 2 but lists 0",
    ),
    (
        "unit_counts_without_rows",
        gates.interpret_test,
        _test_doc(unit_tests={"total": 2, "passed": 0, "failed": 2, "results": []}),
        "test",
        "unit_tests: failed counts 2 but lists 0",
    ),
    (
        "model_tests_count_without_rows",
        gates.interpret_test,
        _test_doc(total=3, failed=3),
        "test",
        "model tests: failed counts 3 but lists 0",
    ),
    (
        "freshness_summary_without_rows",
        gates.interpret_freshness,
        {
            "version": "1.77.0",
            "command": "freshness",
            "checked_at": "2026-12-01T00:00:00Z",
            "sources": [],
            "models": [],
            "summary": {"pass": 0, "warn": 0, "error": 3, "runtime_error": 0},
        },
        "freshness",
        "summary: error+runtime_error counts 3 but lists 0",
    ),
    (
        "ci_exit_code_says_failed",
        gates.interpret_ci,
        {
            "version": "1.77.0",
            "command": "ci",
            "compile_ok": True,
            "tests_ok": True,
            "models_compiled": 2,
            "tests_passed": 2,
            "tests_failed": 0,
            "exit_code": 1,
            "diagnostics": [],
            "failures": [],
        },
        "engine",
        "exit_code is 1 while compile_ok and tests_ok are true",
    ),
]


@pytest.mark.parametrize(
    ("interpret", "doc", "category", "named"),
    [c[1:] for c in CONTRADICTIONS],
    ids=[c[0] for c in CONTRADICTIONS],
)
def test_a_result_that_contradicts_itself_fails_closed_naming_it(
    interpret: Callable[..., Any], doc: dict[str, Any], category: str, named: str
) -> None:
    verdict = interpret(_outcome(doc), command=["rocky"])
    assert verdict.error is not None, "exit 0, yet the result says something failed"
    assert verdict.error.category == category
    assert named in verdict.error.reason and "contradicts itself" in verdict.error.reason


def test_an_errored_declarative_test_fails_whatever_its_severity() -> None:
    """The engine fails ``rocky test --declarative`` on any ``errored`` row (commands/test.rs)."""
    row = {
        "model": "m",
        "table": "c.s.m",
        "test_type": "unique",
        "sql": "s",
        "status": "error",
        "severity": "warning",
    }
    doc = _test_doc(
        declarative={"total": 1, "passed": 0, "failed": 0, "warned": 0, "errored": 1, "results": [row]}
    )
    verdict = gates.interpret_test(_outcome(doc), command=["rocky"])
    assert verdict.error is not None and verdict.error.category == "test"
    assert "contradicts" not in verdict.error.reason and "m unique" in verdict.error.reason


# -- bounded summaries and logs -------------------------------------------------------------------


def _diag(i: int, text: str) -> dict[str, Any]:
    return {
        "severity": "Warning",
        "code": f"W{i}{text[:1000]}",
        "message": text,
        "span": {"file": text, "line": 1, "col": 1},
        "model": text,
        "suggestion": text,
    }


def _hostile(texts: tuple[str, str]) -> dict[str, tuple[CommandSpec, dict[str, Any], int]]:
    """Per gate: a result whose every text is long (the first rows' huge) and whose every list holds
    thousands of rows."""
    text = texts[0]

    def t(i: int) -> str:
        return texts[0] if i < 3 else texts[1]

    statements = [{"purpose": f"p{i}{t(i)[:200]}", "target": f"{t(i)}{i}", "sql": "s"} for i in range(ROWS)]
    return {
        "doctor": (
            DOCTOR,
            {
                "command": "doctor",
                "overall": text,
                "checks": [
                    {"name": f"{t(i)}{i}", "status": "warning", "message": t(i), "duration_ms": 1}
                    for i in range(ROWS)
                ],
                "suggestions": [t(i) for i in range(ROWS)],
            },
            0,
        ),
        "compile": (
            COMPILE,
            {
                "version": text,
                "command": "compile",
                "models": 1,
                "execution_layers": 1,
                "diagnostics": [_diag(i, t(i)) for i in range(ROWS)],
                "has_errors": False,
            },
            0,
        ),
        "test": (
            TEST,
            _test_doc(
                total=ROWS, failed=ROWS, failures=[{"name": f"{t(i)}{i}", "error": t(i)} for i in range(ROWS)]
            ),
            1,
        ),
        "ci": (
            CI,
            {
                "version": "1.77.0",
                "command": "ci",
                "compile_ok": True,
                "tests_ok": False,
                "models_compiled": 1,
                "tests_passed": 0,
                "tests_failed": ROWS,
                "exit_code": 1,
                "diagnostics": [_diag(i, t(i)) for i in range(ROWS)],
                "failures": [{"name": f"{t(i)}{i}", "error": t(i)} for i in range(ROWS)],
            },
            1,
        ),
        "freshness": (
            FRESHNESS,
            {
                "version": "1.77.0",
                "command": "freshness",
                "checked_at": "2026-12-01T00:00:00Z",
                "sources": [
                    {
                        "name": f"{t(i)}{i}",
                        "pipeline": "p",
                        "table": "c.s.t",
                        "measured_from": "w",
                        "status": "warn",
                    }
                    for i in range(ROWS)
                ],
                "models": [],
                "summary": {"pass": 0, "warn": ROWS, "error": 0, "runtime_error": 0},
            },
            0,
        ),
        "plan": (
            PLAN,
            {
                "version": "1.77.0",
                "command": "plan",
                "filter": text,
                "env": text,
                "statements": statements,
                "plan_id": "ab" * 32,
                "plan_kind": text,
                "models": [f"{t(i)}{i}" for i in range(100)],
            },
            0,
        ),
    }


@pytest.mark.parametrize("gate", ["doctor", "compile", "test", "ci", "freshness", "plan"])
@pytest.mark.parametrize("text", [HUGE, ASTRAL], ids=["1MB_texts", "astral_texts"])
def test_every_gate_summary_and_log_stays_bounded_in_bytes(gate: str, text: tuple[str, str]) -> None:
    spec, doc, exit_code = _hostile(text)[gate]
    verdict = spec.interpret(
        _outcome(doc, exit_code), command=["rocky"], binary="rocky", max_stdout_bytes=1 << 40
    )
    assert verdict.result is not None, verdict.error
    summary = spec.summarize(verdict, None)
    size = len(json.dumps(summary))
    assert size <= MAX_SUMMARY_BYTES, f"{gate}: {size:,} bytes"
    assert summary["outcome"] in ("success", "failed")
    totals = [v for k, v in summary.items() if k.endswith("_total") and isinstance(v, int)]
    assert max(totals, default=ROWS) >= ROWS or gate == "plan", "the totals stay exact"
    lines = spec.report(verdict, None)
    log = sum(len(line.encode()) for line, _warning in lines)
    assert len(lines) <= 150 and log <= 256 * 1024, f"{gate}: {len(lines)} lines, {log:,} bytes"
    if verdict.error is not None:
        assert len(verdict.error.reason) < 10_000


def test_the_plan_summary_caps_its_purposes_and_models() -> None:
    spec, doc, _ = _hostile(("x" * 10, "y"))["plan"]
    summary = spec.summarize(spec.interpret(_outcome(doc), command=["rocky"]), None)
    assert summary["statements_total"] == ROWS and len(summary["statements_by_purpose"]) <= 21
    assert summary["statements_by_purpose"]["(other)"] == ROWS - 20
    assert summary["models_total"] == 100


def test_a_bad_plan_id_is_refused_without_quoting_it_whole() -> None:
    with pytest.raises(RockyUsageError) as caught:
        ApplyArgs(plan_id="z" * 1_000_000).validate()
    assert len(caught.value.reason) < 1_000 and "1,000,000 characters" in caught.value.reason
