"""``rocky run`` arguments: validation before anything is spawned, and the argv the engine expects.

The argv matches what ``rocky_sdk.RockyClient`` builds for the same call, flag for flag, value for
value and in the same order (a parity test proves it), so a DAG moved from the SDK recipe or
dagster-rocky behaves the same. One difference: every value travels in its flag's token
(``--filter=tenant=acme``, as clap reads it), never as a token of its own, so no value (a templated
``partition`` from ``dag_run.conf``...) can ever be read as a flag. Values that start with ``-`` are
refused anyway, naming the argument: the engine would refuse them after the fact, or worse. Validation
runs before the process (or the trigger) exists: bad input never costs a warehouse connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import arg, as_int, as_json_object, blank_to_none
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyGovernanceError, RockyUsageError

#: Arguments whose text becomes a flag's value: none may start with ``-``.
_TEXT_VALUES = (
    "filter",
    "partition",
    "partition_from",
    "partition_to",
    "pipeline",
    "model",
    "shadow_suffix",
    "idempotency_key",
    "defer_to",
)
#: Arguments a resume refuses: it replays the failed run as it was.
_NOT_WITH_RESUME = (
    "model",
    "run_models",
    "partition",
    "partition_from",
    "latest",
    "missing",
    "idempotency_key",
)


#: clap's partition rules of ``rocky run`` and ``rocky plan`` (main.rs 973-988, 823-843): each
#: argument and the ones it ``conflicts_with_all``; ``--from``/``--to`` ``requires`` each other.
PARTITION_CONFLICTS = {
    "partition": ("partition_from", "partition_to", "latest", "missing"),
    "partition_from": ("latest", "missing"),
    "partition_to": ("latest", "missing"),
    "latest": ("missing",),
}


def check_partitions(args: Any) -> None:
    """Refuse the partition selections clap refuses (exit 2), naming the arguments, before spawning."""
    given = {
        name for name in ("partition", "partition_from", "partition_to") if getattr(args, name) is not None
    }
    given |= {name for name in ("latest", "missing") if getattr(args, name)}
    for name, others in PARTITION_CONFLICTS.items():
        clash = [other for other in others if other in given]
        if name in given and clash:
            shown = f"{name}={args.partition!r}" if name == "partition" else name
            raise RockyUsageError(
                f"{shown} cannot be combined with {', '.join(clash)}: the engine refuses them together "
                "(pick one partition selection: partition, partition_from + partition_to, latest or missing)"
            )
    ranged = [n for n in ("partition_from", "partition_to") if n in given]
    if len(ranged) == 1:
        other = "partition_to" if ranged[0] == "partition_from" else "partition_from"
        raise RockyUsageError(f"{ranged[0]} requires {other}: a range needs both ends (inclusive)")


def check_counts(args: Any) -> None:
    """``--lookback`` is a ``u32`` (0 allowed); ``--parallel`` too, and 0 would run nothing: at least 1."""
    for name, lowest in (("lookback", 0), ("parallel", 1)):
        value = getattr(args, name)
        if value is not None and (not isinstance(value, int) or value < lowest):
            raise RockyUsageError(f"{name}={value!r} must be an integer >= {lowest}")


def partition_argv(args: Any) -> list[str]:
    """The partition selection (``--partition``, ``--from --to``, ``--latest``, ``--missing``) and its
    ``--lookback`` and ``--parallel``, in rocky-sdk's order."""
    argv: list[str] = []
    if args.partition is not None:
        argv += [opt("--partition", args.partition)]
    if args.partition_from is not None and args.partition_to is not None:
        argv += [opt("--from", args.partition_from), opt("--to", args.partition_to)]
    argv += ["--latest"] if args.latest else []
    argv += ["--missing"] if args.missing else []
    if args.lookback is not None:
        argv += [opt("--lookback", args.lookback)]
    if args.parallel is not None:
        argv += [opt("--parallel", args.parallel)]
    return argv


@dataclass(frozen=True)
class PartitionSelection:
    """Which partitions run and how many at once: what ``run``, ``plan`` and ``run --dag`` all take."""

    partition: str | None = None
    partition_from: str | None = None
    partition_to: str | None = None
    latest: bool = False
    missing: bool = False
    lookback: int | None = None
    parallel: int | None = None


@dataclass(frozen=True)
class RunSelection(PartitionSelection):
    """What a run selects and how it runs it: ``rocky run``'s arguments that ``rocky plan`` shares."""

    filter: str | None = None
    governance_override: dict[str, Any] | None = None
    run_models: bool = False
    pipeline: str | None = None
    model: str | None = None
    shadow_suffix: str | None = None


