"""One run request, built into a command the same way in ``execute()`` and in the triggerer.

A task holds its arguments raw (at DAG parse time) or rendered (in ``execute()``, or in the triggerer
for ``start_from_trigger`` on Airflow 3.3+). :class:`RunRequest` is those values plus the few fixed
options; :func:`build` turns a request, the resolved connection settings and the task instance into
the validated command and its deadline. Both paths go through it, so they cannot drift again (they
did: the triggerer never set ``ROCKY_RUN_TRIGGER``, and a blank templated ``idempotency_key`` got the
automatic key there and none in ``execute()``; now blank means unset, in both, before the key is
chosen).

``start_from_trigger``: the templated values travel as trigger kwargs named like the operator's
``template_fields`` (Airflow 3.3+ renders exactly those in the triggerer), the rest in a ``spec``
whose keys are the ones release 0.1.0 wrote. Airflow < 3.3 renders nothing there, so a templated
value with ``start_from_trigger`` is refused at parse time on those versions. Airflow decides whether
a task may start from the trigger: ``dag.test()`` runs ``execute()`` and defers as usual, and Airflow
documents mapped tasks as limited.

A value given as ``literal(...)`` (a ``RockyTaskGroup`` node's ``model`` and ``pipeline``) must never be
rendered, but Airflow serializes trigger kwargs as text and the triggerer renders them: such values
travel in the ``spec`` (``literals``), which nothing renders, and their templated kwarg is ``None``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import literal

from airflow_provider_rocky._engine.args.base import blank_to_none, from_operator, operator_name
from airflow_provider_rocky._engine.command import SETTING_OVERRIDES, RockyCommand
from airflow_provider_rocky._task.commands import CommandSpec, command
from airflow_provider_rocky._task.context import audit_env, deadline_from, try_key_of
from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.hooks.rocky import RockyHook

if TYPE_CHECKING:
    from airflow.triggers.base import StartTriggerArgs

TRIGGER_CLASSPATH = "airflow_provider_rocky.triggers.rocky.RockyRunTrigger"
#: Airflow's never-rendered wrapper (``airflow.sdk.literal``), its class found through the public API.
LITERAL = type(literal(None))


@dataclass(frozen=True)
class RunRequest:
    """What one try asks the engine for, by operator argument name, raw or rendered."""

    command: str = "run"
    conn_id: str = RockyHook.default_conn_name
    #: Templated values (arguments, ``env_vars``, setting overrides) and flags, by operator name.
    values: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: float | None = None
    #: ``execution_timeout`` in seconds.
    execution_timeout: float | None = None
    auto_idempotency_key: bool = False
    asset_namespace: str | None = None
    default_catalog: str | None = None

    @property
    def spec_of(self) -> CommandSpec:
        """The declared command this request runs."""
        return command(self.command)

    def templated(self) -> dict[str, Any]:
        """The templated values: trigger kwargs for ``start_from_trigger`` (literals: ``None``)."""
        return {name: _unless_literal(self.values.get(name)) for name in self.spec_of.templated}

    def literals(self) -> dict[str, Any]:
        """The values given as ``literal(...)``, unwrapped: they travel in the ``spec``, unrendered."""
        values = {name: self.values.get(name) for name in self.spec_of.templated}
        return {name: value.value for name, value in values.items() if isinstance(value, LITERAL)}

    def spec(self) -> dict[str, Any]:
        """The JSON-native rest of the request (flags by argument field name, as 0.1.0 wrote them)."""
        flags = {f.name: bool(self.values.get(operator_name(f))) for f in _flag_fields(self.spec_of)}
        literals = self.literals()
        return {
            **({"literals": literals} if literals else {}),
            "conn_id": self.conn_id,
            "flags": flags,
            "timeout_seconds": self.timeout_seconds,
            "execution_timeout": self.execution_timeout,
            "auto_idempotency_key": self.auto_idempotency_key,
            "asset_namespace": self.asset_namespace,
            "default_catalog": self.default_catalog,
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], fields: Mapping[str, Any]) -> RunRequest:
        """Inverse of :meth:`spec` plus the (rendered) templated ``fields``."""
        flags = spec.get("flags") or {}
        values = {
            **fields,
            **(spec.get("literals") or {}),
            **{operator_name(f): flags[f.name] for f in _flag_fields(command(name)) if f.name in flags},
        }
        return cls(
            command=name,
            conn_id=str(spec.get("conn_id") or RockyHook.default_conn_name),
            values=values,
            timeout_seconds=spec.get("timeout_seconds"),
            execution_timeout=spec.get("execution_timeout"),
            auto_idempotency_key=bool(spec.get("auto_idempotency_key")),
            asset_namespace=spec.get("asset_namespace"),
            default_catalog=spec.get("default_catalog"),
        )

    def hook(self) -> RockyHook:
        """The hook for this request's connection and setting overrides (no lookup yet)."""
        values = blank_to_none(dict(self.values))
        overrides = {name: values[name] for name in SETTING_OVERRIDES if values.get(name) is not None}
        return RockyHook(self.conn_id, **overrides)


