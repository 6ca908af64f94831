"""``RockyRunTrigger``: the same process runner and log renderer as the sync path, in the triggerer.

The trigger owns the rocky process while the task is deferred, so no worker slot is held. What it
must guarantee, because Airflow may cancel, move or duplicate a trigger at any time:

* whenever ``run()`` stops early (user kill, triggerer shutdown, hand-off to another triggerer) the
  runner ends the whole process group (SIGTERM first, so the engine records the interruption);
* a second copy of the same try is deflected by the engine's idempotency key: while the key is held
  by a live run (``SkippedInFlight``) this copy waits and asks again instead of reporting early;
* exactly one ``TriggerEvent`` is yielded, carrying the ``ProcessOutcome`` (stdout compressed),
  which ``execute_complete`` hands to the same interpreter as the sync path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_rocky import logs, supervise
from airflow_provider_rocky.exceptions import RockyError
from airflow_provider_rocky.process import (
    DEFAULT_MAX_STDOUT_BYTES,
    DEFAULT_TERM_GRACE_SECONDS,
    ProcessOutcome,
    ProcessRunner,
    RockyCommand,
)

#: Seconds between re-asks while another copy of this try holds the idempotency key.
IN_FLIGHT_POLL_SECONDS = 10.0


class RockyRunTrigger(BaseTrigger):
    """Run one rocky command under the triggerer's event loop and report its outcome once.

    :param command: :meth:`RockyCommand.serialize` output (argv, extra env, cwd).
    :param deadline: absolute wall-clock time (epoch seconds) at which the process group is ended and
        the run reported as timed out; ``None`` for no deadline.
    :param deadline_reason: names the budget in the timeout error (``timeout_seconds=600``, ...).
    :param carry: small JSON data the task needs after resuming, echoed in the event (not in defer
        kwargs: ``dag.test()`` replaces those with the event, a real triggerer merges them).
    :param hold_until: wall-clock time before which the event is not fired, however soon rocky ends
        (:func:`~airflow_provider_rocky.task_context.event_hold_until`).
    """

    def __init__(
        self,
        command: dict[str, Any] | None = None,
        *,
        deadline: float | None = None,
        deadline_reason: str | None = None,
        stderr_tail_lines: int = 20,
        max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES,
        term_grace_seconds: float = DEFAULT_TERM_GRACE_SECONDS,
        in_flight_poll_seconds: float = IN_FLIGHT_POLL_SECONDS,
        carry: dict[str, Any] | None = None,
        pipes: bool = False,
        spec: dict[str, Any] | None = None,
        hold_until: float | None = None,
        **fields: Any,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.command = command
        self.deadline = deadline
        self.deadline_reason = deadline_reason
        self.stderr_tail_lines = stderr_tail_lines
        self.max_stdout_bytes = max_stdout_bytes
        self.term_grace_seconds = term_grace_seconds
        self.in_flight_poll_seconds = in_flight_poll_seconds
        self.carry = carry or {}
        self.pipes = pipes
        self.spec = spec
        self.hold_until = hold_until
        from airflow_provider_rocky.triggers.start import TEMPLATED

        unknown = set(fields) - set(TEMPLATED)
        if unknown:
            raise TypeError(f"RockyRunTrigger got unexpected arguments: {sorted(unknown)}")
        #: start_from_trigger: the operator's templated arguments, as attributes the triggerer renders.
        self._fields = sorted(fields)
        for name, value in fields.items():
            setattr(self, name, value)
        if command is None and spec is None:
            raise ValueError("RockyRunTrigger needs a command, or a spec to build one (start_from_trigger)")
        self._runner: ProcessRunner | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs; ``cls(**kwargs)`` rebuilds an equal trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "command": self.command,
                "deadline": self.deadline,
                "deadline_reason": self.deadline_reason,
                "stderr_tail_lines": self.stderr_tail_lines,
                "max_stdout_bytes": self.max_stdout_bytes,
                "term_grace_seconds": self.term_grace_seconds,
                "in_flight_poll_seconds": self.in_flight_poll_seconds,
                "carry": self.carry,
                "pipes": self.pipes,
                "spec": self.spec,
                "hold_until": self.hold_until,
                **{name: getattr(self, name) for name in self._fields},
            },
        )

    def _log_line(self, line: logs.LogLine) -> None:
        self.log.log(line.level, line.text)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Run the engine (again while another copy holds the key), then yield the one event."""
        if self.command is None:  # started from the trigger: build the command here, like execute() would
            try:
                command = await self._command_from_spec()
            except RockyError as err:
                self.log.error("rocky was not started: %s", err.reason)
                refused = {"class": type(err).__name__, "message": err.reason}
                yield RockyRunEvent(payload={"refused": refused, "carry": self.carry})
                return
        else:
            command = RockyCommand.deserialize(self.command)
        _mask_env(command)
        self.log.info("Running rocky in the triggerer: %s", " ".join(command.redacted()))
        while True:
            channel = None
            spawned = command
            if self.pipes:  # the messages file lives on the triggerer, next to the process
                spawned, channel = await asyncio.to_thread(supervise.attach_pipes, command)
            self._runner = ProcessRunner(
                spawned,
                on_line=self._log_line,
                stderr_tail_lines=self.stderr_tail_lines,
                max_stdout_bytes=self.max_stdout_bytes,
                deadline=self.deadline,
                deadline_reason=self.deadline_reason,
                term_grace_seconds=self.term_grace_seconds,
            )
            outcome, record = await supervise.run(self._runner, channel, self._log_line)
            if not _in_flight(outcome) or self._out_of_time():
                break
            self.log.warning(
                "Another copy of this try holds the idempotency key (SkippedInFlight); asking again in %.0fs",
                self.in_flight_poll_seconds,
            )
            await asyncio.sleep(self.in_flight_poll_seconds)
        self.log.info(
            "rocky exited %s after %.1fs; handing the outcome to the task",
            outcome.exit_code,
            outcome.duration_ms / 1000,
        )
        # Compressing megabytes of stdout takes tens of milliseconds: not on the triggerer's loop.
        packed, pipes = await asyncio.to_thread(
            lambda: (outcome.to_event(), record.pack() if record is not None else None)
        )
        payload = {"outcome": packed, "command": command.redacted(), "carry": self.carry, "pipes": pipes}
        await self._hold()
        yield RockyRunEvent(payload=payload)

    async def _command_from_spec(self) -> RockyCommand:
        """``start_from_trigger``: the rendered spec → the same validated command ``execute()`` builds."""
        from airflow_provider_rocky.triggers.start import command_from_spec

        fields = {name: getattr(self, name) for name in self._fields}
        built = await command_from_spec(self.spec or {}, fields, getattr(self, "task_instance", None))
        self.deadline, self.deadline_reason = built.deadline, built.deadline_reason
        self.carry = {**self.carry, "asset_namespace": built.asset_namespace}
        return built.command

    async def _hold(self) -> None:
        """A run that ended right after the deferral waits until ``hold_until`` (an Airflow race)."""
        wait = (self.hold_until or 0.0) - time.time()
        if wait > 0:
            self.log.info(
                "Holding the event %.1fs, until the worker's deferral is settled (apache/airflow#66374)", wait
            )
            await asyncio.sleep(wait)

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.time() + self.in_flight_poll_seconds >= self.deadline

    async def on_kill(self) -> None:
        """Airflow 3.3+: a user killed the deferred task. Cancellation of ``run()`` ends the group;
        this makes sure of it even if ``run()`` is between two engine invocations."""
        if self._runner is not None:
            self._runner.request_stop()

    async def cleanup(self) -> None:
        """Every exit path (Airflow < 3.3 has no ``on_kill``): the runner never outlives ``run()``."""
        if self._runner is not None and self._runner.outcome is None:
            self._runner.request_stop()


