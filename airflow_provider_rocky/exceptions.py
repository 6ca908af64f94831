"""The failure taxonomy: every error the provider raises is a :class:`RockyError`.

Each error carries structured fields (``category``, ``retryable``, ``exit_code``, ``stderr_tail``,
``result``, ``command``) so callbacks and retry policies can branch on them instead of parsing text.
Whether Airflow retries is decided by the base class, which is how Airflow itself decides:
retryable categories derive from ``AirflowException`` (``retries`` and a ``retry_policy`` apply),
the others from ``AirflowFailException`` (Airflow fails the task at once).

The rule is Airflow's default: **a failure is retried unless the taxonomy knows a retry cannot help.**
Only failures known to be permanent are fatal: bad arguments (``usage``), a missing or too old
binary, models that do not compile or break a contract, the warehouse refusing the credentials or
the statement, a broken state store, a budget or governance refusal, failing tests and quality
gates, output this provider cannot read, and an engine that crashed (a panic or a crash signal).
Everything else, an ``Error:`` this provider does not recognise included, honours ``retries``.

The message ends with the engine's last stderr lines, so the Airflow UI shows them without a log dive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_rocky._engine.stderr import render

if TYPE_CHECKING:
    from rocky_sdk.types import RunResult

Category = Literal[
    "binary_missing",
    "usage",
    "compile",
    "contract",
    "quality_check",
    "adapter",
    "state",
    "budget",
    "governance",
    "timeout",
    "interrupted",
    "output",
    "partial",
    "engine",
    "health",
    "test",
    "freshness",
    "engine_version",
]

#: Where the "binary missing" message sends people.
INSTALL_HINT = (
    "Install the rocky binary from https://github.com/rocky-data/rocky/releases and put it on the "
    "worker's (and triggerer's) PATH, or set `binary_path` on the operator or the `rocky` connection. "
    "To test DAGs without the engine, use the stand-in: `airflow_provider_rocky.testing.install_standin()`."
)


class RockyError(AirflowException):
    """Base of every failure raised by the provider; retryable unless a subclass says otherwise."""

    category: ClassVar[Category] = "engine"
    retryable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTERED[cls.__name__] = cls

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        stderr_tail: Sequence[str] = (),
        result: RunResult | None = None,
        command: Sequence[str] = (),
    ) -> None:
        self.reason = message
        self.exit_code = exit_code
        self.stderr_tail: list[str] = list(stderr_tail)
        self.result = result
        self.command: list[str] = list(command)
        super().__init__(self._render())

    def _render(self) -> str:
        retry = "a retry may help" if self.retryable else "a retry will not help"
        head = f"[rocky:{self.category}] {self.reason} ({retry}"
        head += f"; exit code {self.exit_code})" if self.exit_code is not None else ")"
        if not self.stderr_tail:
            return head
        # Rendered like the task log, with the level word (no record level here): `rocky: WARN target ...`.
        tail = "\n".join(f"  | {render(line).labelled}" for line in self.stderr_tail)
        return f"{head}\nLast {len(self.stderr_tail)} stderr line(s) of the engine:\n{tail}"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickle by state: keyword-only __init__ arguments would otherwise be lost.
        return (_rebuild, (type(self), self.__dict__.copy()))


#: Every error class by name: what a refusal sent by the triggerer may name (``registered``).
_REGISTERED: dict[str, type[RockyError]] = {"RockyError": RockyError}


def registered(name: str) -> type[RockyError] | None:
    """The error class registered under ``name`` (its class name), or ``None`` for any other name."""
    return _REGISTERED.get(name)


def _rebuild(cls: type[RockyError], state: dict[str, object]) -> RockyError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class RockyFatalError(RockyError, AirflowFailException):
    """A failure no retry can fix: Airflow fails the task immediately, ignoring ``retries``."""

    retryable: ClassVar[bool] = False


# --- not retryable -------------------------------------------------------------------------------


class RockyBinaryNotFoundError(RockyFatalError):
    """The rocky binary could not be found or executed."""

    category: ClassVar[Category] = "binary_missing"


class RockyUsageError(RockyFatalError):
    """Bad arguments: refused before spawning, or the engine's argument parser exited 2 without JSON."""

    category: ClassVar[Category] = "usage"


class RockyCompileError(RockyFatalError):
    """A model failed to compile (E001, E020-E036): fix the SQL, then re-run."""

    category: ClassVar[Category] = "compile"


class RockyContractError(RockyFatalError):
    """A data contract was violated (E010-E013)."""

    category: ClassVar[Category] = "contract"


class RockyQualityCheckError(RockyFatalError):
    """Error-severity quality checks failed and gated the run: the data is wrong, not the run."""

    category: ClassVar[Category] = "quality_check"


class RockyAdapterError(RockyFatalError):
    """The warehouse refused the work for a reason a retry cannot fix (auth, rejected query, not found)."""

    category: ClassVar[Category] = "adapter"


class RockyStateError(RockyFatalError):
    """The state store is unusable (schema mismatch, corruption): needs a human."""

    category: ClassVar[Category] = "state"


