"""The one place that decides what a rocky run meant, whichever mode ran it.

Rules (contract §3): JSON on stdout decides whether there is a result, not the exit code. Exit 2
without JSON is the argument parser (a usage error), exit 2 with JSON a partial success; exit 1 may
carry JSON (total failure, budget breach, quality gate) or only ``Error: ...`` on stderr; 130 with
JSON is an interrupted run. The result is parsed with rocky-sdk's own ``RunResult`` model.

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
from airflow_provider_rocky._engine import spawn
from airflow_provider_rocky._engine.process import ProcessOutcome

if TYPE_CHECKING:  # rocky-sdk and pydantic models load on first use, not at DAG parse time
    from pydantic import ValidationError
    from rocky_sdk.types import RunResult

Outcome = Literal["success", "partial", "skipped", "failed"]

#: failure_kind values a later retry can fix (rocky's own per-table-error-containment guidance).
TRANSIENT_KINDS = frozenset({"transient", "connection-failed", "quota-exceeded"})
_CONTRACT_CODE = re.compile(r"\bE01[0-3]\b")
_STATE_BUSY = ("locked by another process", "is busy")
_STATE_BROKEN = ("state schema version mismatch", "corrupt", "refusing to exit 0: the state ledger")
_GOVERNANCE = ("governance", "workspace_ids", "grant", "policy")
_USAGE = ("invalid filter", "not allowed with", "cannot be used with", "requires a remote", "invalid value")


@dataclass
class Verdict:
    """What the run meant: its outcome, the parsed result (if any), and the error to raise (if any)."""

    outcome: Outcome
    result: RunResult | None
    error: exc.RockyError | None
    exit_code: int | None
    run_id: str | None = None

    @property
    def failed_tables(self) -> list[str]:
        """Readable names of the tables the engine reported as failed."""
        if self.result is None:
            return []
        return [error_table(err.asset_key) for err in self.result.errors]


def error_table(asset_key: Sequence[str]) -> str:
    """Name an ``errors[]`` entry: its asset key can be ``[]``, ``["<compile>"]``, ``[model]``..."""
    return ".".join(asset_key) if asset_key else "<unnamed table>"


def parse_result(stdout: bytes) -> RunResult:
    """stdout → ``RunResult`` with rocky-sdk's model; raises ``ValueError`` when it is not one."""
    from pydantic import ValidationError
    from rocky_sdk.types import RunResult

    try:
        return RunResult.model_validate_json(stdout)
    except ValidationError as err:
        raise ValueError(_short_validation(err)) from None


def _short_validation(err: ValidationError) -> str:
    problems = err.errors()
    if not problems:
        return "invalid RunResult"
    where = ".".join(str(part) for part in problems[0]["loc"]) or "<document>"
    return f"{len(problems)} problem(s), first at {where}: {problems[0]['msg']}"


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

    def fail(error: exc.RockyError, result: RunResult | None = None) -> Verdict:
        return Verdict("failed", result, error, outcome.exit_code, outcome.run_id)

    if outcome.spawn_error is not None:
        kind = outcome.spawn_error_kind
        if kind in spawn.WORKING_DIR_ERRORS:  # the message names the directory and the host
            return fail(make(exc.RockyUsageError, outcome.spawn_error))
        hint = f" {exc.INSTALL_HINT}" if kind in (None, spawn.BINARY_MISSING) else ""
        return fail(
            make(
                exc.RockyBinaryNotFoundError,
                f"could not start rocky binary {binary!r} ({outcome.spawn_error}).{hint}",
            )
        )
    result: RunResult | None = None
    parse_problem: str | None = None
    stdout = outcome.stdout.lstrip()
    if stdout.startswith(b"{") and not outcome.stdout_overflow:
        try:
            result = parse_result(outcome.stdout)
        except ValueError as err:
            parse_problem = str(err)

    if outcome.timed_out:
        budget = outcome.deadline_reason or "the run's deadline"
        return fail(make(exc.RockyTimeoutError, f"rocky was stopped after exceeding {budget}"), result)
    if outcome.killed:
        return fail(
            make(
                exc.RockyInterruptedError, "rocky was stopped because the task was killed (on_kill / cancel)"
            ),
            result,
        )
    if outcome.stdout_overflow:
        return fail(
            make(
                exc.RockyOutputError,
                f"rocky wrote {outcome.stdout_bytes} bytes to stdout, past the cap of {max_stdout_bytes} "
                "bytes (raise max_stdout_bytes if this run is really that large)",
            )
        )
    if parse_problem is not None or (outcome.stdout.strip() and result is None):
        preview = outcome.stdout[:200].decode("utf-8", "backslashreplace")
        why = parse_problem or "it is not JSON"
        return fail(make(exc.RockyOutputError, f"rocky's stdout is not a RunResult ({why}): {preview!r}"))
    if result is None:
        return fail(_without_json(outcome, make))
    return _with_json(outcome, result, make, fail_on_partial)