def _unless_literal(value: Any) -> Any:
    return None if isinstance(value, LITERAL) else value


def _flag_fields(spec: CommandSpec) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(spec.args) if isinstance(f.default, bool)]


@dataclass(frozen=True)
class BuiltRun:
    """A request made concrete: the validated command, its deadline, the asset naming."""

    command: RockyCommand
    deadline: float | None
    deadline_reason: str | None
    asset_namespace: str | None
    default_catalog: str | None = None

    def carry(self) -> dict[str, Any]:
        """What the task needs after a deferral to name its assets (echoed in the trigger's event)."""
        return {"asset_namespace": self.asset_namespace, "default_catalog": self.default_catalog}


def build_run(
    request: RunRequest,
    hook: RockyHook,
    *,
    ti: Any,
    run_type: str | None,
    started: float | None = None,
) -> BuiltRun:
    """Validate and build (raises ``RockyError`` subclasses before anything is spawned).

    ``hook`` is :meth:`RunRequest.hook`; the caller resolves its settings first (``get_settings``
    on a worker, ``await aget_settings()`` in the triggerer), so nothing here blocks. ``started`` is
    when the task started (``execution_timeout`` counts from it); ``None``: now.
    """
    spec = request.spec_of
    # A blank rendered template means "not given"; a literal never rendered (execute() called
    # without Airflow's rendering) is its value as it is.
    values = blank_to_none({k: v.value if isinstance(v, LITERAL) else v for k, v in request.values.items()})
    env_vars = values.pop("env_vars", None) or {}
    if not isinstance(env_vars, Mapping):
        raise RockyUsageError(f"env_vars must be a mapping of names to values, got {type(env_vars).__name__}")
    args = from_operator(spec.args, values)
    if _wants_key(spec, args, request) and ti is not None:
        args["idempotency_key"] = try_key_of(ti)
    env = {str(key): str(value) for key, value in env_vars.items()}
    built = hook.build_command(spec.args.coerce(**args), env, audit_env(ti, run_type))
    deadline, reason = deadline_from(request.timeout_seconds, request.execution_timeout, started)
    settings = hook.get_settings()
    return BuiltRun(
        built,
        deadline,
        reason,
        request.asset_namespace or settings.asset_namespace,
        # "" pins "no catalog" (RockyTaskGroup: the names it declared), whatever the connection says.
        (request.default_catalog if request.default_catalog is not None else settings.default_catalog)
        or None,
    )


def _wants_key(spec: CommandSpec, args: Mapping[str, Any], request: RunRequest) -> bool:
    """The automatic per-try key: asked for, the command takes one, none given, not a resume."""
    takes_key = "idempotency_key" in spec.args.__dataclass_fields__
    return (
        takes_key
        and request.auto_idempotency_key
        and args.get("idempotency_key") is None
        and not args.get("resume_latest")
    )


def start_trigger_args(
    request: RunRequest, limits: Mapping[str, Any], extra: Mapping[str, Any]
) -> StartTriggerArgs:
    """A ``start_from_trigger`` task's ``StartTriggerArgs``: its templated values as kwargs the
    triggerer renders, the request's spec, the run's limits, and ``extra`` kwargs (only those a
    previous triggerer would not refuse: a default is left out)."""
    from airflow.triggers.base import StartTriggerArgs

    from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:
        templated = [name for name, value in request.templated().items() if "{{" in str(value)]
        if templated:
            raise ValueError(
                f"start_from_trigger with templated {', '.join(templated)} needs Airflow 3.3+ (older "
                "triggerers do not render templates); use deferrable=True without it"
            )
    names = ("stderr_tail_lines", "pipes", "max_stdout_bytes", "term_grace_seconds", "min_engine_version")
    kwargs = {**request.templated(), "spec": request.spec(), **{name: limits[name] for name in names}}
    return StartTriggerArgs(
        trigger_cls=TRIGGER_CLASSPATH,
        trigger_kwargs={**kwargs, **extra, "command_name": request.command},
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None,  # the trigger enforces timeout_seconds / execution_timeout itself
    )
