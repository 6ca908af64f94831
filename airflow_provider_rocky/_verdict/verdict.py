"""What every command's interpreter shares: the verdict, the error factory, the reading pipeline.

One pipeline decides every command's outcome, in this order, and never raises: the engine could not
be started (``binary_missing``); stdout past its cap (``output``); the provider's own deadline
(``timeout``) or kill (``interrupted``), with whatever result was printed attached; unreadable stdout
(``output``); a signal nobody in this task sent (:func:`signal_error`); no JSON at all
(:func:`without_json`: the exit code and the final ``Error:`` line decide, :mod:`.wording`); and
otherwise the command's own decision on its parsed result (``decide``). Each command declares only
the last step and how its stdout is read (:class:`Reading`).

The engine's text is read from the outcome's whole stderr window (``VERDICT_WINDOW_LINES``), never
from the tail an error shows: ``stderr_tail_lines`` (even 0) sizes only what the message quotes.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine import spawn
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import wording
from airflow_provider_rocky._verdict.parse import ResultError, Tolerance, parse

if TYPE_CHECKING:
    from pydantic import BaseModel

    from airflow_provider_rocky._verdict.observations import Observations

Outcome = Literal["success", "partial", "skipped", "failed"]

#: Signals that mean the engine crashed (a bug), not that someone stopped it.
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})


@dataclass
class Verdict:
    """What the run meant: its outcome, the parsed result (if any), and the error to raise (if any)."""

    outcome: Outcome
    #: The command's parsed result: rocky-sdk's ``RunResult``, ``DoctorResult``, ``PlanResult``...
    result: Any
    error: exc.RockyError | None
    exit_code: int | None
    run_id: str | None = None
    #: What a run's result says beyond the verdict (anomalies, volume, contained...); ``None`` otherwise.
    observations: Observations | None = None
    #: What reading the result repaired or dropped (``_verdict.parse``).
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed_tables(self) -> list[str]:
        """Readable names of the tables the engine reported as failed (runs only)."""
        errors = getattr(self.result, "errors", None) or []
        return [error_table(err.asset_key, err.error) for err in errors]


def error_table(asset_key: Sequence[str], message: str = "") -> str:
    """Name an ``errors[]`` entry: its key can be ``[]``, ``[""]``, ``["<compile>"]``, ``[model]``...

    An empty key names nothing; the engine's message usually does (``statement failed on wh.s.t``).
    """
    named = [part for part in asset_key if part]
    if named:
        return ".".join(named)
    found = re.search(r"\b(?:on|of|for|table|model)\s+([A-Za-z0-9_$]+(?:\.[A-Za-z0-9_$]+){1,2})\b", message)
    return found.group(1) if found else "<table not named by the engine>"


class ErrorFactory:
    """Builds errors (and failed verdicts) that all carry the same exit code, stderr tail and command.

    Errors carry the tail the task shows (``stderr_tail_lines``); :attr:`error_text` reads the window.
    """

    def __init__(self, outcome: ProcessOutcome, command: Sequence[str]) -> None:
        self.outcome = outcome
        self.command = command
        self.observations: Observations | None = None
        self.notes: tuple[str, ...] = ()

    def __call__(self, cls: type[exc.RockyError], message: str, result: Any = None) -> exc.RockyError:
        return cls(
            message,
            exit_code=self.outcome.exit_code,
            stderr_tail=self.outcome.shown_tail,
            result=result,
            command=self.command,
        )

    def verdict(self, outcome: Outcome, result: Any, error: exc.RockyError | None) -> Verdict:
        """A verdict for this process (its exit code, run id, observations and notes)."""
        return Verdict(
            outcome, result, error, self.outcome.exit_code, self.outcome.run_id, self.observations, self.notes
        )

    def failed(self, error: exc.RockyError, result: Any = None) -> Verdict:
        """A failed verdict raising ``error``."""
        return self.verdict("failed", result, error)

    @property
    def error_text(self) -> str:
        """The engine's final ``Error: ...`` message, from the verdict's window of its last lines."""
        return error_text(self.outcome.stderr_tail)


@dataclass(frozen=True)
class Reading:
    """How one command's stdout is read: its rocky-sdk model (imported on first use) and tolerance."""

    model: Callable[[], type[BaseModel]]
    #: Named in messages: ``RunResult``, ``DoctorResult``...
    name: str
    tolerance: Tolerance = field(default_factory=Tolerance)
    #: Runs only: what the result says beyond the verdict.
    observe: Callable[[Any, bytes, Sequence[str]], Observations] | None = None


Decide = Callable[[ProcessOutcome, Any, ErrorFactory], Verdict]


def interpret_with(
    outcome: ProcessOutcome,
    reading: Reading,
    decide: Decide,
    *,
    command: Sequence[str] = (),
    binary: str = "rocky",
    max_stdout_bytes: int | None = None,
) -> Verdict:
    """The shared pipeline (module docstring); ``decide`` interprets a parsed result. Never raises."""
    make = ErrorFactory(outcome, command)
    try:
        return _pipeline(outcome, reading, decide, make, binary, max_stdout_bytes)
    except Exception as err:  # a provider bug must still fail the task with a category and the tail
        return make.failed(make(exc.RockyOutputError, f"the provider could not interpret this run ({err!r})"))


