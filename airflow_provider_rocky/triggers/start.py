"""``start_from_trigger``: the task starts in the triggerer and never takes a worker slot.

The operator hands the triggerer its raw arguments rather than a built command: the templated ones
as trigger kwargs named like the operator's ``template_fields`` (Airflow 3.3+ renders exactly those in
the triggerer), the rest in a ``spec``. The trigger resolves the connection without blocking its loop,
validates, and builds exactly the command ``execute()`` would. Airflow < 3.3 renders nothing there, so
the operator refuses a templated value with ``start_from_trigger`` on those versions, at parse time.
A refusal (bad filter, missing connection) comes back as an event, so the task fails with the same
category as in the other modes. Airflow decides whether a task may start from the trigger: it does not
apply to ``dag.test()`` (the task then runs ``execute()`` and defers as usual) and Airflow documents
mapped tasks as limited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow.triggers.base import StartTriggerArgs

from airflow_provider_rocky.command import RunArgs
from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.process import RockyCommand
from airflow_provider_rocky.task_context import deadline_from, try_key_of

#: The operator's templated arguments: passed as top-level trigger kwargs so the triggerer renders them.
TEMPLATED = (
    *("filter", "governance_override", "partition", "partition_from", "partition_to", "lookback"),
    *("parallel", "pipeline", "model", "shadow_suffix", "idempotency_key", "defer_to", "env_vars"),
    *("binary_path", "project_dir", "config_path", "state_path", "state_namespace", "models_dir"),
)
OVERRIDE_NAMES = ("binary_path", "project_dir", "config_path", "state_path", "state_namespace", "models_dir")
_FLAGS = ("run_models", "latest", "missing", "resume_latest")


def renders_in_triggerer() -> bool:
    """Airflow 3.3+ renders start-from-trigger kwargs named like the operator's template fields."""
    from airflow import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return (major, minor) >= (3, 3)


def start_trigger_args(op: Any) -> StartTriggerArgs:
    """The ``StartTriggerArgs`` of a ``RockyOperator``: a JSON-native spec of its arguments."""
    if not renders_in_triggerer():
        templated = [name for name in TEMPLATED if "{{" in str(getattr(op, name))]
        if templated:
            raise ValueError(
                f"{op.task_id}: start_from_trigger with templated {', '.join(templated)} needs Airflow 3.3+ "
                "(older triggerers do not render templates); use deferrable=True without start_from_trigger"
            )
    timeout = op.execution_timeout.total_seconds() if op.execution_timeout else None
    spec = {
        "conn_id": op.rocky_conn_id,
        "flags": {**{name: getattr(op, name) for name in _FLAGS}, "defer": op.defer_upstream},
        "timeout_seconds": op.timeout_seconds,
        "execution_timeout": timeout,
        "auto_idempotency_key": op.auto_idempotency_key,
        "asset_namespace": op.asset_namespace,
    }
    return StartTriggerArgs(
        trigger_cls="airflow_provider_rocky.triggers.rocky.RockyRunTrigger",
        trigger_kwargs={
            **{name: getattr(op, name) for name in TEMPLATED},
            "spec": spec,
            "stderr_tail_lines": op.stderr_tail_lines,
            "pipes": op.pipes,
            "max_stdout_bytes": op.max_stdout_bytes,
            "term_grace_seconds": op.term_grace_seconds,
        },
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None,  # the trigger enforces timeout_seconds / execution_timeout itself
    )


@dataclass(frozen=True)
class BuiltCommand:
    """What the triggerer derived from a spec."""

    command: RockyCommand
    deadline: float | None
    deadline_reason: str | None
    asset_namespace: str | None


async def command_from_spec(spec: dict[str, Any], fields: dict[str, Any], ti: Any) -> BuiltCommand:
    """Spec + rendered fields → validated command (raises ``RockyError`` subclasses like ``execute()``)."""
    overrides = {name: fields[name] for name in OVERRIDE_NAMES if fields.get(name) is not None}
    hook = RockyHook(spec["conn_id"], **overrides)
    settings = await hook.aget_settings()
    skip = {*OVERRIDE_NAMES, "env_vars"}
    run_args = {**{k: v for k, v in fields.items() if k not in skip}, **spec.get("flags", {})}
    wants_key = spec.get("auto_idempotency_key") and not run_args.get("resume_latest")
    if run_args.get("idempotency_key") in (None, "") and wants_key and ti is not None:
        run_args["idempotency_key"] = try_key_of(ti)
    env = {str(k): str(v) for k, v in (fields.get("env_vars") or {}).items()}
    audit = (
        {} if ti is None else {"ROCKY_SUBMISSION_ID": f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}"}
    )
    command = hook.build_run_command(RunArgs.coerce(**run_args), env, audit)
    deadline, reason = deadline_from(spec.get("timeout_seconds"), spec.get("execution_timeout"))
    return BuiltCommand(command, deadline, reason, spec.get("asset_namespace") or settings.asset_namespace)
