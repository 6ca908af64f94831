"""``RockyOperator``: run ``rocky run`` as an Airflow task, on the worker or under the triggerer.

A mode is only *where* the process runs: both modes build the command with the hook, supervise it
with :class:`~airflow_provider_rocky.process.ProcessRunner`, and hand the outcome to
:func:`~airflow_provider_rocky.results.interpret`. ``__init__`` does no I/O (parse time is free):
arguments that do not depend on templating are checked there, everything else in ``execute``
before anything is spawned.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.configuration import conf
from airflow.sdk import AssetAlias, BaseOperator

from airflow_provider_rocky import assets, exceptions, results, summary, supervise, task_context, worker
from airflow_provider_rocky.command import RunArgs
from airflow_provider_rocky.exceptions import RockyEngineError, RockyError
from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.logs import LogLine
from airflow_provider_rocky.pipes import merge_materializations
from airflow_provider_rocky.process import (
    DEFAULT_MAX_STDOUT_BYTES,
    DEFAULT_TERM_GRACE_SECONDS,
    ProcessOutcome,
    ProcessRunner,
    RockyCommand,
)
from airflow_provider_rocky.triggers import start
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

#: XCom key of the full RunResult when ``push_full_result=True``.
FULL_RESULT_KEY = "rocky_result"
#: Extra seconds the framework's defer timeout waits past our own deadline (a backstop only).
DEFER_TIMEOUT_MARGIN = timedelta(minutes=5)
#: Grace the engine gets when the worker kills a sync task: Airflow SIGKILLs the task 5 s after SIGTERM.
ON_KILL_GRACE_SECONDS = 3.0


class RockyOperator(BaseOperator):
    """Run ``rocky run`` with live logs, the typed result in XCom, and categorized failures.

    Run arguments mirror ``rocky_sdk.RockyClient.run`` (``filter``, ``governance_override``, ``run_models``,
    ``partition``, ``partition_from``/``partition_to``, ``latest``, ``missing``, ``lookback``, ``parallel``,
    ``pipeline``, ``shadow_suffix``, ``idempotency_key``) plus ``model`` (``run_model``), ``resume_latest``
    (``resume_run``), ``defer_upstream``/``defer_to`` (``--defer``/``--defer-to``; not called ``defer``,
    which is ``BaseOperator.defer``). ``env_vars`` reach only the child's environment and are masked.

    Connection overrides for this task: ``binary_path``, ``project_dir``, ``config_path``, ``state_path``,
    ``state_namespace``, ``models_dir``.

    :param timeout_seconds: the run's own time budget; the task's ``execution_timeout`` also applies,
        in both modes (Airflow does not enforce it while deferred, so the trigger does).
    :param fail_on_partial: raise ``category == "partial"`` (after XCom is pushed) when some tables failed;
        by default a partial run succeeds with a loud warning, as dagster-rocky does.
    :param stderr_tail_lines: engine stderr lines kept for error messages.
    :param push_full_result: also push the full ``RunResult`` JSON under XCom key ``rocky_result``.
    :param term_grace_seconds: SIGTERM to SIGKILL on a timeout or a kill; a sync task killed by
        Airflow gives at most :data:`ON_KILL_GRACE_SECONDS` (Airflow SIGKILLs the task 5 s later).
    :param deferrable: run the engine under the triggerer (no worker slot held while it runs).
    :param event_hold_seconds: deferrable mode: the trigger fires no sooner than this after the
        deferral (default: ``[workers] min_heartbeat_interval`` + 5 s; 0: at once), so a run that
        ends within seconds does not meet an Airflow 3.2 to 3.3 scheduler race (README, Deferrable mode).
    :param auto_idempotency_key: in deferrable mode, when ``idempotency_key`` is not given, pass a key
        made of the task instance and its try number so a trigger run twice runs the work once.
    """

    template_fields: Sequence[str] = (
        "filter",
        "governance_override",
        "partition",
        "partition_from",
        "partition_to",
        "lookback",
        "parallel",
        "pipeline",
        "model",
        "shadow_suffix",
        "idempotency_key",
        "defer_to",
        "env_vars",
        "binary_path",
        "project_dir",
        "config_path",
        "state_path",
        "state_namespace",
        "models_dir",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"governance_override": "json", "env_vars": "json"}
    ui_color = "#2b2d42"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        filter: str | None = None,
        governance_override: dict[str, Any] | str | None = None,
        run_models: bool = False,
        partition: str | None = None,
        partition_from: str | None = None,
        partition_to: str | None = None,
        latest: bool = False,
        missing: bool = False,
        lookback: int | str | None = None,
        parallel: int | str | None = None,
        pipeline: str | None = None,
        model: str | None = None,
        shadow_suffix: str | None = None,
        idempotency_key: str | None = None,
        resume_latest: bool = False,
        defer_upstream: bool = False,
        defer_to: str | None = None,
        env_vars: Mapping[str, str] | None = None,
        rocky_conn_id: str = RockyHook.default_conn_name,
        binary_path: str | None = None,
        project_dir: str | None = None,
        config_path: str | None = None,
        state_path: str | None = None,
        state_namespace: str | None = None,
        models_dir: str | None = None,
        timeout_seconds: float | None = None,
        fail_on_partial: bool = False,
        stderr_tail_lines: int = 20,
        push_full_result: bool = False,
        max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES,
        term_grace_seconds: float = DEFAULT_TERM_GRACE_SECONDS,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        auto_idempotency_key: bool = True,
        asset_namespace: str | None = None,
        asset_alias: str | None = None,
        emit_assets: bool = True,
        pipes: bool = False,
        start_from_trigger: bool = False,
        event_hold_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.asset_namespace = asset_namespace
        self.pipes = pipes
        self.emit_assets = emit_assets
        #: Declared at parse time (Airflow requires it); runtime events go through it.
        self.asset_alias: AssetAlias | None = None
        if emit_assets:
            dag_id = self.dag.dag_id if self.has_dag() else ""  # type: ignore[no-untyped-call]
            self.asset_alias = AssetAlias(asset_alias or assets.default_alias_name(dag_id, self.task_id))
            self.outlets = [*self.outlets, self.asset_alias]
        self._asset_specs: list[assets.AssetEventSpec] = []
        self.filter = filter
        self.governance_override = governance_override
        self.run_models = run_models
        self.partition = partition
        self.partition_from = partition_from
        self.partition_to = partition_to
        self.latest = latest
        self.missing = missing
        self.lookback = lookback
        self.parallel = parallel
        self.pipeline = pipeline
        self.model = model
        self.shadow_suffix = shadow_suffix
        self.idempotency_key = idempotency_key
        self.resume_latest = resume_latest
        self.defer_upstream = defer_upstream
        self.defer_to = defer_to
        self.env_vars = dict(env_vars) if env_vars else {}
        self.rocky_conn_id = rocky_conn_id
        self.binary_path = binary_path
        self.project_dir = project_dir
        self.config_path = config_path
        self.state_path = state_path
        self.state_namespace = state_namespace
        self.models_dir = models_dir
        self.timeout_seconds = timeout_seconds
        self.fail_on_partial = fail_on_partial
        self.stderr_tail_lines = stderr_tail_lines
        self.push_full_result = push_full_result
        self.max_stdout_bytes = max_stdout_bytes
        self.term_grace_seconds = term_grace_seconds
        self.deferrable = deferrable
        self.auto_idempotency_key = auto_idempotency_key
        self.event_hold_seconds = event_hold_seconds
        self._runner: ProcessRunner | None = None
        self._namespace: str | None = None
        self._check_static_arguments()
        self.start_from_trigger = start_from_trigger
        if start_from_trigger:
            if not deferrable:
                raise ValueError(f"{self.task_id}: start_from_trigger=True needs deferrable=True")
            self.start_trigger_args = start.start_trigger_args(self)

    def _check_static_arguments(self) -> None:
        """Catch at parse time what templating cannot change (None-ness and booleans), naming it."""
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise ValueError(f"{self.task_id}: timeout_seconds={self.timeout_seconds!r} must be > 0")
        if self.stderr_tail_lines < 0:
            raise ValueError(f"{self.task_id}: stderr_tail_lines must be >= 0")
        names = ("partition", "partition_from", "partition_to", "latest", "missing", "run_models", "model")
        values = {
            name: getattr(self, name) for name in (*names, "resume_latest", "idempotency_key", "defer_to")
        }
        try:
            RunArgs.check_shape(defer=self.defer_upstream, **values)
        except Exception as err:
            raise ValueError(f"{self.task_id}: {err}") from None

    # -- building ---------------------------------------------------------------------------------

    def _hook(self) -> RockyHook:
        return RockyHook(
            self.rocky_conn_id,
            binary_path=self.binary_path,
            project_dir=self.project_dir,
            config_path=self.config_path,
            state_path=self.state_path,
            state_namespace=self.state_namespace,
            models_dir=self.models_dir,
        )

    def _run_args(self, context: Context) -> RunArgs:
        key = self.idempotency_key
        if key is None and self.deferrable and self.auto_idempotency_key and not self.resume_latest:
            key = task_context.try_key(context)
        return RunArgs.coerce(
            filter=self.filter,
            governance_override=self.governance_override,
            run_models=self.run_models,
            partition=self.partition,
            partition_from=self.partition_from,
            partition_to=self.partition_to,
            latest=self.latest,
            missing=self.missing,
            lookback=self.lookback,
            parallel=self.parallel,
            pipeline=self.pipeline,
            model=self.model,
            shadow_suffix=self.shadow_suffix,
            idempotency_key=key,
            resume_latest=self.resume_latest,
            defer=self.defer_upstream,
            defer_to=self.defer_to,
        )

    def build_command(self, context: Context) -> RockyCommand:
        """The validated command for this try (raises ``RockyUsageError`` before anything runs)."""
        env = {str(k): str(v) for k, v in self.env_vars.items()}
        hook = self._hook()
        command = hook.build_run_command(self._run_args(context), env, task_context.audit_env(context))
        self._namespace = self.asset_namespace or hook.get_settings().asset_namespace
        return command

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Validate, then run the engine here (sync) or hand it to the triggerer (deferrable)."""
        try:
            command = self.build_command(context)
        except RockyError as err:  # refused before anything was spawned: still say why in XCom
            if self.do_xcom_push:
                context["ti"].xcom_push(key="return_value", value=summary.refused(err))
            raise
        deadline, reason = task_context.deadline(context, self.timeout_seconds, self.execution_timeout)
        self.log.info("rocky command: %s (cwd=%s)", " ".join(command.redacted()), command.cwd or ".")
        if self.deferrable:
            trigger = RockyRunTrigger(
                command.serialize(),
                deadline=deadline,
                deadline_reason=reason,
                stderr_tail_lines=self.stderr_tail_lines,
                max_stdout_bytes=self.max_stdout_bytes,
                term_grace_seconds=self.term_grace_seconds,
                carry={"asset_namespace": self._namespace},
                pipes=self.pipes,
                hold_until=task_context.event_hold_until(self.event_hold_seconds),
            )
            backstop = None
            if deadline is not None:
                backstop = timedelta(seconds=max(deadline - time.time(), 0) + self.term_grace_seconds)
                backstop += DEFER_TIMEOUT_MARGIN
            self.defer(trigger=trigger, method_name="execute_complete", timeout=backstop)
        channel = None
        if self.pipes:
            command, channel = supervise.attach_pipes(command)
        runner = ProcessRunner(
            command,
            on_line=self._log_line,
            stderr_tail_lines=self.stderr_tail_lines,
            max_stdout_bytes=self.max_stdout_bytes,
            deadline=deadline,
            deadline_reason=reason,
            term_grace_seconds=self.term_grace_seconds,
        )
        self._runner = runner
        budget = None if self.execution_timeout is None else str(self.execution_timeout)
        try:
            outcome, record = worker.run_here(runner, channel, self._log_line, execution_timeout=budget)
        finally:
            self._runner = None
        return self._finish(context, outcome, command.redacted(), record)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Resume after the trigger: the same interpreter as the sync path decides what it meant."""
        if event and "refused" in event:  # start_from_trigger: refused in the triggerer, before spawning
            refused = event["refused"]
            found = getattr(exceptions, str(refused.get("class", "")), None)
            if not (isinstance(found, type) and issubclass(found, exceptions.RockyError)):
                found = exceptions.RockyUsageError
            error = found(refused.get("message", "refused before spawning"))
            if self.do_xcom_push:
                context["ti"].xcom_push(key="return_value", value=summary.refused(error))
            raise error
        if not event or "outcome" not in event:
            raise RockyEngineError(f"the rocky trigger returned no outcome: {event!r}")
        self._namespace = (event.get("carry") or {}).get("asset_namespace")
        record = supervise.PipesRecord.unpack(event["pipes"]) if event.get("pipes") else None
        outcome = ProcessOutcome.from_event(event["outcome"])
        return self._finish(context, outcome, list(event.get("command") or []), record)

    def _log_line(self, line: LogLine) -> None:
        self.log.log(line.level, line.text)

    def _finish(
        self,
        context: Context,
        outcome: ProcessOutcome,
        command: list[str],
        pipes_record: supervise.PipesRecord | None = None,
    ) -> dict[str, Any] | None:
        verdict = results.interpret(
            outcome,
            command=command,
            binary=command[0] if command else "rocky",
            fail_on_partial=self.fail_on_partial,
            max_stdout_bytes=self.max_stdout_bytes,
        )
        summary.log_report(self.log, verdict, pipes_record)
        compact = summary.build(verdict, pipes_record)
        ti = context["ti"]
        if self.push_full_result and verdict.result is not None:
            ti.xcom_push(key=FULL_RESULT_KEY, value=verdict.result.model_dump(mode="json"))
        if verdict.error is not None:
            if self.do_xcom_push:
                ti.xcom_push(key="return_value", value=compact)
            raise verdict.error
        self._emit_assets(context, verdict, pipes_record)
        return compact

    def _emit_assets(
        self, context: Context, verdict: results.Verdict, pipes_record: supervise.PipesRecord | None
    ) -> None:
        """One asset event per materialized table (and partition), only for runs that succeeded."""
        if self.asset_alias is None or verdict.result is None:
            return
        try:
            specs = assets.asset_events(verdict.result, namespace=self._namespace)
            if pipes_record is not None:  # Pipes-only tables are added; a table is never emitted twice
                specs = merge_materializations(
                    specs,
                    pipes_record.materializations(),
                    namespace=self._namespace,
                    run_status=verdict.result.status,
                    engine_version=verdict.result.version,
                )
        except ValueError as err:  # a namespace that cannot name these tables: say so, keep the run
            self.log.error("No asset events: %s (set asset_namespace on the operator or connection)", err)
            return
        count = assets.emit(context["outlet_events"], self.asset_alias, self.outlets, specs)
        self._asset_specs = specs
        self.log.info("Recorded %d asset event(s) through AssetAlias %r", count, self.asset_alias.name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage outputs = the tables this run materialized (only with the OpenLineage provider)."""
        from airflow_provider_rocky.lineage import operator_lineage

        return operator_lineage(self._asset_specs)

    def on_kill(self) -> None:
        """Airflow is stopping the task: end the engine's process group before returning.

        Airflow SIGKILLs the task process 5 s after the SIGTERM that calls this, so the engine gets
        at most :data:`ON_KILL_GRACE_SECONDS` of ``term_grace_seconds`` here (the trigger, which
        nobody SIGKILLs, gives it all).
        """
        runner = self._runner
        if runner is not None:
            grace = min(self.term_grace_seconds, ON_KILL_GRACE_SECONDS)
            self.log.warning("Task killed: stopping rocky (SIGTERM, then SIGKILL after %ss)", grace)
            runner.end_now(grace)
