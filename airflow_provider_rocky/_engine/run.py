"""One engine run, the same object in the worker, the triggerer and ``start_from_trigger``.

:class:`EngineRun` owns the supervisor (:class:`~airflow_provider_rocky._engine.process.ProcessRunner`),
the optional Pipes channel and its tailer. It knows nothing of which command it runs: ``rocky doctor``
deferred is this code, exactly like ``rocky run`` deferred. Its limits travel as one typed value,
:class:`RunLimits`, whose field names are the trigger kwargs that carry them.

With ``pipes=True`` the child gets ``DAGSTER_PIPES_CONTEXT``/``DAGSTER_PIPES_MESSAGES`` pointing at a
private file on the host that runs it; the file is tailed while the process runs. ``log`` messages go
to the task log at their level as they arrive, each as one visible line (:mod:`.untrusted`); check and
materialization reports are kept, within bounds, and counted (a
:class:`~airflow_provider_rocky._engine.pipes.PipesRecord`) for the summary and the asset events; a
malformed or too deeply nested line, an unknown method or a wrong protocol version is a warning,
never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from airflow.providers.common.compat.sdk import AirflowTaskTimeout

from airflow_provider_rocky._engine.admission import start_slot
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.defaults import DEFAULT_MAX_STDOUT_BYTES, DEFAULT_TERM_GRACE_SECONDS
from airflow_provider_rocky._engine.pipes import (
    KEPT_PER_METHOD,
    PipesChannel,
    PipesMessage,
    PipesProblem,
    PipesRecord,
    check_report,
    log_record,
)
from airflow_provider_rocky._engine.pipes_tail import tail
from airflow_provider_rocky._engine.process import (
    LineSink,
    ProcessOutcome,
    ProcessRunner,
)
from airflow_provider_rocky._engine.stderr import LogLine, cut
from airflow_provider_rocky._engine.untrusted import one_line
from airflow_provider_rocky._engine.worker import settle_alarm

PREFIX = "rocky pipes: "
#: Seconds the tailer may keep reading after the engine exited (a writer it left behind).
PIPES_DRAIN_SECONDS = 10.0


@dataclass(frozen=True)
class RunLimits:
    """How far one run may go; field names are the trigger kwargs that carry them."""

    stderr_tail_lines: int = 20
    max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES
    term_grace_seconds: float = DEFAULT_TERM_GRACE_SECONDS
    #: Absolute wall-clock time (epoch seconds) the group is ended at; ``None``: no deadline.
    deadline: float | None = None
    #: Names the budget in the timeout error (``timeout_seconds=600``, ...).
    deadline_reason: str | None = None
    pipes: bool = False
    #: The oldest engine this run accepts (``rocky --version``, cached); ``None``: no check (0.1.0 rows).
    min_engine_version: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The JSON-native kwargs form (for the trigger)."""
        return dataclasses.asdict(self)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field (and trigger kwarg) names."""
        return tuple(item.name for item in dataclasses.fields(cls))


@dataclass(frozen=True)
class RunRecord:
    """What one run left: the process outcome and, with Pipes, what the engine reported there."""

    outcome: ProcessOutcome
    pipes: PipesRecord | None = None


class EngineRun:
    """Run one command under its limits, streaming rendered stderr lines to ``on_line``."""

    def __init__(self, command: RockyCommand, limits: RunLimits, on_line: LineSink) -> None:
        self.command = command
        self.limits = limits
        self.on_line = on_line
        self.runner = ProcessRunner(
            command,
            on_line=on_line,
            stderr_tail_lines=limits.stderr_tail_lines,
            max_stdout_bytes=limits.max_stdout_bytes,
            deadline=limits.deadline,
            deadline_reason=limits.deadline_reason,
            term_grace_seconds=limits.term_grace_seconds,
        )

    @property
    def pid(self) -> int | None:
        """The engine's pid (also its process-group id), once spawned."""
        return self.runner.pid

    @property
    def outcome(self) -> ProcessOutcome | None:
        """The outcome, once the run has ended (also by cancellation)."""
        return self.runner.outcome

    def stop(self) -> None:
        """Ask the run to end (SIGTERM, grace, SIGKILL); safe from signal handlers and other threads."""
        self.runner.request_stop()

    def kill_now(self, grace: float) -> None:
        """End the group synchronously within ``grace`` seconds, for a caller about to be killed."""
        self.runner.end_now(grace)

    async def run(self) -> RunRecord:
        """Run to the end on the current loop; with Pipes, tail the channel meanwhile.

        An engine older than ``limits.min_engine_version`` is not started: the outcome says why
        (``spawn_error``), as for a binary that cannot be started. The gate and the spawn happen in
        a start slot of the loop (:mod:`.admission`), given back once the engine is spawned.
        """
        free = self.runner.on_spawned = await start_slot()
        try:
            return await self._run()
        finally:
            free()

    async def _run(self) -> RunRecord:
        if self.limits.min_engine_version and (
            refused := await self._refusal(self.limits.min_engine_version)
        ):
            self.runner.outcome = ProcessOutcome(
                exit_code=None, spawn_error=refused, spawn_error_kind="engine_version"
            )
            return RunRecord(self.runner.outcome)
        if not self.limits.pipes:
            return RunRecord(await self.runner.run())
        channel = await asyncio.to_thread(PipesChannel)  # file I/O stays off the loop
        self.runner.command = dataclasses.replace(self.command, env={**self.command.env, **channel.env()})
        try:
            return await self._run_tailing(channel)
        finally:
            try:
                await asyncio.to_thread(channel.close)
            except BaseException:  # cancelled again meanwhile: the file must still go
                channel.close()
                raise

    async def _refusal(self, floor: str) -> str | None:
        from airflow_provider_rocky._engine.version import refusal

        return await refusal(self.command, floor, self.on_line)

    def run_in_task(self, *, execution_timeout: str | None = None) -> RunRecord:
        """Run to the end on a private loop in this (task) process; the sync mode's *where*.

        ``execution_timeout`` (its label) says Airflow armed its alarm. If that alarm interrupts the
        run, the runner has already ended the group (its abort path survives the torn-down loop);
        the outcome is then reported as a timeout of that budget. Once the engine has ended, the
        bookkeeping gets its own budget (:func:`~airflow_provider_rocky._engine.worker.settle_alarm`).
        """
        try:
            try:
                return asyncio.run(self.run())
            finally:
                settle_alarm(armed=execution_timeout is not None)
        except AirflowTaskTimeout:
            ended = self.outcome or ProcessOutcome(exit_code=None)
            reason = f"execution_timeout={execution_timeout}"
            return RunRecord(dataclasses.replace(ended, timed_out=True, killed=False, deadline_reason=reason))

    async def _run_tailing(self, channel: PipesChannel) -> RunRecord:
        record = PipesRecord()
        stop = asyncio.Event()
        tailer = asyncio.ensure_future(tail(channel.path, lambda m: self._on_message(record, m), stop))
        try:
            outcome = await self.runner.run()
            stop.set()
            try:
                await asyncio.wait_for(tailer, PIPES_DRAIN_SECONDS)
            except TimeoutError:
                self.on_line(
                    LogLine(logging.WARNING, f"{PREFIX}the messages file was still growing; stopped")
                )
            return RunRecord(outcome, record)
        finally:
            stop.set()
            if not tailer.done():
                tailer.cancel()
                with contextlib.suppress(BaseException):
                    await tailer

    def _on_message(self, record: PipesRecord, message: PipesMessage | PipesProblem) -> None:
        if isinstance(message, PipesProblem):
            record.problems += 1
            self._log(logging.WARNING, f"ignored a message: {message.reason}")
        elif message.method == "log":
            self._log(*log_record(message))
        elif record.keep(message):
            if record.over_bound(message.method):
                kept = KEPT_PER_METHOD[message.method]
                self._log(logging.WARNING, f"more than {kept} {message.method} messages: only counting now")
            if message.method == "report_asset_check":
                check = check_report(message)
                level = logging.INFO if check.passed else logging.WARNING
                verdict = "passed" if check.passed else "FAILED"
                self._log(level, f"check {check.check_name} on {check.asset_key}: {verdict}")

    def _log(self, level: int, text: str) -> None:
        """One Pipes line in the task log: prefixed, one visible line, cut."""
        self.on_line(LogLine(level, cut(one_line(PREFIX + text))))