class RockyRunEvent(TriggerEvent):
    """The trigger's one event, whose log line is a digest of its payload (the payload is unchanged).

    Airflow's triggerer writes every event it fires into the task's log (``Trigger fired event``);
    this payload carries the engine's compressed stdout (138 KB for 10,000 tables), which nobody
    reading the log at 3 a.m. wants to scroll past.
    """

    def __repr__(self) -> str:
        return f"TriggerEvent<{event_digest(self.payload)}>"

    def __structlog__(self) -> str:
        """structlog's JSON renderer (Airflow's task logs) asks for this before ``repr``."""
        return repr(self)


def event_digest(payload: Any) -> str:
    """One line saying what the event carries, sizes instead of bytes."""
    if not isinstance(payload, dict):
        return repr(payload)[:200]
    if "refused" in payload:
        refused = payload["refused"] or {}
        return f"rocky refused before spawning: {refused.get('class')}: {str(refused.get('message'))[:200]}"
    outcome = payload.get("outcome") or {}
    ended = " (deadline)" if outcome.get("timed_out") else " (killed)" if outcome.get("killed") else ""
    pipes = payload.get("pipes")
    seconds = (outcome.get("duration_ms") or 0) / 1000
    return (
        f"rocky exit {outcome.get('exit_code')}{ended} after {seconds:.1f}s; "
        f"stdout {outcome.get('stdout_bytes', 0):,} bytes ({len(outcome.get('stdout') or ''):,} packed); "
        f"stderr {outcome.get('stderr_lines', 0):,} lines, tail {len(outcome.get('stderr_tail') or [])}"
        + (f"; pipes {len(pipes):,} packed" if pipes else "")
    )


def _in_flight(outcome: ProcessOutcome) -> bool:
    # ``status`` is among the first keys rocky prints; no need to parse megabytes to find it.
    return outcome.exit_code == 0 and b'"SkippedInFlight"' in outcome.stdout[:4096]


def _mask_env(command: RockyCommand) -> None:
    """Register the command's secrets with this (triggerer) process's masker too."""
    from airflow_provider_rocky.hooks.rocky import mask_secret

    for key in command.secret_keys:
        mask_secret(command.env[key])
