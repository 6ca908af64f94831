"""``rocky run`` arguments: validation before anything is spawned, and the argv the engine expects.

The argv matches what ``rocky_sdk.RockyClient`` builds for the same call, flag for flag and in the
same order (a parity test proves it), so a DAG moved from the SDK recipe or dagster-rocky behaves the
same. Validation names the offending arguments and runs on the worker before the process (or the
trigger) exists: bad input never costs a warehouse connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky.exceptions import RockyGovernanceError, RockyUsageError
from airflow_provider_rocky.process import RockyCommand

_NAMESPACE = re.compile(r"^[a-zA-Z0-9_]+$")


@dataclass(frozen=True)
class RockySettings:
    """Where and how to run the engine: the ``rocky`` connection merged with per-task overrides.

    ``state_path``/``state_namespace`` default to neither, so the engine resolves its own state file
    (``models/.rocky-state.redb``), exactly like a bare ``rocky run``.
    """

    binary_path: str = "rocky"
    project_dir: str | None = None
    config_path: str = "rocky.toml"
    state_path: str | None = None
    state_namespace: str | None = None
    models_dir: str = "models"
    asset_namespace: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Refuse settings the engine would refuse, naming them."""
        if self.state_path and self.state_namespace:
            raise RockyUsageError(
                "state_path and state_namespace are mutually exclusive (the engine disables "
                f"namespacing when --state-path is given): got state_path={self.state_path!r}, "
                f"state_namespace={self.state_namespace!r}"
            )
        if self.state_namespace is not None and not _NAMESPACE.match(self.state_namespace):
            raise RockyUsageError(
                f"state_namespace={self.state_namespace!r} is invalid: it must match ^[a-zA-Z0-9_]+$"
            )
        if not self.binary_path:
            raise RockyUsageError("binary_path is empty")

    def global_argv(self) -> list[str]:
        """``rocky --config C [--state-namespace N | --state-path P] --output json`` (SDK order)."""
        argv = [self.binary_path, "--config", self.config_path]
        if self.state_namespace is not None:
            argv += ["--state-namespace", self.state_namespace]
        elif self.state_path is not None:
            argv += ["--state-path", self.state_path]
        return [*argv, "--output", "json"]


