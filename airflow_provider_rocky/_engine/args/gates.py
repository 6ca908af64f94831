"""The arguments of the gate commands: ``rocky compile``, ``test``, ``ci``, ``freshness`` (and ``doctor``).

``DoctorArgs`` lives in ``doctor.py`` with the engine's vocabulary of checks; it is re-exported here.

argv follows rocky-sdk's builders for the same calls (``RockyClient.doctor/compile/test/ci/freshness``):
``--models`` is the connection's ``models_dir``; ``--var NAME=VALUE`` repeats, in the mapping's order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import blank_to_none
from airflow_provider_rocky._engine.args.doctor import DoctorArgs
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyUsageError

__all__ = ["CiArgs", "CompileArgs", "DoctorArgs", "FreshnessArgs", "TestArgs"]

#: What the engine accepts as a ``--var`` name (``@var(name)`` in models).
#: Matched whole (``fullmatch``): ``$`` would let a trailing newline through, which the engine's
#: ``is_valid_var_name`` (``rocky-core/src/run_vars.rs``) refuses.
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TARGET_DIALECTS = ("dbx", "sf", "bq", "duckdb")


def _no_flag(name: str, value: str | None) -> None:
    """A value the engine could read as a flag is refused (``model='--all'``)."""
    if value is not None and value.startswith("-"):
        raise RockyUsageError(f"{name}={value!r} starts with '-': the engine would read it as a flag")


def _vars(var: Mapping[str, Any] | None) -> list[str]:
    if not var:
        return []
    if not isinstance(var, Mapping):
        raise RockyUsageError(f"var must be a mapping of names to values, got {type(var).__name__}")
    argv: list[str] = []
    for name, value in var.items():
        if not _VAR_NAME.fullmatch(str(name)):
            raise RockyUsageError(
                f"var name {name!r} is invalid: letters, digits and _ (not starting with a digit)"
            )
        argv += [opt("--var", f"{name}={value}")]
    return argv


@dataclass(frozen=True)
class CompileArgs:
    """``rocky compile --models M [--contracts C] [--model m] [--target-dialect d] [--with-seed] [--var]``."""

    model: str | None = None
    contracts: str | None = None
    target_dialect: str | None = None
    with_seed: bool = False
    var: dict[str, Any] | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> CompileArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    def validate(self) -> None:
        _no_flag("model", self.model)
        _no_flag("contracts", self.contracts)
        if self.target_dialect is not None and self.target_dialect not in TARGET_DIALECTS:
            raise RockyUsageError(
                f"target_dialect={self.target_dialect!r}: one of {', '.join(TARGET_DIALECTS)}"
            )
        _vars(self.var)

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["compile", opt("--models", settings.models_dir)]
        args += [opt("--contracts", self.contracts)] if self.contracts else []
        args += [opt("--model", self.model)] if self.model else []
        args += [opt("--target-dialect", self.target_dialect)] if self.target_dialect else []
        args += ["--with-seed"] if self.with_seed else []
        return args + _vars(self.var)


@dataclass(frozen=True)
class TestArgs:
    """``rocky test --models M [--contracts C] [--model m] [--declarative] [--pipeline p] [--var ...]``."""

    model: str | None = None
    contracts: str | None = None
    pipeline: str | None = None
    declarative: bool = False
    var: dict[str, Any] | None = None

    __test__ = False  # not a pytest test class, despite its name

    @classmethod
    def coerce(cls, **raw: Any) -> TestArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    def validate(self) -> None:
        for name in ("model", "contracts", "pipeline"):
            _no_flag(name, getattr(self, name))
        _vars(self.var)

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["test", opt("--models", settings.models_dir)]
        args += [opt("--contracts", self.contracts)] if self.contracts else []
        args += [opt("--model", self.model)] if self.model else []
        args += ["--declarative"] if self.declarative else []
        args += [opt("--pipeline", self.pipeline)] if self.pipeline else []
        return args + _vars(self.var)


@dataclass(frozen=True)
class CiArgs:
    """``rocky ci --models M [--contracts C] [--var ...]``."""

    contracts: str | None = None
    var: dict[str, Any] | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> CiArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    def validate(self) -> None:
        _no_flag("contracts", self.contracts)
        _vars(self.var)

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["ci", opt("--models", settings.models_dir)]
        return args + ([opt("--contracts", self.contracts)] if self.contracts else []) + _vars(self.var)


@dataclass(frozen=True)
class FreshnessArgs:
    """``rocky freshness [--pipeline p]`` (engine 1.74 and later)."""

    pipeline: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> FreshnessArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    def validate(self) -> None:
        _no_flag("pipeline", self.pipeline)

    def argv(self, settings: RockySettings) -> list[str]:
        return ["freshness", *([opt("--pipeline", self.pipeline)] if self.pipeline else [])]
