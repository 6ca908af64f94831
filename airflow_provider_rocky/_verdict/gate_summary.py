"""The XCom summary and the end-of-run report of the gate commands and of ``rocky plan``.

Bounded like a run's (:data:`~airflow_provider_rocky._verdict.summary.MAX_ITEMS` entries per list,
with a ``*_total`` beside it; messages cut). Warnings are reported at WARNING: a doctor warning, a W004
diagnostic, a ``warn`` freshness entry. A plan's summary is what a reviewer approves: its id, how many
statements of each purpose, the targets they touch, the models and layers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._verdict.gates import (
    errors_of,
    failing_tests,
    freshness_rows,
    render_diagnostic,
    status_of,
    warned_tests,
    warnings_of,
)
from airflow_provider_rocky._verdict.summary import MAX_ITEMS, capped, cut
from airflow_provider_rocky._verdict.verdict import Verdict

Lines = list[tuple[str, bool]]


def _base(verdict: Verdict) -> dict[str, Any]:
    return {
        "outcome": verdict.outcome,
        "exit_code": verdict.exit_code,
        "run_id": verdict.run_id,
        "category": verdict.error.category if verdict.error else None,
        "engine_version": getattr(verdict.result, "version", None),
        "notes": list(verdict.notes[:MAX_ITEMS]),
    }


def _head(verdict: Verdict, command: str) -> tuple[str, bool]:
    return (
        f"Rocky {command} summary: outcome={verdict.outcome} exit_code={verdict.exit_code}",
        verdict.error is not None,
    )


def _note_lines(verdict: Verdict) -> Lines:
    return [(f"  rocky output: {note}", True) for note in verdict.notes[:20]]


# -- doctor ---------------------------------------------------------------------------------------


def _status(check: Any) -> str:
    return str(getattr(check.status, "value", check.status))


def doctor_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    summary["overall"] = result.overall
    capped(
        summary,
        "checks",
        result.checks,
        lambda c: {"name": c.name, "status": _status(c), "message": cut(c.message)},
    )
    summary["critical"] = [c.name for c in result.checks if _status(c) == "critical"][:MAX_ITEMS]
    summary["warnings"] = [c.name for c in result.checks if _status(c) == "warning"][:MAX_ITEMS]
    capped(summary, "suggestions", list(result.suggestions), cut)
    return summary


def doctor_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "doctor")]
    result = verdict.result
    if result is None:
        return lines
    lines.append((f"  overall: {result.overall}; {len(result.checks)} check(s)", result.overall != "healthy"))
    for check in result.checks:
        status = _status(check)
        lines.append(
            (
                f"    {status.upper() if status != 'healthy' else status} {check.name}: {check.message}",
                status != "healthy",
            )
        )
    lines += [(f"  suggestion: {text}", True) for text in result.suggestions[:20]]
    return lines + _note_lines(verdict)


# -- compile, test, ci ----------------------------------------------------------------------------


def _diagnostic(d: Any) -> dict[str, Any]:
    span = getattr(d, "span", None)
    return {
        "model": d.model,
        "code": d.code,
        "severity": str(getattr(d.severity, "value", d.severity)),
        "message": cut(d.message),
        "file": getattr(span, "file", None),
        "line": getattr(span, "line", None),
        "suggestion": cut(getattr(d, "suggestion", None)),
    }


def _diagnostics(summary: dict[str, Any], diagnostics: list[Any]) -> None:
    summary["errors_total"] = len(errors_of(diagnostics))
    summary["warnings_total"] = len(warnings_of(diagnostics))
    capped(summary, "diagnostics", diagnostics, _diagnostic)


def _diagnostic_lines(diagnostics: list[Any]) -> Lines:
    shown = [*errors_of(diagnostics), *warnings_of(diagnostics)][:40]
    return [
        (f"    {str(getattr(d.severity, 'value', d.severity)).upper()} {render_diagnostic(d)}", True)
        for d in shown
    ]


def compile_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is not None:
        summary.update(
            models=result.models, execution_layers=result.execution_layers, has_errors=result.has_errors
        )
        _diagnostics(summary, list(result.diagnostics))
    return summary


def compile_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "compile")]
    result = verdict.result
    if result is not None:
        errors, warnings = len(errors_of(result.diagnostics)), len(warnings_of(result.diagnostics))
        lines.append(
            (
                f"  {result.models} model(s), {errors} error(s), {warnings} warning(s)",
                bool(errors or warnings),
            )
        )
        lines += _diagnostic_lines(list(result.diagnostics))
    return lines + _note_lines(verdict)


def _named(row: tuple[str, str]) -> dict[str, Any]:
    return {"name": row[0], "error": cut(row[1])}


def _failure(f: Any) -> dict[str, Any]:
    return {"name": f.name, "error": cut(f.error)}


def test_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is not None:
        summary.update(total=result.total, passed=result.passed, failed=result.failed)
        for block in ("declarative", "unit_tests"):
            counts = getattr(result, block, None)
            if counts is not None:
                summary[block] = {k: getattr(counts, k, None) for k in ("total", "passed", "failed")}
        capped(summary, "failures", failing_tests(result), _named)
        capped(summary, "warned", warned_tests(result), _named)
    return summary


def test_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "test")]
    result = verdict.result
    if result is not None:
        failing, warned = failing_tests(result), warned_tests(result)
        lines.append((f"  {result.passed} of {result.total} model test(s) passed", bool(result.failed)))
        lines += [(f"    FAILED {name}: {error}", True) for name, error in failing[:40]]
        lines += [(f"    WARNED {name}: {error}", True) for name, error in warned[:40]]
    return lines + _note_lines(verdict)


def ci_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is not None:
        keep = ("compile_ok", "tests_ok", "models_compiled", "tests_passed", "tests_failed")
        summary.update({key: getattr(result, key) for key in keep}, engine_exit_code=result.exit_code)
        _diagnostics(summary, list(result.diagnostics))
        capped(summary, "failures", list(result.failures), _failure)
    return summary


def ci_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "ci")]
    result = verdict.result
    if result is not None:
        compiled = "ok" if result.compile_ok else "FAILED"
        text = f"  compile {compiled}; tests {result.tests_passed} passed, {result.tests_failed} failed"
        lines.append((text, not (result.compile_ok and result.tests_ok) or bool(result.diagnostics)))
        lines += _diagnostic_lines(list(result.diagnostics))
        lines += [(f"    FAILED {f.name}: {f.error}", True) for f in result.failures[:40]]
    return lines + _note_lines(verdict)


# -- freshness ------------------------------------------------------------------------------------


def freshness_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    rows = freshness_rows(result)
    summary["counts"] = dict(Counter(status_of(entry) for _kind, entry in rows))
    stale = [(kind, e) for kind, e in rows if status_of(e) != "pass"]
    capped(
        summary,
        "not_fresh",
        stale,
        lambda row: {
            "kind": row[0],
            "name": row[1].name,
            "status": status_of(row[1]),
            "age_seconds": getattr(row[1], "age_seconds", None),
        },
    )
    return summary


def freshness_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "freshness")]
    if verdict.result is not None:
        for kind, entry in freshness_rows(verdict.result):
            status = status_of(entry)
            if status != "pass":
                age = getattr(entry, "age_seconds", None)
                lines.append((f"    {status.upper()} {kind} {entry.name} ({age}s old)", True))
    return lines + _note_lines(verdict)


# -- plan -----------------------------------------------------------------------------------------


def plan_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """``plan_id`` plus the statement summary a reviewer approves (and ``apply`` then runs)."""
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    statements = list(result.statements)
    summary.update(
        plan_id=result.plan_id,
        plan_kind=result.plan_kind,
        filter=result.filter,
        env=result.env,
        created_at=result.created_at.isoformat() if result.created_at else None,
        statements_total=len(statements),
        statements_by_purpose=dict(Counter(s.purpose for s in statements)),
        models=list(result.models[:MAX_ITEMS]),
        execution_layers=len(result.execution_layers),
    )
    capped(summary, "targets", list(dict.fromkeys(s.target for s in statements)))
    budget = list(getattr(result, "budget_diagnostics", None) or [])
    summary["has_budget_errors"] = bool(getattr(result, "has_budget_errors", False))
    capped(summary, "budget_diagnostics", budget, _diagnostic)
    return summary


def plan_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "plan")]
    result = verdict.result
    if result is not None:
        purposes = ", ".join(f"{n} {p}" for p, n in Counter(s.purpose for s in result.statements).items())
        count = len(result.statements)
        lines.append(
            (f"  plan {result.plan_id} ({result.plan_kind}): {count} statement(s): {purposes}", False)
        )
        lines += [(f"    {s.purpose} {s.target}", False) for s in result.statements[:40]]
    return lines + _note_lines(verdict)