def _pipeline(
    outcome: ProcessOutcome,
    reading: Reading,
    decide: Decide,
    make: ErrorFactory,
    binary: str,
    cap: int | None,
) -> Verdict:
    if outcome.spawn_error is not None:
        return make.failed(_not_started(outcome, make, binary))
    if outcome.stdout_overflow:
        message = (
            f"rocky wrote {outcome.stdout_bytes} bytes to stdout, past the cap of {cap} bytes "
            "(raise max_stdout_bytes if this run is really that large)"
        )
        return make.failed(make(exc.RockyOutputError, message))
    result, unreadable = _read(outcome, reading, make)
    if outcome.timed_out:  # what landed before the deadline is still reported (result attached)
        budget = outcome.deadline_reason or "the run's deadline"
        return make.failed(
            make(exc.RockyTimeoutError, f"rocky was stopped after exceeding {budget}", result), result
        )
    if outcome.killed:
        reason = "rocky was stopped because the task was killed (on_kill / cancel)"
        return make.failed(make(exc.RockyInterruptedError, reason, result), result)
    if unreadable is not None:
        return make.failed(
            make(exc.RockyOutputError, f"rocky's stdout is not a {reading.name} ({unreadable})")
        )
    if (code := outcome.exit_code) is not None and code < 0:
        return make.failed(signal_error(-code, make, result), result)
    if result is None:
        return make.failed(without_json(outcome, make))
    return decide(outcome, result, make)


def _not_started(outcome: ProcessOutcome, make: ErrorFactory, binary: str) -> exc.RockyError:
    """Why the engine did not start, truthfully: its version, its working directory, or its binary."""
    kind, problem = outcome.spawn_error_kind, str(outcome.spawn_error)
    if kind == "engine_version":
        return make(exc.RockyEngineVersionError, problem)
    if kind in spawn.USAGE_ERRORS:  # the message names the directory and the host, or the value
        return make(exc.RockyUsageError, problem)
    hint = f" {exc.INSTALL_HINT}" if kind in (None, spawn.BINARY_MISSING) else ""
    return make(exc.RockyBinaryNotFoundError, f"could not start rocky binary {binary!r} ({problem}).{hint}")


def _read(outcome: ProcessOutcome, reading: Reading, make: ErrorFactory) -> tuple[Any, str | None]:
    """The result on stdout, or why there is none readable (``(None, None)`` for an empty stdout)."""
    if not outcome.stdout.lstrip().startswith(b"{"):
        if outcome.stdout.strip():
            preview = outcome.stdout[:200].decode("utf-8", "backslashreplace")
            return None, f"it is not JSON: {preview!r}"
        return None, None
    try:
        parsed = parse(reading.model(), outcome.stdout, reading.tolerance)
    except ResultError as err:
        return None, str(err)
    make.notes = parsed.notes
    if reading.observe is not None:
        make.observations = reading.observe(parsed.result, outcome.stdout, parsed.notes)
    return parsed.result, None


def signal_error(number: int, make: ErrorFactory, result: Any) -> exc.RockyError:
    """A signal this task did not send: one verdict, with or without JSON on stdout.

    SIGKILL is what the OOM killer and a node drain send: retryable. A crash signal (SIGSEGV, SIGABRT,
    SIGBUS, SIGILL, SIGFPE) is an engine bug a retry rarely fixes: not retryable
    (``RockyEngineCrashError``). Any other signal (SIGTERM, SIGINT, SIGHUP from outside) stopped the
    run: interrupted, retryable.
    """
    name = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
    if number == signal.SIGKILL:
        message = f"rocky was killed by {name}, sent by something outside this task (OOM killer, node drain?)"
        return make(exc.RockyTransientEngineError, message, result)
    if number in CRASH_SIGNALS:
        return make(
            exc.RockyEngineCrashError,
            f"rocky crashed ({name}): an engine bug; report it with the stderr tail",
            result,
        )
    return make(exc.RockyInterruptedError, f"rocky was stopped by {name} from outside this task", result)


def without_json(outcome: ProcessOutcome, make: ErrorFactory) -> exc.RockyError:
    """A process that printed no result: its exit code and final ``Error:`` text say what happened.

    The text is classified by :func:`.wording.classify`; what it does not recognise is ``engine``,
    retryable. A panic (exit 101, ``thread 'main' panicked at``) is a crash, not retryable.
    """
    code = outcome.exit_code
    text = make.error_text
    if code == 0:
        return make(exc.RockyOutputError, "rocky exited 0 but printed no result on stdout")
    if code == 2:
        return make(exc.RockyUsageError, f"the engine refused its arguments: {text or 'usage error'}")
    if code == 130:
        return make(exc.RockyInterruptedError, "rocky was interrupted before it could report a result")
    panic = next((line for line in outcome.stderr_tail if wording.PANIC.search(line)), None)
    if code == wording.PANIC_EXIT or panic is not None:
        detail = panic or text or f"exit {code}"
        return make(exc.RockyEngineCrashError, f"rocky panicked (an engine bug; report it): {detail}")
    message = text or f"rocky exited {code} without a result"
    cls, prefix = wording.classify(text)
    return make(cls, f"{prefix}{message}")


def error_text(tail: Sequence[str]) -> str:
    """The engine's final ``Error: ...`` message (with its ``Caused by`` chain) from the stderr tail."""
    for index in range(len(tail) - 1, -1, -1):
        line = tail[index]
        if line.startswith("Error:") or line.startswith("error:"):
            rest = " ".join(part.strip() for part in tail[index + 1 :] if part.strip())
            return f"{line[6:].strip()} {rest}".strip()
    return ""
