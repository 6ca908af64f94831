"""``RockyRunTrigger``: one engine run under the triggerer, the same :class:`EngineRun` as the worker's.

The trigger owns the rocky process while the task is deferred, so no worker slot is held. What it
must guarantee, because Airflow may cancel, move or duplicate a trigger at any time:

* whenever ``run()`` stops early (user kill, triggerer shutdown, hand-off to another triggerer) the
  engine run ends the whole process group (SIGTERM first, so the engine records the interruption);
* a second copy of the same try is deflected by the engine's idempotency key: while the key is held
  by a live run (``SkippedInFlight``) this copy waits and asks again instead of reporting early (for
  commands that declare it: ``rocky run``);
* exactly one event is yielded, in the wire format :mod:`airflow_provider_rocky._task.wire` owns,
  which ``execute_complete`` hands to the same interpreter as the sync path.

The classpath and every kwarg release 0.1.0 wrote are kept: a row stored before an upgrade loads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.logsink import log_sink
from airflow_provider_rocky._engine.run import EngineRun, RunLimits, RunRecord
from airflow_provider_rocky._task import request as run_request
from airflow_provider_rocky._task import secrets, wire
from airflow_provider_rocky._task.commands import COMMANDS
from airflow_provider_rocky._task.context import run_type_of
from airflow_provider_rocky.exceptions import RockyError
from airflow_provider_rocky.hooks import rocky as rocky_hook

__all__ = ["IN_FLIGHT_POLL_SECONDS", "RockyRunEvent", "RockyRunTrigger"]

#: Seconds between re-asks while another copy of this try holds the idempotency key.
IN_FLIGHT_POLL_SECONDS = 10.0


class RockyRunTrigger(BaseTrigger):
    """Run one rocky command under the triggerer's event loop and report its outcome once.

    :param command: :func:`~airflow_provider_rocky._task.secrets.seal_command` output (argv, public
        env, the sealed secret env, cwd); ``None`` with a ``spec`` (``start_from_trigger``: the command
        is built here, from the rendered fields and the connection the triggerer resolves).
    :param carry: small JSON data the task needs after resuming, echoed in the event (not in defer
        kwargs: ``dag.test()`` replaces those with the event, a real triggerer merges them).
    :param hold_until: wall-clock time before which the event is not fired, however soon rocky ends
        (:func:`~airflow_provider_rocky._task.context.event_hold_until`).
    :param command_name: the declared engine command (``run``, ...); rows of 0.1.0 have none: ``run``.

    The run's limits are kwargs named like :class:`~airflow_provider_rocky._engine.run.RunLimits`'s
    fields (``deadline``, ``deadline_reason``, ``stderr_tail_lines``, ``max_stdout_bytes``,
    ``term_grace_seconds``, ``pipes``); any other kwarg is a templated value of ``start_from_trigger``.
    """

    def __init__(
        self,
        command: dict[str, Any] | None = None,
        *,
        in_flight_poll_seconds: float = IN_FLIGHT_POLL_SECONDS,
        carry: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
        hold_until: float | None = None,
        command_name: str = "run",
        **kwargs: Any,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if command is None and spec is None:
            raise ValueError("RockyRunTrigger needs a command, or a spec to build one (start_from_trigger)")
        if command_name not in COMMANDS:
            known = sorted(COMMANDS)
            raise TypeError(f"RockyRunTrigger: unknown rocky command {command_name!r} (known: {known})")
        limits = {name: kwargs.pop(name) for name in RunLimits.names() if name in kwargs}
        fields = kwargs  # start_from_trigger: the templated values the triggerer renders
        unknown = set(fields) - set(COMMANDS[command_name].templated)
        if unknown:
            raise TypeError(f"RockyRunTrigger got unexpected arguments: {sorted(unknown)}")
        self.command = command
        self.limits = RunLimits(**limits)
        self.in_flight_poll_seconds = in_flight_poll_seconds
        self.carry = carry or {}
        self.spec = spec
        self.hold_until = hold_until
        self.command_name = command_name
        #: start_from_trigger: the operator's templated arguments, as attributes the triggerer renders.
        self._fields = sorted(fields)
        for name, value in fields.items():
            setattr(self, name, value)
        self._run: EngineRun | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs; ``cls(**kwargs)`` rebuilds an equal trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "command": self.command,
                **self.limits.as_kwargs(),
                "in_flight_poll_seconds": self.in_flight_poll_seconds,
                "carry": self.carry,
                "spec": self.spec,
                "hold_until": self.hold_until,
                "command_name": self.command_name,
                **{name: getattr(self, name) for name in self._fields},
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Run the engine (again while another copy holds the key), then yield the one event."""
        try:
            command = await self._command()
        except RockyError as err:  # start_from_trigger: refused here, before anything was spawned
            self.log.error("rocky was not started: %s", err.reason)
            yield RockyRunEvent(payload=wire.pack_refusal(err, self.carry))
            return
        _mask_env(command)
        self.log.info("Running rocky in the triggerer: %s", command.shown())
        record = await self._run_until_settled(command)
        outcome = record.outcome
        if outcome.spawn_error is not None:
            self.log.error("rocky failed to start: %s", outcome.spawn_error)
        else:
            self.log.info(
                "rocky exited %s after %.1fs; handing the outcome to the task",
                outcome.exit_code,
                outcome.duration_ms / 1000,
            )
        # Compressing megabytes of stdout takes tens of milliseconds: not on the triggerer's loop.
        sealed = bool(self.command and self.command.get(secrets.SEALED_ENV))
        payload = await asyncio.to_thread(wire.pack, record, command, self.carry, seal=sealed)
        if outcome.spawn_error is None:  # nothing ran, nothing raced: the task learns it at once
            await self._hold()
        yield RockyRunEvent(payload=payload)

    async def _run_until_settled(self, command: RockyCommand) -> RunRecord:
        """One engine run; for ``rocky run``, again while another copy of the try holds the key."""
        reask = COMMANDS[self.command_name].reask_in_flight
        while True:
            self._run = EngineRun(command, self.limits, log_sink(self.log))
            record = await self._run.run()
            if not (reask and _in_flight(record)) or self._out_of_time():
                return record
            self.log.warning(
                "Another copy of this try holds the idempotency key (SkippedInFlight); asking again in %.0fs",
                self.in_flight_poll_seconds,
            )
            await asyncio.sleep(self.in_flight_poll_seconds)

    async def _command(self) -> RockyCommand:
        """The built command, or (``start_from_trigger``) the same one ``execute()`` would build."""
        if self.command is not None:  # sealed by the worker that deferred (rows of 0.1.0: in clear)
            return secrets.open_command(self.command)
        fields = {name: getattr(self, name) for name in self._fields}
        request = run_request.RunRequest.from_spec(self.command_name, self.spec or {}, fields)
        hook = request.hook()
        await hook.aget_settings()  # the connection lookup must not block the loop
        ti = getattr(self, "task_instance", None)
        built = run_request.build_run(request, hook, ti=ti, run_type=run_type_of(None, ti))
        self.limits = RunLimits(
            **{
                **self.limits.as_kwargs(),
                "deadline": built.deadline,
                "deadline_reason": built.deadline_reason,
            }
        )
        self.carry = {**self.carry, **built.carry()}
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
        deadline = self.limits.deadline
        return deadline is not None and time.time() + self.in_flight_poll_seconds >= deadline

    async def on_kill(self) -> None:
        """Airflow 3.3+: a user killed the deferred task. Cancellation of ``run()`` ends the group;
        this makes sure of it even if ``run()`` is between two engine invocations."""
        if self._run is not None:
            self._run.stop()

    async def cleanup(self) -> None:
        """Every exit path (Airflow < 3.3 has no ``on_kill``): the engine never outlives ``run()``."""
        if self._run is not None and self._run.outcome is None:
            self._run.stop()


class RockyRunEvent(TriggerEvent):
    """The trigger's one event, whose log line is a digest of its payload (the payload is unchanged).

    Airflow's triggerer writes every event it fires into the task's log (``Trigger fired event``);
    this payload carries the engine's compressed stdout (138 KB for 10,000 tables), which nobody
    reading the log at 3 a.m. wants to scroll past.
    """

    def __repr__(self) -> str:
        return f"TriggerEvent<{wire.digest(self.payload)}>"

    def __structlog__(self) -> str:
        """structlog's JSON renderer (Airflow's task logs) asks for this before ``repr``."""
        return repr(self)


def _in_flight(record: RunRecord) -> bool:
    # ``status`` is among the first keys rocky prints; no need to parse megabytes to find it.
    outcome = record.outcome
    return outcome.exit_code == 0 and b'"SkippedInFlight"' in outcome.stdout[:4096]


def _mask_env(command: RockyCommand) -> None:
    """Register the command's secrets with this (triggerer) process's masker too."""
    for key in command.secret_keys:
        rocky_hook.mask_secret(command.env[key])
