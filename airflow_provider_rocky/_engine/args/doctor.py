"""``rocky doctor [--check GROUP] [--verbose]``, and the engine's vocabulary of checks.

The engine's checks come in groups (``engine/crates/rocky-cli/src/commands/doctor.rs``,
``collect_health_checks``): each group reports one check named after it, except ``auth``, which
reports ``auth/<adapter>`` per adapter it pings and, when every warehouse adapter answered, a summary
check ``auth``. ``--check`` selects a whole group by exact name (``should_run``:
``filter.is_none_or(|f| f == name)``), so ``--check=auth/default`` runs *no* check and exits 0.

So ``checks=`` names a group (``state``, ``auth``: every check of it gates the task) or one check of
a group (``auth/default``: only that check gates). When every name is in one group, that group is
passed as ``--check`` and the engine runs only it; names of several groups run every check. What
the engine did not report is refused after the run (``_verdict/gates.py``), naming the nearest
known check: a typo must never turn the gate off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import blank_to_none
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyUsageError

#: The check groups of rocky 1.71's ``doctor`` (``doctor.rs`` ``collect_health_checks``), in its order.
GROUPS = (
    "config",
    "state",
    "state_schema",
    "adapters",
    "pipelines",
    "state_sync",
    "state_rw",
    "state_concurrency",
    "auth",
    "scheduler",
)
#: Groups the engine emits only in some projects (``doctor.rs``: "Silent ... the check simply isn't emitted").
SILENT = {
    "state_concurrency": "only for a remote state backend",
    "scheduler": "only when a pipeline declares a [schedule]",
}
#: Groups that read the configuration only: a critical one stays critical however often it is retried.
STATIC = frozenset({"config", "adapters", "pipelines", "state_sync"})
_NAME = re.compile(r"[a-z_]+(/[A-Za-z0-9_.-]+)?")


def group_of(name: str) -> str:
    """The group a check name belongs to: ``auth`` for ``auth/default``."""
    return name.split("/", 1)[0]


def gates(name: str, check: str) -> bool:
    """Whether the ``checks=`` entry ``name`` covers the reported check ``check``."""
    return check == name if "/" in name else group_of(check) == name


@dataclass(frozen=True)
class DoctorArgs:
    """``rocky doctor [--check GROUP] [--verbose]`` (module docstring)."""

    checks: list[str] | str | None = None
    verbose: bool = False

    @classmethod
    def coerce(cls, **raw: Any) -> DoctorArgs:
        values = blank_to_none(raw)
        checks = values.get("checks")
        if isinstance(checks, str):
            values["checks"] = [part.strip() for part in checks.split(",") if part.strip()]
        return cls(**values)

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    @property
    def names(self) -> list[str]:
        """The checks that gate the task (empty: every check)."""
        return [self.checks] if isinstance(self.checks, str) else list(self.checks or [])

    @property
    def group(self) -> str | None:
        """The one group every name belongs to (passed as ``--check``), else ``None``."""
        groups = {group_of(name) for name in self.names}
        return groups.pop() if len(groups) == 1 else None

    def validate(self) -> None:
        for name in self.names:
            if not _NAME.fullmatch(name):
                raise RockyUsageError(
                    f"checks: {name!r} is not a doctor check name: a group ({', '.join(GROUPS)}) or "
                    "one check of it (auth/<adapter>)"
                )

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["doctor"]
        if self.group is not None:
            args += [opt("--check", self.group)]
        return args + (["--verbose"] if self.verbose else [])
