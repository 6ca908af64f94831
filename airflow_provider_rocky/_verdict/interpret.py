"""The one place that decides what a rocky run meant, whichever mode ran it and whichever engine.

Rules (contract §3): JSON on stdout decides whether there is a result, not the exit code. Exit 2
without JSON is the argument parser (a usage error), exit 2 with JSON a partial success; exit 1 may
carry JSON (total failure, budget breach, quality gate) or only ``Error: ...`` on stderr; 130 with
JSON is an interrupted run. The result is read with rocky-sdk's own ``RunResult`` model, tolerantly
(:mod:`~airflow_provider_rocky._verdict.parse`): engine 1.71 through 1.77 and rocky-sdk 0.15 through 0.29.

Precedence, most specific first, for a run that printed a result: interrupted; skipped by its
idempotency key; an unknown ``status`` (``output``: this provider cannot know what it means); the
check gate (``check_gate_failed``, ``verify_after_failed``, or the engine's quality-gate message:
``quality_check``, before the partial branch, because engines after 1.71 report a gated run as
``PartialFailure`` with exit 2 and its tables must not become asset events); success; partial
success; budget; per-table errors by ``failure_kind``. A process ended by a signal nobody in this
task sent gets one verdict whether or not it printed JSON (:func:`_signal_error`).

:func:`interpret` never raises: it returns a :class:`Verdict` whose ``error`` the caller raises
*after* it has pushed XCom, so a failed run's landed tables are still reported.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.observations import Observations, observe
from airflow_provider_rocky._verdict.parse import RUN_TOLERANCE, ResultError, parse

if TYPE_CHECKING:  # rocky-sdk and pydantic models load on first use, not at DAG parse time
    from rocky_sdk.types import RunResult

Outcome = Literal["success", "partial", "skipped", "failed"]

#: Every ``status`` the engine prints (contract §2.1; unchanged through rocky-sdk 0.29).
KNOWN_STATUSES = frozenset({"Success", "PartialFailure", "Failure", "SkippedIdempotent", "SkippedInFlight"})
#: ``failure_kind`` values a later retry can fix (rocky's own per-table-error-containment guidance).
TRANSIENT_KINDS = frozenset({"transient", "connection-failed", "quota-exceeded"})
#: ``failure_kind`` values a retry cannot fix.
FATAL_KINDS = frozenset({"auth-failed", "query-rejected", "not-found"})
#: Every ``failure_kind`` the engine documents; any other is a newer engine's, read as ``engine``.
KNOWN_KINDS = TRANSIENT_KINDS | FATAL_KINDS | {"compile-error", "unknown"}
#: Signals that mean the engine crashed (a bug), not that someone stopped it.
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})
_CONTRACT_CODE = re.compile(r"\bE01[0-3]\b")
_STATE_BUSY = ("locked by another process", "is busy")
_STATE_BROKEN = ("state schema version mismatch", "corrupt", "refusing to exit 0: the state ledger")
_GOVERNANCE = ("governance", "workspace_ids", "grant", "policy")
_USAGE = ("invalid filter", "not allowed with", "cannot be used with", "requires a remote", "invalid value")
_GATE_TEXT = ("quality pipeline failed", "check gate failed", "verify_after")


@dataclass
class Verdict:
    """What the run meant: its outcome, the parsed result (if any), and the error to raise (if any)."""

    outcome: Outcome
    result: RunResult | None
    error: exc.RockyError | None
    exit_code: int | None
    run_id: str | None = None
    #: What the result says beyond the verdict (anomalies, volume, contained, ...); ``None`` without one.
    observations: Observations | None = None

    @property
    def failed_tables(self) -> list[str]:
        """Readable names of the tables the engine reported as failed."""
        if self.result is None:
            return []
        return [error_table(err.asset_key, err.error) for err in self.result.errors]


def error_table(asset_key: Sequence[str], message: str = "") -> str:
    """Name an ``errors[]`` entry: its key can be ``[]``, ``[""]``, ``["<compile>"]``, ``[model]``...

    An empty key names nothing; the engine's message usually does (``statement failed on wh.s.t``).
    """
    named = [part for part in asset_key if part]
    if named:
        return ".".join(named)
    found = re.search(r"\b(?:on|of|for|table|model)\s+([A-Za-z0-9_$]+(?:\.[A-Za-z0-9_$]+){1,2})\b", message)
    return found.group(1) if found else "<table not named by the engine>"


def interpret(
    outcome: ProcessOutcome,
    *,
    command: Sequence[str] = (),
    binary: str = "rocky",
    fail_on_partial: bool = False,
    max_stdout_bytes: int | None = None,
) -> Verdict:
    """Decide success / partial / skipped / failed for one finished process; never raises."""
    make = _ErrorFactory(outcome, command)
    try:
        return _interpret(outcome, make, binary, fail_on_partial, max_stdout_bytes)
    except Exception as err:  # a provider bug must still fail the task with a category and the tail
        return make.failed(make(exc.RockyOutputError, f"the provider could not interpret this run ({err!r})"))


def _interpret(
    outcome: ProcessOutcome, make: _ErrorFactory, binary: str, fail_on_partial: bool, cap: int | None
) -> Verdict:
    if outcome.spawn_error is not None:
        message = f"could not start rocky binary {binary!r} ({outcome.spawn_error}). {exc.INSTALL_HINT}"
        return make.failed(make(exc.RockyBinaryNotFoundError, message))
    if outcome.stdout_overflow:
        message = (
            f"rocky wrote {outcome.stdout_bytes} bytes to stdout, past the cap of {cap} bytes "
            "(raise max_stdout_bytes if this run is really that large)"
        )
        return make.failed(make(exc.RockyOutputError, message))
    result, unreadable = _read(outcome, make)
    if outcome.timed_out:  # what landed before the deadline is still reported (result attached)
        budget = outcome.deadline_reason or "the run's deadline"
        return make.failed(
            make(exc.RockyTimeoutError, f"rocky was stopped after exceeding {budget}", result), result
        )
    if outcome.killed:
        reason = "rocky was stopped because the task was killed (on_kill / cancel)"
        return make.failed(make(exc.RockyInterruptedError, reason, result), result)
    if unreadable is not None:
        return make.failed(make(exc.RockyOutputError, f"rocky's stdout is not a RunResult ({unreadable})"))
    if (code := outcome.exit_code) is not None and code < 0:
        return make.failed(_signal_error(-code, make, result), result)
    if result is None:
        return make.failed(_without_json(outcome, make))
    return _with_json(outcome, result, make, fail_on_partial)


def _read(outcome: ProcessOutcome, make: _ErrorFactory) -> tuple[RunResult | None, str | None]:
    """The result on stdout, or why there is none readable (``None`` for an empty stdout)."""
    if not outcome.stdout.lstrip().startswith(b"{"):
        if outcome.stdout.strip():
            preview = outcome.stdout[:200].decode("utf-8", "backslashreplace")
            return None, f"it is not JSON: {preview!r}"
        return None, None
    try:
        parsed = parse(_run_model(), outcome.stdout, RUN_TOLERANCE)
    except ResultError as err:
        return None, str(err)
    make.observations = observe(parsed.result, outcome.stdout, parsed.notes)
    return parsed.result, None


def _run_model() -> type[RunResult]:
    from rocky_sdk.types import RunResult

    return RunResult


class _ErrorFactory:
    """Builds errors (and failed verdicts) that all carry the same exit code, stderr tail and command."""

    def __init__(self, outcome: ProcessOutcome, command: Sequence[str]) -> None:
        self.outcome = outcome
        self.command = command
        self.observations: Observations | None = None

    def __call__(
        self, cls: type[exc.RockyError], message: str, result: RunResult | None = None
    ) -> exc.RockyError:
        return cls(
            message,
            exit_code=self.outcome.exit_code,
            stderr_tail=self.outcome.stderr_tail,
            result=result,
            command=self.command,
        )

    def verdict(self, outcome: Outcome, result: RunResult | None, error: exc.RockyError | None) -> Verdict:
        return Verdict(outcome, result, error, self.outcome.exit_code, self.outcome.run_id, self.observations)

    def failed(self, error: exc.RockyError, result: RunResult | None = None) -> Verdict:
        return self.verdict("failed", result, error)


def _signal_error(number: int, make: _ErrorFactory, result: RunResult | None) -> exc.RockyError:
    """A signal this task did not send: one verdict, with or without JSON on stdout.

    SIGKILL is what the OOM killer and a node drain send: retryable. A crash signal (SIGSEGV, SIGABRT,
    SIGBUS, SIGILL, SIGFPE) is an engine bug a retry rarely fixes: not retryable. Any other signal
    (SIGTERM, SIGINT, SIGHUP from outside) stopped the run: interrupted, retryable.
    """
    name = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
    if number == signal.SIGKILL:
        message = f"rocky was killed by {name}, sent by something outside this task (OOM killer, node drain?)"
        return make(exc.RockyTransientEngineError, message, result)
    if number in CRASH_SIGNALS:
        return make(
            exc.RockyEngineError,
            f"rocky crashed ({name}): an engine bug; report it with the stderr tail",
            result,
        )
    return make(exc.RockyInterruptedError, f"rocky was stopped by {name} from outside this task", result)


def _without_json(outcome: ProcessOutcome, make: _ErrorFactory) -> exc.RockyError:
    code = outcome.exit_code
    error_text = _error_text(outcome.stderr_tail)
    lowered = error_text.lower()
    if code == 0:
        return make(exc.RockyOutputError, "rocky exited 0 but printed no RunResult on stdout")
    if code == 2:
        return make(exc.RockyUsageError, f"the engine refused its arguments: {error_text or 'usage error'}")
    if code == 130:
        return make(exc.RockyInterruptedError, "rocky was interrupted before it could report a result")
    message = error_text or f"rocky exited {code} without a result"
    if any(marker in lowered for marker in _STATE_BUSY):
        return make(exc.RockyStateBusyError, f"the state store is held by another writer: {message}")
    if any(marker in lowered for marker in _STATE_BROKEN):
        return make(exc.RockyStateError, f"the state store is unusable: {message}")
    if any(marker in lowered for marker in _USAGE):
        return make(exc.RockyUsageError, message)
    if any(marker in lowered for marker in _GOVERNANCE):
        return make(exc.RockyGovernanceError, f"governance refused the run: {message}")
    if "budget exceeded" in lowered:
        return make(exc.RockyBudgetError, message)
    return make(exc.RockyEngineError, message)


def _with_json(
    outcome: ProcessOutcome, result: RunResult, make: _ErrorFactory, fail_on_partial: bool
) -> Verdict:
    code, status = outcome.exit_code, result.status
    error_text = _error_text(outcome.stderr_tail)
    if result.interrupted or code == 130:
        reason = "rocky was interrupted (SIGTERM/SIGINT) and reported what landed"
        return make.failed(make(exc.RockyInterruptedError, reason, result), result)
    if status == "SkippedIdempotent":
        return make.verdict("skipped", result, None)
    if status == "SkippedInFlight":
        message = (
            f"another run holds idempotency key {result.idempotency_key!r} (in flight: "
            f"{result.skipped_by_run_id}); retry once it has finished"
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
    message = error_text or f"rocky exited {code} with status {status}"
    return make.failed(make(exc.RockyEngineError, message, result), result)


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


def _table_errors(result: RunResult, make: _ErrorFactory) -> exc.RockyError:
    """Classify a failed run by its ``errors[].failure_kind`` values (README, Failures)."""
    kinds = {err.failure_kind for err in result.errors}
    first = result.errors[0]
    where = error_table(first.asset_key, first.error)
    detail = f"{len(result.errors)} table(s) failed; first: {where}: {first.error[:300]}"
    unrecognized = kinds - KNOWN_KINDS
    if kinds == {"compile-error"}:
        if any(_CONTRACT_CODE.search(err.error) for err in result.errors):
            return make(exc.RockyContractError, f"data contract violated: {detail}", result)
        return make(exc.RockyCompileError, f"models failed to compile: {detail}", result)
    if unrecognized:
        known, odd = ", ".join(sorted(KNOWN_KINDS)), ", ".join(sorted(unrecognized))
        message = f"unrecognized failure_kind {odd} (this provider knows {known}): {detail}"
        return make(exc.RockyEngineError, message, result)
    if kinds <= TRANSIENT_KINDS:
        return _transient(result, make, kinds, detail)
    if kinds & FATAL_KINDS:
        return make(
            exc.RockyAdapterError,
            f"the warehouse refused the work ({', '.join(sorted(kinds))}): {detail}",
            result,
        )
    return make(exc.RockyEngineError, detail, result)


def _transient(result: RunResult, make: _ErrorFactory, kinds: set[str], detail: str) -> exc.RockyError:
    error = make(
        exc.RockyTransientAdapterError,
        f"the warehouse failed transiently ({', '.join(sorted(kinds))}): {detail}",
        result,
    )
    cooldowns = [err.cooldown_seconds for err in result.errors if err.cooldown_seconds]
    error.cooldown_seconds = max(cooldowns) if cooldowns else None  # type: ignore[attr-defined]
    return error


def _partial_error(result: RunResult, make: _ErrorFactory) -> exc.RockyError:
    kinds = {err.failure_kind for err in result.errors}
    failed = ", ".join(error_table(err.asset_key, err.error) for err in result.errors[:10]) or (
        f"{result.tables_failed} table(s)"
    )
    message = f"partial success and fail_on_partial=True: {result.tables_failed} table(s) failed ({failed})"
    if kinds and kinds <= TRANSIENT_KINDS:
        return make(exc.RockyTransientPartialFailure, message, result)
    return make(exc.RockyPartialFailure, message, result)


def _error_text(tail: Sequence[str]) -> str:
    """The engine's final ``Error: ...`` message (with its ``Caused by`` chain) from the stderr tail."""
    for index in range(len(tail) - 1, -1, -1):
        line = tail[index]
        if line.startswith("Error:") or line.startswith("error:"):
            rest = " ".join(part.strip() for part in tail[index + 1 :] if part.strip())
            return f"{line[6:].strip()} {rest}".strip()
    return ""
