"""The XCom summary and the end-of-run report of the gate commands and of ``rocky plan``.

Bounded in bytes (:mod:`.bounded`): every text the engine gave is cut, every list holds at most
:data:`~airflow_provider_rocky._verdict.summary.MAX_ITEMS` entries with a ``*_total`` beside it,
every count map :data:`~.bounded.MAX_KEYS` keys, and a summary never exceeds
:data:`~.bounded.MAX_SUMMARY_BYTES` (64 KiB) of JSON; a report logs at most
:data:`~.bounded.LOGGED` entries per list. Warnings are reported at WARNING: a doctor warning, a W004
diagnostic, a ``warn`` freshness entry. A plan's summary is what a reviewer approves: its id, how many
statements of each purpose, the targets they touch, the models and layers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._verdict.bounded import counts, fit, listed, names, text
from airflow_provider_rocky._verdict.gates import (
    errors_of,
    failing_tests,
    freshness_rows,
    render_diagnostic,
    status_of,
    warned_tests,
    warnings_of,
)
from airflow_provider_rocky._verdict.summary import capped
from airflow_provider_rocky._verdict.verdict import Verdict

Lines = list[tuple[str, bool]]


def _base(verdict: Verdict) -> dict[str, Any]:
    return {
        "outcome": verdict.outcome,
        "exit_code": verdict.exit_code,
        "run_id": text(verdict.run_id),
        "category": verdict.error.category if verdict.error else None,
        "engine_version": text(getattr(verdict.result, "version", None)),
        "notes": names(verdict.notes),
    }


def _head(verdict: Verdict, command: str) -> tuple[str, bool]:
    return (
        f"Rocky {command} summary: outcome={verdict.outcome} exit_code={verdict.exit_code}",
        verdict.error is not None,
    )


def _note_lines(verdict: Verdict) -> Lines:
    return listed(verdict.notes, lambda note: (f"  rocky output: {text(note)}", True), "note(s)", 20)


# -- doctor ---------------------------------------------------------------------------------------


def _status(check: Any) -> str:
    return str(getattr(check.status, "value", check.status))


def doctor_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    summary["overall"] = text(result.overall)
    capped(
        summary,
        "checks",
        result.checks,
        lambda c: {"name": text(c.name), "status": text(_status(c)), "message": text(c.message)},
    )
    summary["critical"] = names(c.name for c in result.checks if _status(c) == "critical")
    summary["warnings"] = names(c.name for c in result.checks if _status(c) == "warning")
    capped(summary, "suggestions", list(result.suggestions), text)
    return fit(summary)


def doctor_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    """The worrying checks first, at most :data:`~.bounded.LOGGED` of them; healthy ones counted."""
    lines: Lines = [_head(verdict, "doctor")]
    result = verdict.result
    if result is None:
        return lines
    overall = text(result.overall)
    lines.append((f"  overall: {overall}; {len(result.checks)} check(s)", result.overall != "healthy"))
    worrying = [c for c in result.checks if _status(c) != "healthy"]
    lines += listed(
        worrying,
        lambda c: (f"    {text(_status(c).upper())} {text(c.name)}: {text(c.message)}", True),
        "check(s) not healthy",
    )
    if len(worrying) < len(result.checks):
        lines.append((f"    {len(result.checks) - len(worrying):,} check(s) healthy", False))
    lines += listed(
        list(result.suggestions), lambda t: (f"  suggestion: {text(t)}", True), "suggestion(s)", 20
    )
    return lines + _note_lines(verdict)


# -- compile, test, ci ----------------------------------------------------------------------------


def _diagnostic(d: Any) -> dict[str, Any]:
    span = getattr(d, "span", None)
    line = getattr(span, "line", None)
    return {
        "model": text(d.model),
        "code": text(d.code),
        "severity": text(getattr(d.severity, "value", d.severity)),
        "message": text(d.message),
        "file": text(getattr(span, "file", None)),
        "line": line if isinstance(line, int) else text(line),
        "suggestion": text(getattr(d, "suggestion", None)),
    }


def _diagnostics(summary: dict[str, Any], diagnostics: list[Any]) -> None:
    summary["errors_total"] = len(errors_of(diagnostics))
    summary["warnings_total"] = len(warnings_of(diagnostics))
    capped(summary, "diagnostics", diagnostics, _diagnostic)


def _severity(d: Any) -> Any:
    return getattr(d.severity, "value", d.severity)


def _diagnostic_lines(diagnostics: list[Any]) -> Lines:
    return listed(
        [*errors_of(diagnostics), *warnings_of(diagnostics)],
        lambda d: (f"    {str(text(_severity(d))).upper()} {text(render_diagnostic(d), 1000)}", True),
        "diagnostic(s)",
    )


def compile_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is not None:
        summary.update(
            models=result.models, execution_layers=result.execution_layers, has_errors=result.has_errors
        )
        _diagnostics(summary, list(result.diagnostics))
    return fit(summary)


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
    return {"name": text(row[0]), "error": text(row[1])}


def _failure(f: Any) -> dict[str, Any]:
    return {"name": text(f.name), "error": text(f.error)}


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
    return fit(summary)


def test_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "test")]
    result = verdict.result
    if result is not None:
        failing, warned = failing_tests(result), warned_tests(result)
        lines.append((f"  {result.passed} of {result.total} model test(s) passed", bool(result.failed)))
        lines += listed(
            failing, lambda row: (f"    FAILED {text(row[0])}: {text(row[1])}", True), "failure(s)"
        )
        lines += listed(
            warned, lambda row: (f"    WARNED {text(row[0])}: {text(row[1])}", True), "warning(s)"
        )
    return lines + _note_lines(verdict)


def ci_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is not None:
        keep = ("compile_ok", "tests_ok", "models_compiled", "tests_passed", "tests_failed")
        summary.update({key: getattr(result, key) for key in keep}, engine_exit_code=result.exit_code)
        _diagnostics(summary, list(result.diagnostics))
        capped(summary, "failures", list(result.failures), _failure)
    return fit(summary)


def ci_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "ci")]
    result = verdict.result
    if result is not None:
        compiled = "ok" if result.compile_ok else "FAILED"
        head = f"  compile {compiled}; tests {result.tests_passed} passed, {result.tests_failed} failed"
        lines.append((head, not (result.compile_ok and result.tests_ok) or bool(result.diagnostics)))
        lines += _diagnostic_lines(list(result.diagnostics))
        lines += listed(
            list(result.failures),
            lambda f: (f"    FAILED {text(f.name)}: {text(f.error)}", True),
            "failure(s)",
        )
    return lines + _note_lines(verdict)


# -- freshness ------------------------------------------------------------------------------------


def freshness_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    rows = freshness_rows(result)
    summary["counts"] = counts(Counter(status_of(entry) for _kind, entry in rows))
    stale = [(kind, e) for kind, e in rows if status_of(e) != "pass"]
    capped(
        summary,
        "not_fresh",
        stale,
        lambda row: {
            "kind": row[0],
            "name": text(row[1].name),
            "status": text(status_of(row[1])),
            "age_seconds": _number(getattr(row[1], "age_seconds", None)),
        },
    )
    return fit(summary)


def _number(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float) else text(value)


def freshness_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "freshness")]
    if verdict.result is not None:
        stale = [(kind, e) for kind, e in freshness_rows(verdict.result) if status_of(e) != "pass"]
        lines += listed(stale, _freshness_line, "entries not fresh")
    return lines + _note_lines(verdict)


def _freshness_line(row: tuple[str, Any]) -> tuple[str, bool]:
    kind, entry = row
    age = _number(getattr(entry, "age_seconds", None))
    return f"    {text(status_of(entry).upper())} {kind} {text(entry.name)} ({age}s old)", True


# -- plan -----------------------------------------------------------------------------------------


def plan_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """``plan_id`` plus the statement summary a reviewer approves (and ``apply`` then runs)."""
    summary = _base(verdict)
    result = verdict.result
    if result is None:
        return summary
    statements = list(result.statements)
    summary.update(
        plan_id=text(result.plan_id),
        plan_kind=text(result.plan_kind),
        filter=text(result.filter),
        env=text(result.env),
        created_at=result.created_at.isoformat() if result.created_at else None,
        statements_total=len(statements),
        statements_by_purpose=counts(Counter(s.purpose for s in statements)),
        models=names(result.models),
        models_total=len(result.models),
        execution_layers=len(result.execution_layers),
    )
    capped(summary, "targets", list(dict.fromkeys(s.target for s in statements)), text)
    budget = list(getattr(result, "budget_diagnostics", None) or [])
    summary["has_budget_errors"] = bool(getattr(result, "has_budget_errors", False))
    capped(summary, "budget_diagnostics", budget, _diagnostic)
    return fit(summary)


def plan_report(verdict: Verdict, pipes: PipesRecord | None = None) -> Lines:
    lines: Lines = [_head(verdict, "plan")]
    result = verdict.result
    if result is not None:
        by_purpose = counts(Counter(s.purpose for s in result.statements))
        purposes = ", ".join(f"{n} {p}" for p, n in by_purpose.items())
        count = len(result.statements)
        head = f"  plan {text(result.plan_id)} ({text(result.plan_kind)}): {count} statement(s): {purposes}"
        lines.append((head, False))
        lines += listed(
            list(result.statements),
            lambda s: (f"    {text(s.purpose)} {text(s.target)}", False),
            "statement(s)",
        )
    return lines + _note_lines(verdict)
