"""``rocky doctor`` as rocky 1.71 runs it (``engine/crates/rocky-cli/src/commands/doctor.rs``).

Groups, in the engine's order, each run only when ``--check`` is absent or equals the group's name
exactly (``should_run``, doctor.rs:996): ``config``, ``state``, ``state_schema``, ``adapters``,
``pipelines``, ``state_sync``, ``state_rw``, ``state_concurrency`` (silent on the local backend),
``auth`` (``auth/<adapter>`` per warehouse adapter pinged, then a summary ``auth`` when every one
answered; ``auth/<adapter>`` per discovery adapter) and ``scheduler`` (silent without a ``[schedule]``:
the stand-in never has one). ``overall`` is critical if a check is, else warning if one is, else
healthy; a critical check exits 3 (``DOCTOR_CRITICAL_EXIT_CODE``), anything else 0. Messages and
suggestions are the engine's.

Statuses follow the engine's rules: the state store is never critical (it cannot be opened: a
warning, doctor.rs:211); a config that cannot be loaded makes ``config`` critical and every check
that reads it too (``config_load_failed``, doctor.rs:1039; ``auth``: "Cannot load config").
Scenarios: ``state_locked`` / ``state_busy`` (a writer holds the store: ``state`` warning, exit 0),
``state_schema_mismatch`` (``state_schema`` critical: newer on-disk schema), ``adapter_auth``
(``auth/<adapter>`` critical: the ping got HTTP 401), ``doctor_warning`` (``adapters`` warning: an
adapter's configuration is incomplete), ``doctor_critical`` (``state_schema`` and the ping both
critical). With ``ROCKY_STANDIN_ALLOW_NO_CONFIG=1`` a missing config reads as the stand-in's
defaults (a deliberate difference, docs/engine-fidelity.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.config import ProjectConfig, load_config
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.idempotency import state_file
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd
from airflow_provider_rocky.testing.scenarios import Scenario

CRITICAL_EXIT = 3
SCHEMA_VERSION = 22
Check = dict[str, Any]


class Doctor:
    """One ``rocky doctor`` invocation: the checks and suggestions, in the engine's order."""

    def __init__(self, inv: Invocation, scenario: Scenario, cwd: Path) -> None:
        self.inv, self.scenario, self.cwd = inv, scenario.name, cwd
        self.checks: list[Check] = []
        self.suggestions: list[str] = []
        self.config: ProjectConfig | None = None
        self.config_error: str | None = None
        try:
            self.config = load_config(inv.config, cwd)
        except CommandError as err:
            self.config_error = "; ".join((err.message, *err.causes))

    def add(self, name: str, status: str, message: str) -> None:
        self.checks.append({"name": name, "status": status, "message": message, "duration_ms": 0})

    def loaded(self, name: str) -> ProjectConfig | None:
        """The config, or a critical ``name`` check saying it cannot be loaded (``config_load_failed``)."""
        if self.config is not None:
            return self.config
        self.suggestions.append(
            f"{name}: could not load config — run `rocky doctor --check config` to diagnose"
        )
        self.add(
            name,
            "critical",
            f"could not load config: {self.config_error} — run `rocky doctor --check config`",
        )
        return None

    # -- the groups, in doctor.rs's order ---------------------------------------------------------

    def config_check(self) -> None:
        if self.config is not None:
            self.add("config", "healthy", "Config syntax valid")
            return
        self.add("config", "critical", f"Config invalid: {self.config_error}")
        self.suggestions.append(f"Fix config file at {self.inv.config}")

    def state(self) -> None:
        if self.scenario in ("state_locked", "state_busy"):
            path = state_file(self.inv.state_path, self.inv.state_namespace, self.cwd)
            busy = (
                f"state store at {path} is busy — another rocky process (likely a long-running `rocky run` "
                "or a concurrent LSP read) is holding the database lock. Retry in a moment."
            )
            self.add("state", "warning", f"Cannot open state store: {busy}")
            return
        self.add("state", "healthy", "State store healthy (0 watermarks)")

    def state_schema(self) -> None:
        if self.scenario in ("state_schema_mismatch", "doctor_critical"):
            found = SCHEMA_VERSION + 1
            self.suggestions.append(
                "state_schema: an incompatible pod met newer on-disk state — complete the rollout or roll "
                "this pod forward to the newer engine"
            )
            self.add(
                "state_schema",
                "critical",
                f"on-disk state schema v{found} is newer than this binary supports (v{SCHEMA_VERSION}); this "
                "pod is forward-incompatible. Upgrade rocky, or set [state] on_schema_mismatch = recreate to "
                "run a full refresh.",
            )
            return
        self.add("state_schema", "healthy", f"state schema v{SCHEMA_VERSION} matches this binary")

    def adapters(self) -> None:
        config = self.loaded("adapters")
        if config is None:
            return
        if self.scenario == "doctor_warning":
            name = config.adapters[0][0] if config.adapters else "default"
            self.suggestions.append(f"adapters.{name}: host not configured")
            self.add("adapters", "warning", "Some adapters have missing configuration")
            return
        self.add("adapters", "healthy", f"{max(len(config.adapters), 1)} adapter(s) configured")

    def pipelines(self) -> None:
        config = self.loaded("pipelines")
        if config is not None:
            self.add("pipelines", "healthy", f"{len(config.pipelines) or 1} pipeline(s) valid")

    def state_sync(self) -> None:
        config = self.loaded("state_sync")
        if config is not None:
            self.add("state_sync", "healthy", f"State backend: {config.state_backend}")

    def state_rw(self) -> None:
        config = self.loaded("state_rw")
        if config is None:
            return
        if config.state_backend == "local":
            self.add("state_rw", "healthy", "Local backend — no remote probe needed")
        else:
            self.add("state_rw", "healthy", f"State backend RW probe succeeded ({config.state_backend})")

    def state_concurrency(self) -> None:
        config = self.loaded("state_concurrency")
        if config is None or config.state_backend == "local":
            return  # silent on the single-writer local store
        self.add(
            "state_concurrency",
            "warning",
            f"[state] concurrency_control = \"off\" on the '{config.state_backend}' backend: two "
            "runs sharing this state can overwrite each other's committed watermarks",
        )

    def auth(self) -> None:
        if self.config is None:
            self.add("auth", "critical", f"Cannot load config: {self.config_error}")
            return
        adapters = self.config.adapters or (("default", self.config.adapter_type, "warehouse"),)
        warehouses = [name for name, _type, kind in adapters if kind != "discovery"]
        discovery = [
            name for name, kind_type, kind in adapters if kind == "discovery" or kind_type == "duckdb"
        ]
        if not warehouses:
            self.add("auth", "warning", "No warehouse adapters registered")
        failing = self.scenario in ("adapter_auth", "doctor_critical")
        for name in warehouses:
            if failing:
                self.add(
                    f"auth/{name}",
                    "critical",
                    f"Ping failed: HTTP 401 Unauthorized: the access token for adapter '{name}' is invalid "
                    "or has expired",
                )
                self.suggestions.append(f"Adapter '{name}': verify credentials and network access")
            else:
                self.add(f"auth/{name}", "healthy", f"Authenticated to {name}")
        if warehouses and not failing:
            self.add("auth", "healthy", f"All {len(warehouses)} warehouse adapter(s) authenticated")
        for name in discovery:
            self.add(f"auth/{name}", "healthy", f"Discovery adapter {name} reachable")

    def run(self) -> None:
        groups: list[tuple[str, Callable[[], None]]] = [
            ("config", self.config_check),
            ("state", self.state),
            ("state_schema", self.state_schema),
            ("adapters", self.adapters),
            ("pipelines", self.pipelines),
            ("state_sync", self.state_sync),
            ("state_rw", self.state_rw),
            ("state_concurrency", self.state_concurrency),
            ("auth", self.auth),
        ]
        wanted = self.inv.get("check")
        for name, check in groups:
            if wanted is None or wanted == name:  # should_run: an exact group name
                check()

    @property
    def overall(self) -> str:
        statuses = {check["status"] for check in self.checks}
        return "critical" if "critical" in statuses else "warning" if "warning" in statuses else "healthy"


def doctor(inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str) -> int:
    """Health checks; returns the exit code (3 when a check is critical)."""
    found = Doctor(inv, scenario, cwd)
    found.run()
    overall = found.overall
    log.info(f"doctor finished: {overall}", overall=overall)
    document = {
        "command": "doctor",
        "overall": overall,
        "checks": found.checks,
        "suggestions": found.suggestions,
    }
    if fmt == "json":
        write_fd(1, render(document, "json").encode("utf-8"))
    else:
        lines = [f"{c['name']}: {c['status']} — {c['message']}" for c in found.checks]
        write_fd(1, ("\n".join([*lines, f"Overall: {overall}"]) + "\n").encode("utf-8"))
    return CRITICAL_EXIT if overall == "critical" else 0