class RockyBudgetError(RockyFatalError):
    """A ``[budget]`` limit with ``on_breach = "error"`` was exceeded."""

    category: ClassVar[Category] = "budget"


class RockyGovernanceError(RockyFatalError):
    """Governance refused the run (e.g. a governance override that would revoke every binding)."""

    category: ClassVar[Category] = "governance"


class RockyOutputError(RockyFatalError):
    """The engine's stdout was neither empty nor a readable RunResult, or it passed the size cap."""

    category: ClassVar[Category] = "output"


class RockyPartialFailure(RockyFatalError):
    """``fail_on_partial=True`` and some tables failed for reasons a retry will not fix."""

    category: ClassVar[Category] = "partial"


class RockyHealthError(RockyFatalError):
    """``rocky doctor`` found a critical check of the configuration: a retry re-reads the same files.

    Also a doctor result that contradicts itself (``overall: critical`` without a critical check).
    """

    category: ClassVar[Category] = "health"


class RockyTestFailure(RockyFatalError):
    """``rocky test`` (or ``rocky ci``) found failing tests: the models are wrong, not the run."""

    category: ClassVar[Category] = "test"


class RockyEngineVersionError(RockyFatalError):
    """The engine on this host is older than this provider (or this command) supports."""

    category: ClassVar[Category] = "engine_version"


class RockyEngineCrashError(RockyFatalError):
    """The engine crashed: a Rust panic (exit 101) or a crash signal (SIGSEGV, SIGABRT...): a bug."""

    category: ClassVar[Category] = "engine"


# --- retryable -----------------------------------------------------------------------------------


class RockyTransientAdapterError(RockyError):
    """The warehouse failed transiently (timeout, connection, quota): a later retry can succeed."""

    category: ClassVar[Category] = "adapter"
    #: The engine's retry-after hint (circuit breaker cooldown), when it gave one.
    cooldown_seconds: int | None = None


class RockyStateBusyError(RockyError):
    """Another writer holds the state store (or the idempotency key): retry once it is done."""

    category: ClassVar[Category] = "state"


class RockyTimeoutError(RockyError):
    """The provider's deadline (``timeout_seconds`` / ``execution_timeout``) ended the run."""

    category: ClassVar[Category] = "timeout"


class RockyInterruptedError(RockyError):
    """The run was interrupted (SIGTERM/SIGINT, exit 130, or the task was killed)."""

    category: ClassVar[Category] = "interrupted"


class RockyTransientPartialFailure(RockyError):
    """``fail_on_partial=True`` and every failed table failed transiently: a retry can finish the job."""

    category: ClassVar[Category] = "partial"


class RockyTransientEngineError(RockyError):
    """The engine died from a signal nobody in this task sent (OOM killer, node drain)."""

    category: ClassVar[Category] = "engine"


class RockyNodeFailedError(RockyError):
    """A node of a watched ``rocky run --dag`` failed (``shape="watch"``); a retry runs it alone.

    At engine 1.71 the DAG run reports a failed model only as ``1 model(s) failed (run_id ...)``,
    so the cause is not known here: retryable, as the retry runs the node alone and reads the
    engine's own error (``rocky run --pipeline P --model M``).
    """

    category: ClassVar[Category] = "engine"


class RockyEngineError(RockyError):
    """Any other failure the engine reported (exit 1 with an ``Error: ...`` this provider does not
    recognise, an unknown ``failure_kind``, an unexpected exit code): not known to be permanent, so
    ``retries`` apply (Airflow's default)."""

    category: ClassVar[Category] = "engine"


class RockyFreshnessError(RockyError):
    """``rocky freshness`` found data past its ``error_after`` (or could not evaluate it).

    Retryable: a later try can see the data fresh, so ``retries`` and ``retry_delay`` make the gate
    wait until it is (``retries=0`` fails at once).
    """

    category: ClassVar[Category] = "freshness"


class RockyTransientHealthError(RockyError):
    """``rocky doctor`` found a critical live probe (a warehouse ping, the state store, the state
    backend, the scheduler): the network, a lock or a rolling upgrade can clear it."""

    category: ClassVar[Category] = "health"


__all__ = [
    "INSTALL_HINT",
    "Category",
    "RockyAdapterError",
    "RockyBinaryNotFoundError",
    "RockyBudgetError",
    "RockyCompileError",
    "RockyContractError",
    "RockyEngineCrashError",
    "RockyEngineError",
    "RockyEngineVersionError",
    "RockyError",
    "RockyFatalError",
    "RockyFreshnessError",
    "RockyGovernanceError",
    "RockyHealthError",
    "RockyInterruptedError",
    "RockyNodeFailedError",
    "RockyOutputError",
    "RockyPartialFailure",
    "RockyQualityCheckError",
    "RockyStateBusyError",
    "RockyStateError",
    "RockyTestFailure",
    "RockyTimeoutError",
    "RockyTransientAdapterError",
    "RockyTransientEngineError",
    "RockyTransientHealthError",
    "RockyTransientPartialFailure",
    "RockyUsageError",
    "registered",
]
