"""``rocky run`` (and ``rocky apply`` of a run plan): what its result means, whichever engine.

Rules (contract §3): JSON on stdout decides whether there is a result, not the exit code. Exit 2
without JSON is the argument parser (a usage error), exit 2 with JSON a partial success; exit 1 may
carry JSON (total failure, budget breach, quality gate) or only ``Error: ...`` on stderr; 130 with
JSON is an interrupted run. The result is read with rocky-sdk's own ``RunResult`` model, tolerantly
(:mod:`~airflow_provider_rocky._verdict.parse`): engine 1.71 through 1.77 and rocky-sdk 0.15 through 0.29.
Everything before the result is the shared pipeline (:mod:`~airflow_provider_rocky._verdict.verdict`).

Precedence for a run that printed a result, most specific first: interrupted; skipped by its
idempotency key; an unknown ``status`` (``output``: this provider cannot know what it means); the
check gate (``check_gate_failed``, ``verify_after_failed``, or the engine's quality-gate message:
``quality_check``, before the partial branch, because engines after 1.71 report a gated run as
``PartialFailure`` with exit 2 and its tables must not become asset events); success; partial
success; budget; per-table errors by ``failure_kind`` (a kind the engine does not document is read
as ``engine``, retryable: nothing says a retry cannot help; an ``unknown`` kind whose text names a
network or transient warehouse failure reads as ``adapter``, transient, :mod:`.wording`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import wording
from airflow_provider_rocky._verdict.observations import observe
from airflow_provider_rocky._verdict.parse import RUN_TOLERANCE
from airflow_provider_rocky._verdict.verdict import (
    CRASH_SIGNALS,
    ErrorFactory,
    Outcome,
    Reading,
    Verdict,
    error_table,
    interpret_with,
)

if TYPE_CHECKING:  # rocky-sdk and pydantic models load on first use, not at DAG parse time
    from rocky_sdk.types import RunResult

__all__ = [
    "CRASH_SIGNALS",
    "KNOWN_KINDS",
    "KNOWN_STATUSES",
    "RUN_READING",
    "TRANSIENT_KINDS",
    "Outcome",
    "Verdict",
    "decide_run",
    "error_table",
    "interpret",
]

#: Every ``status`` the engine prints (contract §2.1; unchanged through rocky-sdk 0.29).
KNOWN_STATUSES = frozenset({"Success", "PartialFailure", "Failure", "SkippedIdempotent", "SkippedInFlight"})
#: ``failure_kind`` values a later retry can fix (rocky's own per-table-error-containment guidance).
TRANSIENT_KINDS = frozenset({"transient", "connection-failed", "quota-exceeded"})
#: ``failure_kind`` values a retry cannot fix.
FATAL_KINDS = frozenset({"auth-failed", "query-rejected", "not-found"})
#: Every ``failure_kind`` the engine documents; any other is a newer engine's, read as ``engine``.
KNOWN_KINDS = TRANSIENT_KINDS | FATAL_KINDS | {"compile-error", "unknown"}
_CONTRACT_CODE = re.compile(r"\bE01[0-3]\b")
_GATE_TEXT = ("quality pipeline failed", "check gate failed", "verify_after")


def _run_model() -> type[RunResult]:
    from rocky_sdk.types import RunResult

    return RunResult


#: How ``rocky run`` stdout is read: rocky-sdk's ``RunResult``, its tolerance, its observations.
RUN_READING = Reading(_run_model, "RunResult", RUN_TOLERANCE, observe)


def interpret(
    outcome: ProcessOutcome,
    *,
    command: Sequence[str] = (),
    binary: str = "rocky",
    fail_on_partial: bool = False,
    max_stdout_bytes: int | None = None,
) -> Verdict:
    """Decide success / partial / skipped / failed for one finished ``rocky run``; never raises."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        return decide_run(ended, result, make, fail_on_partial)

    return interpret_with(
        outcome, RUN_READING, decide, command=command, binary=binary, max_stdout_bytes=max_stdout_bytes
    )