@dataclass(frozen=True)
class RunArgs(RunSelection):
    """The arguments of one ``rocky run``, after templating (field names are rocky-sdk's)."""

    idempotency_key: str | None = None
    resume_latest: bool = False
    #: ``--defer``; the operator calls it ``defer_upstream`` (``defer`` is ``BaseOperator.defer``).
    defer: bool = arg(False, operator="defer_upstream")
    defer_to: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> RunArgs:
        """Build from rendered values: blank strings mean unset, numbers may arrive as text."""
        values = blank_to_none(raw)
        as_int(values, ("lookback", "parallel"))
        as_json_object(values, "governance_override")
        return cls(**values)  # field types are checked by validate()

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Validate only which arguments are set, not their (maybe still templated) values.

        Used at DAG parse time: ``partition="{{ ds }}"`` with a range is wrong whatever ``ds`` is.
        The messages quote what the DAG author wrote (the template), never a made-up value.
        """
        given: dict[str, Any] = {key: None if value == "" else value for key, value in values.items()}
        cls(**given)._validate_shape()

    def validate(self) -> None:
        """Refuse every combination the engine would refuse (or silently ignore), naming the arguments."""
        self._validate_shape()
        self._validate_no_flag_lookalikes()
        if self.filter is not None:
            key, sep, _ = self.filter.partition("=")
            if not sep or not key.strip():
                raise RockyUsageError(
                    f"filter={self.filter!r} is invalid: expected exactly one key=value, e.g. 'tenant=acme'"
                )
        check_counts(self)
        if self.shadow_suffix is not None and not self.shadow_suffix.strip():
            raise RockyUsageError("shadow_suffix is empty")
        self._validate_governance()

    def _validate_no_flag_lookalikes(self) -> None:
        for name in _TEXT_VALUES:
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("-"):
                raise RockyUsageError(
                    f"{name}={value!r} starts with '-', which the engine reads as a flag: "
                    "pass the value itself (check the template or dag_run.conf it came from)"
                )

    def _validate_shape(self) -> None:
        """The checks that depend only on which arguments are set (also at DAG parse time)."""
        self._validate_partitions()
        if self.model is not None and self.run_models:
            raise RockyUsageError(
                "model and run_models are mutually exclusive: model runs one compiled model"
            )
        if self.resume_latest and (clash := [n for n in _NOT_WITH_RESUME if getattr(self, n)]):
            raise RockyUsageError(
                f"resume_latest cannot be combined with {', '.join(clash)}: "
                "a resume replays the failed run as it was"
            )
        if self.defer_to is not None and not self.defer:
            raise RockyUsageError("defer_to requires defer=True")

    def _validate_partitions(self) -> None:
        check_partitions(self)

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

    def argv(self, settings: RockySettings) -> list[str]:
        """The ``run ...`` part of argv, in rocky-sdk's order for the equivalent client call."""
        if self.resume_latest:  # RockyClient.resume_run(None, filter=..., governance_override=...), then
            # what it lacks: the engine resolves --pipeline before it resumes (run.rs ~1964), and the
            # run's shadow, lookback, parallel and defer arguments are the resumed run's too.
            args = ["run", "--resume-latest", *self._filter_argv(), *self._governance_argv()]
            args += [opt("--pipeline", self.pipeline)] if self.pipeline is not None else []
            return args + self._shadow_argv() + self._partition_argv() + self._tail_argv()
        if self.model is not None:  # RockyClient.run_model(...), then run-only flags it lacks
            args = ["run", opt("--model", self.model)]
            args += [
                opt("--pipeline", self.pipeline)
                if self.pipeline is not None
                else opt("--models", settings.models_dir)
            ]
            args += [*self._filter_argv(), *self._partition_argv(), *self._governance_argv()]
            return args + self._shadow_argv() + self._tail_argv()
        args = ["run", *self._filter_argv()]  # RockyClient.run(filter, ...): no --filter without one
        if self.pipeline is not None:
            args += [opt("--pipeline", self.pipeline)]
        args += self._governance_argv()
        if self.run_models:
            args += [opt("--models", settings.models_dir), "--all"]
        return args + self._shadow_argv() + self._partition_argv() + self._tail_argv()

    def _filter_argv(self) -> list[str]:
        return [opt("--filter", self.filter)] if self.filter else []

    def _governance_argv(self) -> list[str]:
        override = self.governance_override
        return [opt("--governance-override", json.dumps(override))] if override else []

    def _shadow_argv(self) -> list[str]:
        suffix = self.shadow_suffix
        return ["--shadow", opt("--shadow-suffix", suffix)] if suffix is not None else []

    def _partition_argv(self) -> list[str]:
        return partition_argv(self)

    def _tail_argv(self) -> list[str]:
        key = self.idempotency_key
        args = [opt("--idempotency-key", key)] if key is not None else []
        args += ["--defer"] if self.defer else []
        return args + ([opt("--defer-to", self.defer_to)] if self.defer_to is not None else [])
