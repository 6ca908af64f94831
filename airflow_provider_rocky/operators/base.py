"""``RockyBaseOperator``: one engine command as an Airflow task, on the worker or under the triggerer.

A subclass declares its command (:class:`~airflow_provider_rocky._task.commands.CommandSpec`) and its
own arguments; everything else is here, once, for every command: the connection and its overrides,
``env_vars``, the time budget, both modes (a mode is only *where* the process runs), the summary in
XCom, the categorized error, ``on_kill``. ``__init__`` does no I/O (parse time is free): arguments
that do not depend on templating are checked there, everything else in ``execute`` before anything
is spawned.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.configuration import conf
from airflow.sdk import BaseOperator

from airflow_provider_rocky._engine import defaults
from airflow_provider_rocky._engine.args.base import operator_name
from airflow_provider_rocky._task.handoff import IN_FLIGHT_WAIT_SECONDS
from airflow_provider_rocky.exceptions import RockyError

if TYPE_CHECKING:
    # The rest is imported where it is used: a DAG file pays for building tasks, not running them.
    from airflow.sdk import Context
    from airflow.triggers.base import StartTriggerArgs

    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.run import EngineRun, RunLimits, RunRecord
    from airflow_provider_rocky._task.declared import CommandLike
    from airflow_provider_rocky._task.request import BuiltRun, RunRequest
    from airflow_provider_rocky._verdict.interpret import Verdict

__all__ = ["DEFER_TIMEOUT_MARGIN", "FULL_RESULT_KEY", "ON_KILL_GRACE_SECONDS", "RockyBaseOperator"]

#: XCom key of the full parsed result when ``push_full_result=True``.
FULL_RESULT_KEY = "rocky_result"
#: Extra seconds the framework's defer timeout waits past our own deadline (a backstop only).
DEFER_TIMEOUT_MARGIN = timedelta(minutes=5)
#: Grace the engine gets when the worker kills a sync task: Airflow SIGKILLs the task 5 s after SIGTERM.
ON_KILL_GRACE_SECONDS = 3.0


class RockyBaseOperator(BaseOperator):
    """The shared task face of every Rocky command; subclasses set :attr:`command`.

    :param rocky_conn_id: the ``rocky`` connection (``rocky_default`` may be left undefined).
    :param env_vars: extra environment of the engine only (never argv); a value is a secret (masked)
        when its name looks sensitive by Airflow's rule (``*_TOKEN``, ``*_PASSWORD``...), else
        configuration, shown as it is.
    :param timeout_seconds: the run's own time budget; the task's ``execution_timeout`` also applies,
        in both modes (Airflow does not enforce it while deferred, so the trigger does), counted from
        when ``execute()`` started, not from ``ti.start_date``.
    :param stderr_tail_lines: engine stderr lines kept for error messages.
    :param push_full_result: also push the full parsed result under XCom key ``rocky_result``.
    :param max_stdout_bytes: stdout kept; past it the run fails as ``output``.
    :param term_grace_seconds: SIGTERM to SIGKILL on a timeout or a kill; a sync task killed by
        Airflow gives at most :data:`ON_KILL_GRACE_SECONDS` (Airflow SIGKILLs the task 5 s later).
    :param deferrable: run the engine under the triggerer (no worker slot held while it runs).
    :param start_from_trigger: with ``deferrable``, start the task in the triggerer itself.
    :param event_hold_seconds: deferrable mode: the trigger fires no sooner than this after the
        deferral (default: ``[workers] min_heartbeat_interval`` + 5 s; 0: at once), so a run that
        ends within seconds does not meet an Airflow 3.2 to 3.3 scheduler race (docs/deferrable.md).
        Never under ``dag.test()`` (one process, in order: no race), nor when the engine failed to start.
    :param auto_idempotency_key: in deferrable mode, when the command takes an ``idempotency_key`` and
        none is given, pass a key made of the task instance and its try number.
    :param in_flight_wait_seconds: deferrable mode: how long a trigger that finds its try's key held
        (a copy of the try that another triggerer ran) keeps asking before the try fails as ``state``,
        retryable (docs/deferrable.md; ``_task/handoff.py``). Default 10 minutes.
    :param pipes: give the engine a Dagster Pipes channel (docs/results.md, Pipes).
    Connection overrides for this task: ``binary_path``, ``project_dir``, ``config_path``,
    ``state_path``, ``state_namespace``, ``models_dir``.
    """

    #: The engine command this operator runs (a declaration; see ``_task/commands.py``, or a
    #: ``_task.declared.LazyCommand`` that imports it only when a task runs).
    command: ClassVar[CommandLike]
    template_fields_renderers: ClassVar[dict[str, str]] = {"env_vars": "json"}
    ui_color = "#2b2d42"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        env_vars: Mapping[str, str] | None = None,
        rocky_conn_id: str = defaults.DEFAULT_CONN_ID,
        binary_path: str | None = None,
        project_dir: str | None = None,
        config_path: str | None = None,
        state_path: str | None = None,
        state_namespace: str | None = None,
        models_dir: str | None = None,
        timeout_seconds: float | None = None,
        stderr_tail_lines: int = 20,
        push_full_result: bool = False,
        max_stdout_bytes: int = defaults.DEFAULT_MAX_STDOUT_BYTES,
        term_grace_seconds: float = defaults.DEFAULT_TERM_GRACE_SECONDS,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        auto_idempotency_key: bool = True,
        pipes: bool = False,
        start_from_trigger: bool = False,
        event_hold_seconds: float | None = None,
        in_flight_wait_seconds: float = IN_FLIGHT_WAIT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.in_flight_wait_seconds = in_flight_wait_seconds
        self.env_vars = dict(env_vars) if env_vars else {}
        self.rocky_conn_id = rocky_conn_id
        self.binary_path = binary_path
        self.project_dir = project_dir
        self.config_path = config_path
        self.state_path = state_path
        self.state_namespace = state_namespace
        self.models_dir = models_dir
        self.timeout_seconds = timeout_seconds
        self.stderr_tail_lines = stderr_tail_lines
        self.push_full_result = push_full_result
        self.max_stdout_bytes = max_stdout_bytes
        self.term_grace_seconds = term_grace_seconds
        self.deferrable = deferrable
        self.auto_idempotency_key = auto_idempotency_key
        self.pipes = pipes
        self.event_hold_seconds = event_hold_seconds
        self.start_from_trigger = start_from_trigger
        self._run: EngineRun | None = None
        #: How this try names its assets (``asset_namespace``, ``default_catalog``), once built.
        self._naming: dict[str, Any] = {}

    def _check_static_arguments(self) -> None:
        """Catch at parse time what templating cannot change (None-ness and booleans), naming it.

        Subclasses call this at the end of their ``__init__``, once every argument is set.
        """
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise ValueError(f"{self.task_id}: timeout_seconds={self.timeout_seconds!r} must be > 0")
        if self.stderr_tail_lines < 0:
            raise ValueError(f"{self.task_id}: stderr_tail_lines must be >= 0")
        if not self.in_flight_wait_seconds >= 0:
            raise ValueError(f"{self.task_id}: in_flight_wait_seconds must be >= 0")
        args = self.command.args
        try:
            args.check_shape(
                **{f.name: getattr(self, operator_name(f), None) for f in dataclasses.fields(args)}
            )
        except Exception as err:
            raise ValueError(f"{self.task_id}: {err}") from None
        if self.start_from_trigger:
            if not self.deferrable:
                raise ValueError(f"{self.task_id}: start_from_trigger=True needs deferrable=True")
            self.start_trigger_args = self._start_trigger_args(self.run_request())

    # -- building ---------------------------------------------------------------------------------

    def run_request(self) -> RunRequest:
        """This task's request, from its (raw or rendered) attributes; names come from the command."""
        from airflow_provider_rocky._task.request import RunRequest

        names = (*self.command.templated, *self.command.flags)
        timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        return RunRequest(
            command=self.command.name,
            conn_id=self.rocky_conn_id,
            values={name: getattr(self, name, None) for name in names},
            timeout_seconds=self.timeout_seconds,
            execution_timeout=timeout,
            auto_idempotency_key=self.deferrable and self.auto_idempotency_key,
            asset_namespace=getattr(self, "asset_namespace", None),
            default_catalog=getattr(self, "default_catalog", None),
        )

    def _limits(self, deadline: float | None = None, reason: str | None = None) -> RunLimits:
        from airflow_provider_rocky._engine.run import RunLimits

        return RunLimits(
            self.stderr_tail_lines,
            self.max_stdout_bytes,
            self.term_grace_seconds,
            deadline,
            reason,
            self.pipes,
            self.command.min_engine_version,
        )

    def _start_trigger_args(self, request: RunRequest) -> StartTriggerArgs:
        """``StartTriggerArgs``: the templated values as kwargs the triggerer renders, plus a spec."""
        from airflow_provider_rocky._task.request import start_trigger_args

        wait = self.in_flight_wait_seconds
        extra = {} if wait == IN_FLIGHT_WAIT_SECONDS else {"in_flight_wait_seconds": wait}  # 0.1.0 refuses it
        try:
            return start_trigger_args(request, self._limits().as_kwargs(), extra)
        except ValueError as err:
            raise ValueError(f"{self.task_id}: {err}") from None

    def build(self, context: Context, started: float | None = None) -> BuiltRun:
        """The validated command for this try (raises ``RockyUsageError`` & co. before anything runs).

        ``started``: when ``execute()`` was entered; ``execution_timeout`` counts from it.
        """
        from airflow_provider_rocky._task import context as task_context
        from airflow_provider_rocky._task.request import build_run

        request = self.run_request()
        hook = request.hook()
        hook.get_settings()
        ti = context.get("ti")
        return build_run(
            request, hook, ti=ti, run_type=task_context.run_type_of(context, ti), started=started
        )

    # -- running ----------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Validate, then run the engine here (sync) or hand it to the triggerer (deferrable)."""
        from airflow_provider_rocky._engine.logsink import log_sink
        from airflow_provider_rocky._engine.run import EngineRun
        from airflow_provider_rocky._task import bundles, secrets

        started = time.time()  # execution_timeout counts from here, in both modes
        try:
            built = self.build(context, started)
            if self.deferrable and built.command.cwd:
                refused = bundles.refusal(built.command.cwd, context.get("ti"))
                if refused is not None:
                    raise refused
        except RockyError as err:  # refused before anything was spawned: still say why in XCom
            self._push_summary(context, self._refused(err))
            raise secrets.storable_error(err) from None
        self._naming = built.carry()
        command = built.command
        self.log.info("rocky command: %s (cwd=%s)", command.shown(), command.cwd or ".")
        limits = self._limits(built.deadline, built.deadline_reason)
        if self.deferrable:
            self._defer(command, limits)
        self._run = EngineRun(command, limits, log_sink(self.log))
        budget = None if self.execution_timeout is None else str(self.execution_timeout)
        try:
            record = self._run.run_in_task(execution_timeout=budget)
        finally:
            self._run = None
        return self._finish(context, record, command.redacted())

    def _defer(self, command: RockyCommand, limits: RunLimits) -> None:
        from airflow_provider_rocky._task import secrets
        from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

        kwarg, sealed = secrets.seal_command(command)
        if not sealed:
            self.log.warning(
                "[core] fernet_key is not set: the engine's %d secret environment value(s) are stored "
                "unencrypted in the trigger table while the task is deferred; set the same fernet_key "
                "on workers and triggerers (docs/security.md)",
                len(command.secret_keys),
            )
        trigger = RockyRunTrigger(
            kwarg,
            **limits.as_kwargs(),
            carry=self._naming,
            hold_until=self._hold_until(),
            command_name=self.command.name,
            in_flight_wait_seconds=self.in_flight_wait_seconds,
        )
        backstop = None
        if limits.deadline is not None:
            backstop = timedelta(seconds=max(limits.deadline - time.time(), 0) + self.term_grace_seconds)
            backstop += DEFER_TIMEOUT_MARGIN
        self.defer(trigger=trigger, method_name="execute_complete", timeout=backstop)

    def _hold_until(self) -> float | None:
        """The event hold, except under ``dag.test()``, where the race it guards against cannot happen."""
        from airflow_provider_rocky._task import context as task_context

        in_process = task_context.runs_in_process()
        return None if in_process else task_context.event_hold_until(self.event_hold_seconds)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: the same interpreter as the sync path decides what it meant."""
        from airflow_provider_rocky._engine.run import RunRecord
        from airflow_provider_rocky._task import secrets, wire

        self._register_secrets()
        try:
            unpacked = wire.unpack(event)
        except RockyError as err:
            self._push_summary(context, self._refused(err))
            raise secrets.storable_error(err) from None
        if isinstance(unpacked, wire.Refused):  # start_from_trigger: refused in the triggerer
            self._push_summary(context, self._refused(unpacked.error))
            raise secrets.storable_error(unpacked.error)
        self._naming = dict(unpacked.carry)
        return self._finish(context, RunRecord(unpacked.outcome, unpacked.pipes), unpacked.command)

    # -- what it meant ----------------------------------------------------------------------------

    def interpret_options(self) -> dict[str, Any]:
        """Command-specific options of the interpreter (``fail_on_partial`` for ``rocky run``)."""
        return {}

    def _read(self, record: RunRecord, command: Sequence[str]) -> tuple[Verdict, dict[str, Any]]:
        """The interpreter's verdict on a finished run, its report logged, and its XCom summary."""
        from airflow_provider_rocky._verdict.facts import facts

        spec, binary = self.command, command[0] if command else "rocky"
        options = dict(command=command, binary=binary, max_stdout_bytes=self.max_stdout_bytes)
        verdict = spec.interpret(record.outcome, **options, **self.interpret_options())
        for text, is_warning in spec.report(verdict, record.pipes):
            (self.log.warning if is_warning else self.log.info)(text)
        return verdict, {**spec.summarize(verdict, record.pipes), **facts(spec.name, command, verdict.error)}

    def _finish(self, context: Context, record: RunRecord, command: Sequence[str]) -> Any:
        from airflow_provider_rocky._task import secrets

        verdict, compact = self._read(record, command)
        if self.push_full_result and verdict.result is not None:
            full = verdict.result.model_dump(mode="json")
            context["ti"].xcom_push(key=FULL_RESULT_KEY, value=secrets.for_the_db(full))
        if verdict.error is not None:
            self._push_summary(context, compact)
            raise secrets.storable_error(verdict.error)
        added = self.on_success(context, verdict, record)
        return secrets.for_the_db({**compact, **added})

    def _refused(self, error: RockyError) -> dict[str, Any]:
        """The summary of a try refused before anything ran, with what the Rocky view shows of it."""
        from airflow_provider_rocky._verdict import summary
        from airflow_provider_rocky._verdict.facts import facts

        return {**summary.refused(error), **facts(self.command.name, None, error)}

    def on_success(self, context: Context, verdict: Verdict, record: RunRecord) -> dict[str, Any]:
        """A successful run's side effects beyond XCom (assets, for commands that materialize).

        Returns what they add to the summary (``assets``: each event's table and URI).
        """
        return {}

    def _push_summary(self, context: Context, value: dict[str, Any]) -> None:
        """Push the summary, redacted and storable (Airflow redacts no XCom; JSONB refuses NUL)."""
        from airflow_provider_rocky._task import secrets

        if self.do_xcom_push:
            context["ti"].xcom_push(key="return_value", value=secrets.for_the_db(value))

    # -- secrets ----------------------------------------------------------------------------------

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render, then register the rendered secret ``env_vars`` values with the masker at once.

        Airflow serializes the rendered fields (and redacts what the masker knows) right after this,
        before ``execute()``: registered there, a templated secret would be stored in clear.
        """
        super().render_template_fields(context, jinja_env)
        self._mask_env_vars()

    def _mask_env_vars(self) -> None:
        """Register the ``env_vars`` values whose names look sensitive (the others are configuration)."""
        from airflow_provider_rocky.hooks.rocky import mask_secret, sensitive_names

        if isinstance(self.env_vars, Mapping):
            for name in sensitive_names(self.env_vars):
                mask_secret(str(self.env_vars[name]))

    def _register_secrets(self) -> None:
        """A resumed task is a new process: teach its masker the secrets again, before any output.

        The connection's ``env``/``secret_env`` are read again for that (a connection that no longer
        reads is ignored here: the run is over, only its report remains).
        """
        self._mask_env_vars()
        try:
            self.run_request().hook().get_settings()
        except RockyError as err:
            self.log.info("Connection not read again to mask its secrets in the report: %s", err.reason)

    def on_kill(self) -> None:
        """Airflow is stopping the task: end the engine's process group before returning.

        Airflow SIGKILLs the task process 5 s after the SIGTERM that calls this, so the engine gets
        at most :data:`ON_KILL_GRACE_SECONDS` of ``term_grace_seconds`` here (the trigger, which
        nobody SIGKILLs, gives it all).
        """
        run = self._run
        if run is not None:
            grace = min(self.term_grace_seconds, ON_KILL_GRACE_SECONDS)
            self.log.warning("Task killed: stopping rocky (SIGTERM, then SIGKILL after %ss)", grace)
            run.kill_now(grace)