@dataclass(frozen=True)
class RunArgs:
    """The arguments of one ``rocky run``, after templating."""

    filter: str | None = None
    governance_override: dict[str, Any] | None = None
    run_models: bool = False
    partition: str | None = None
    partition_from: str | None = None
    partition_to: str | None = None
    latest: bool = False
    missing: bool = False
    lookback: int | None = None
    parallel: int | None = None
    pipeline: str | None = None
    model: str | None = None
    shadow_suffix: str | None = None
    idempotency_key: str | None = None
    resume_latest: bool = False
    defer: bool = False
    defer_to: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> RunArgs:
        """Build from rendered operator fields: blank strings mean unset, numbers may arrive as text."""
        values = {
            key: (None if isinstance(value, str) and not value.strip() else value)
            for key, value in raw.items()
        }
        for name in ("lookback", "parallel"):
            value = values.get(name)
            if value is not None and not isinstance(value, int):
                try:
                    values[name] = int(str(value).strip())
                except ValueError:
                    raise RockyUsageError(f"{name}={value!r} is not an integer") from None
        override = values.get("governance_override")
        if isinstance(override, str):
            try:
                values["governance_override"] = json.loads(override)
            except ValueError as exc:
                raise RockyUsageError(f"governance_override is not valid JSON: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]  # field types are checked by validate()

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Validate only which arguments are set, not their (maybe still templated) values.

        Used at DAG parse time: ``partition="{{ ds }}"`` with a range is wrong whatever ``ds`` is.
        """
        probe: dict[str, Any] = {
            key: value if isinstance(value, bool) else ("x" if value not in (None, "") else None)
            for key, value in values.items()
        }
        cls(**probe).validate()

    def validate(self) -> None:
        """Refuse every combination the engine would refuse (or silently ignore), naming the arguments."""
        ranged = [n for n in ("partition_from", "partition_to") if getattr(self, n) is not None]
        if self.partition is not None:
            clash = [*ranged, *(n for n in ("latest", "missing") if getattr(self, n))]
            if clash:
                raise RockyUsageError(
                    f"partition={self.partition!r} cannot be combined with {', '.join(clash)}: "
                    "pick one partition selection"
                )
        if len(ranged) == 1:
            other = "partition_to" if ranged[0] == "partition_from" else "partition_from"
            raise RockyUsageError(f"{ranged[0]} requires {other}: a range needs both ends (inclusive)")
        if self.filter is not None:
            key, sep, _ = self.filter.partition("=")
            if not sep or not key.strip():
                raise RockyUsageError(
                    f"filter={self.filter!r} is invalid: expected exactly one key=value, e.g. 'tenant=acme'"
                )
        for name in ("lookback", "parallel"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (1 if name == "parallel" else 0)):
                raise RockyUsageError(
                    f"{name}={value!r} must be an integer >= {1 if name == 'parallel' else 0}"
                )
        if self.model is not None and self.run_models:
            raise RockyUsageError(
                "model and run_models are mutually exclusive: model runs one compiled model"
            )
        if self.resume_latest:
            clash = [
                n
                for n in (
                    "model",
                    "run_models",
                    "partition",
                    "partition_from",
                    "latest",
                    "missing",
                    "idempotency_key",
                )
                if getattr(self, n)
            ]
            if clash:
                raise RockyUsageError(
                    f"resume_latest cannot be combined with {', '.join(clash)}: "
                    "a resume replays the failed run as it was"
                )
        if self.defer_to is not None and not self.defer:
            raise RockyUsageError("defer_to requires defer=True")
        if self.shadow_suffix is not None and not self.shadow_suffix.strip():
            raise RockyUsageError("shadow_suffix is empty")
        self._validate_governance()

    def _validate_governance(self) -> None:
        override = self.governance_override
        if override is None:
            return
        if not isinstance(override, dict):
            raise RockyUsageError(f"governance_override must be a JSON object, got {type(override).__name__}")
        from rocky_sdk import RockyClient  # lazily: rocky-sdk is not needed to parse a DAG
        from rocky_sdk.exceptions import RockyError as SdkRockyError

        try:
            RockyClient.validate_governance_override(override)
        except SdkRockyError as exc:
            raise RockyGovernanceError(f"governance_override refused before spawning: {exc}") from None

    def argv(self, models_dir: str = "models") -> list[str]:
        """The ``run ...`` part of argv, in rocky-sdk's order for the equivalent client call."""
        if self.resume_latest:  # RockyClient.resume_run(None, filter=..., governance_override=...)
            args = ["run", "--resume-latest"]
            if self.filter:
                args += ["--filter", self.filter]
            if self.governance_override:
                args += ["--governance-override", json.dumps(self.governance_override)]
            return args
        if self.model is not None:  # RockyClient.run_model(...), then run-only flags it lacks
            args = ["run", "--model", self.model]
            args += ["--pipeline", self.pipeline] if self.pipeline is not None else ["--models", models_dir]
            if self.filter:
                args += ["--filter", self.filter]
            args += self._partition_argv()
            if self.governance_override:
                args += ["--governance-override", json.dumps(self.governance_override)]
            if self.shadow_suffix is not None:
                args += ["--shadow", "--shadow-suffix", self.shadow_suffix]
            return args + self._tail_argv()
        args = ["run"]  # RockyClient.run(filter, ...): --filter is omitted when there is none
        if self.filter:
            args += ["--filter", self.filter]
        if self.pipeline is not None:
            args += ["--pipeline", self.pipeline]
        if self.governance_override:
            args += ["--governance-override", json.dumps(self.governance_override)]
        if self.run_models:
            args += ["--models", models_dir, "--all"]
        if self.shadow_suffix is not None:
            args += ["--shadow", "--shadow-suffix", self.shadow_suffix]
        return args + self._partition_argv() + self._tail_argv()

    def _partition_argv(self) -> list[str]:
        args: list[str] = []
        if self.partition is not None:
            args += ["--partition", self.partition]
        if self.partition_from is not None and self.partition_to is not None:
            args += ["--from", self.partition_from, "--to", self.partition_to]
        if self.latest:
            args.append("--latest")
        if self.missing:
            args.append("--missing")
        if self.lookback is not None:
            args += ["--lookback", str(self.lookback)]
        if self.parallel is not None:
            args += ["--parallel", str(self.parallel)]
        return args

    def _tail_argv(self) -> list[str]:
        args: list[str] = []
        if self.idempotency_key is not None:
            args += ["--idempotency-key", self.idempotency_key]
        if self.defer:
            args.append("--defer")
        if self.defer_to is not None:
            args += ["--defer-to", self.defer_to]
        return args


def build_run_command(
    settings: RockySettings,
    args: RunArgs,
    extra_env: Mapping[str, str] | None = None,
    public_env: Mapping[str, str] | None = None,
) -> RockyCommand:
    """Validate both halves and assemble the command: argv, environment (secrets only here), cwd.

    The connection's ``env`` and ``extra_env`` are secrets; ``public_env`` (audit values such as
    ``ROCKY_RUN_TRIGGER``) is not, and must not be masked.
    """
    settings.validate()
    args.validate()
    secret = {**settings.env, **(extra_env or {})}
    return RockyCommand(
        argv=(*settings.global_argv(), *args.argv(settings.models_dir)),
        env={**(public_env or {}), **secret},
        cwd=settings.project_dir,
        secret_keys=tuple(sorted(secret)),
    )