class _ErrorFactory:
    """Builds errors that all carry the same exit code, stderr tail and redacted command."""

    def __init__(self, outcome: ProcessOutcome, command: Sequence[str]) -> None:
        self.outcome = outcome
        self.command = command

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
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return make(
            exc.RockyTransientEngineError,
            f"rocky was killed by {name}, sent by something outside this task (OOM killer, node drain?)",
        )
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
    code = outcome.exit_code
    status = result.status or ("PartialFailure" if result.tables_failed and result.tables_copied else None)

    def fail(error: exc.RockyError) -> Verdict:
        return Verdict("failed", result, error, code, outcome.run_id)

    if result.interrupted or code == 130:
        return fail(
            make(
                exc.RockyInterruptedError,
                "rocky was interrupted (SIGTERM/SIGINT) and reported what landed",
                result,
            )
        )
    if status == "SkippedIdempotent":
        return Verdict("skipped", result, None, code, outcome.run_id)
    if status == "SkippedInFlight":
        return fail(
            make(
                exc.RockyStateBusyError,
                f"another run holds idempotency key {result.idempotency_key!r} (in flight: "
                f"{result.skipped_by_run_id}); retry once it has finished",
                result,
            )
        )
    if code == 0 and status in (None, "Success"):
        return Verdict("success", result, None, code, outcome.run_id)
    error_text = _error_text(outcome.stderr_tail)
    if code in (0, 2) and status == "PartialFailure":
        partial = _partial_error(result, make) if fail_on_partial else None
        return Verdict("partial", result, partial, code, outcome.run_id)
    # exit 1 with JSON (or an unexpected code): find the reason, most specific first.
    if result.budget_breaches or "budget exceeded" in error_text.lower():
        breaches = "; ".join(
            f"{b.limit_type}: actual {b.actual} > limit {b.limit}" for b in result.budget_breaches
        )
        return fail(make(exc.RockyBudgetError, f"budget exceeded ({breaches or error_text})", result))
    failed_checks = [
        c.name for t in result.check_results for c in t.checks if not c.passed and c.severity != "warning"
    ]
    if (
        result.check_gate_failed
        or result.verify_after_failed
        or "quality pipeline failed" in error_text.lower()
    ):
        what = ", ".join(failed_checks[:10]) or (
            "verify_after gate" if result.verify_after_failed else "quality gate"
        )
        return fail(make(exc.RockyQualityCheckError, f"error-severity quality checks failed: {what}", result))
    if result.errors:
        return fail(_table_errors(result, make))
    return fail(make(exc.RockyEngineError, error_text or f"rocky exited {code} with status {status}", result))


def _table_errors(result: RunResult, make: _ErrorFactory) -> exc.RockyError:
    """Classify a failed run by its ``errors[].failure_kind`` values."""
    kinds = {err.failure_kind for err in result.errors}
    first = result.errors[0]
    detail = (
        f"{len(result.errors)} table(s) failed; first: {error_table(first.asset_key)}: {first.error[:300]}"
    )
    if kinds == {"compile-error"}:
        if any(_CONTRACT_CODE.search(err.error) for err in result.errors):
            return make(exc.RockyContractError, f"data contract violated: {detail}", result)
        return make(exc.RockyCompileError, f"models failed to compile: {detail}", result)
    if kinds <= TRANSIENT_KINDS:
        cooldown = max((err.cooldown_seconds or 0 for err in result.errors), default=0) or None
        error = exc.RockyTransientAdapterError(
            f"the warehouse failed transiently ({', '.join(sorted(kinds))}): {detail}",
            exit_code=make.outcome.exit_code,
            stderr_tail=make.outcome.stderr_tail,
            result=result,
            command=make.command,
        )
        error.cooldown_seconds = cooldown
        return error
    if kinds - {"unknown", "compile-error"}:
        return make(
            exc.RockyAdapterError,
            f"the warehouse refused the work ({', '.join(sorted(kinds))}): {detail}",
            result,
        )
    return make(exc.RockyEngineError, detail, result)


def _partial_error(result: RunResult, make: _ErrorFactory) -> exc.RockyError:
    kinds = {err.failure_kind for err in result.errors}
    failed = (
        ", ".join(error_table(err.asset_key) for err in result.errors[:10])
        or f"{result.tables_failed} table(s)"
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