def decide_run(
    outcome: ProcessOutcome, result: RunResult, make: ErrorFactory, fail_on_partial: bool
) -> Verdict:
    """A run that printed its result (module docstring: the precedence)."""
    code, status = outcome.exit_code, result.status
    error_text = make.error_text
    if result.interrupted or code == 130:
        reason = "rocky was interrupted (SIGTERM/SIGINT) and reported what landed"
        return make.failed(make(exc.RockyInterruptedError, reason, result), result)
    if status == "SkippedIdempotent":
        return make.verdict("skipped", result, None)
    if status == "SkippedInFlight":
        message = (
            f"idempotency key {result.idempotency_key!r} is held by rocky run {result.skipped_by_run_id}, "
            "which has not finished (SkippedInFlight). The engine never checks whether that run still "
            "lives: a run killed without a handler (a dead triggerer or worker, SIGTERM outside the "
            "replication fan-out) keeps its claim until [state.idempotency] in_flight_ttl_hours (24 h by "
            "default). A retry runs under a key of its own (deferrable tasks: the try number is in it); "
            "if that run really is still going, let it finish first (rocky history shows it)"
        )
        return make.failed(make(exc.RockyStateBusyError, message, result), result)
    if status is not None and status not in KNOWN_STATUSES:
        message = (
            f"rocky reported status {status!r}, which this provider does not know (it knows "
            f"{', '.join(sorted(KNOWN_STATUSES))}): upgrade airflow-provider-rocky"
        )
        return make.failed(make(exc.RockyOutputError, message, result), result)
    if gate := _gate(result, error_text):
        return make.failed(make(exc.RockyQualityCheckError, gate, result), result)
    if code == 0 and status in (None, "Success"):
        return make.verdict("success", result, None)
    if code in (0, 2) and (status or _derived_status(result)) == "PartialFailure":
        return make.verdict("partial", result, _partial_error(result, make) if fail_on_partial else None)
    if result.budget_breaches or "budget exceeded" in error_text.lower():
        breaches = "; ".join(
            f"{b.limit_type}: actual {b.actual} > limit {b.limit}" for b in result.budget_breaches
        )
        return make.failed(
            make(exc.RockyBudgetError, f"budget exceeded ({breaches or error_text})", result), result
        )
    if result.errors:
        return make.failed(_table_errors(result, make), result)
    cls, prefix = wording.classify(error_text)
    message = error_text or f"rocky exited {code} with status {status}"
    return make.failed(make(cls, f"{prefix}{message}", result), result)


def _derived_status(result: RunResult) -> str | None:
    """Older outputs without ``status``: the engine's own rule (problem with progress is partial)."""
    return "PartialFailure" if result.tables_failed and result.tables_copied else None


def _gate(result: RunResult, error_text: str) -> str | None:
    """Why the engine's check gate failed the run, naming the checks; ``None`` if it did not."""
    verify = bool(getattr(result, "verify_after_failed", False)) or "verify_after" in error_text.lower()
    gated = bool(getattr(result, "check_gate_failed", False))
    if not (verify or gated or any(text in error_text.lower() for text in _GATE_TEXT)):
        return None
    failed = [
        f"{'.'.join(table.asset_key)}: {check.name}"
        for table in result.check_results
        for check in table.checks
        if not check.passed and check.severity != "warning"
    ]
    which = "the verify_after gate" if verify and not gated else "the check gate"
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        return f"{which} failed the run; error-severity checks failed: {shown}"
    return (
        f"{which} failed the run, but no failing check is in this result (a gate inherited by a resumed "
        f"run, or checks outside this selection): {error_text or 'see the engine log'}"
    )


def _table_errors(result: RunResult, make: ErrorFactory) -> exc.RockyError:
    """Classify a failed run by its ``errors[].failure_kind`` values (docs/results.md, Failures)."""
    kinds = {err.failure_kind for err in result.errors}
    first = result.errors[0]
    where = error_table(first.asset_key, first.error)
    detail = f"{len(result.errors)} table(s) failed; first: {where}: {first.error[:300]}"
    unrecognized = kinds - KNOWN_KINDS
    if "compile-error" in kinds:  # a retry recompiles the same models
        compiled = [err for err in result.errors if err.failure_kind == "compile-error"]
        if any(_CONTRACT_CODE.search(err.error) for err in compiled):
            return make(exc.RockyContractError, f"data contract violated: {detail}", result)
        return make(exc.RockyCompileError, f"models failed to compile: {detail}", result)
    if kinds & FATAL_KINDS:
        return make(
            exc.RockyAdapterError,
            f"the warehouse refused the work ({', '.join(sorted(kinds))}): {detail}",
            result,
        )
    if unrecognized:
        known, odd = ", ".join(sorted(KNOWN_KINDS)), ", ".join(sorted(unrecognized))
        message = f"unrecognized failure_kind {odd} (this provider knows {known}): {detail}"
        return make(exc.RockyEngineError, message, result)
    if kinds <= TRANSIENT_KINDS or all(
        err.failure_kind in TRANSIENT_KINDS or wording.is_transient(err.error) for err in result.errors
    ):
        return _transient(result, make, kinds, detail)
    return make(exc.RockyEngineError, detail, result)


def _transient(result: RunResult, make: ErrorFactory, kinds: set[str], detail: str) -> exc.RockyError:
    error = make(
        exc.RockyTransientAdapterError,
        f"the warehouse failed transiently ({', '.join(sorted(kinds))}): {detail}",
        result,
    )
    cooldowns = [err.cooldown_seconds for err in result.errors if err.cooldown_seconds]
    error.cooldown_seconds = max(cooldowns) if cooldowns else None  # type: ignore[attr-defined]
    return error


def _partial_error(result: RunResult, make: ErrorFactory) -> exc.RockyError:
    kinds = {err.failure_kind for err in result.errors}
    failed = ", ".join(error_table(err.asset_key, err.error) for err in result.errors[:10]) or (
        f"{result.tables_failed} table(s)"
    )
    message = f"partial success and fail_on_partial=True: {result.tables_failed} table(s) failed ({failed})"
    if kinds and kinds <= TRANSIENT_KINDS:
        return make(exc.RockyTransientPartialFailure, message, result)
    return make(exc.RockyPartialFailure, message, result)
