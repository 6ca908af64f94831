"""The parts of ``rocky.toml`` the stand-in honours: adapter (DuckDB path), pipelines, budget, state
(its backend and ``[state.idempotency]``).

The real engine refuses to start without its config, and so does the stand-in (exit 1, ``Error:
failed to load config from rocky.toml``): a DAG whose ``project_dir`` holds no project must fail in a
test as it would in production. A test that has no project on purpose opts in with
``ROCKY_STANDIN_ALLOW_NO_CONFIG=1`` (the provider's own suite sets it); the stand-in then uses
built-in defaults and writes no warehouse.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.idempotency import Settings

PIPELINE_TYPES = ("replication", "transformation", "quality", "snapshot", "load")
#: Keys that make a bare ``[pipeline]`` one pipeline named ``default`` (config.rs ``is_bare_pipeline``).
_BARE_PIPELINE_KEYS = ("source", "type", "models", "tables", "unique_key", "source_dir")
#: Environment knob: ``1`` lets the stand-in run without a config file (the real engine never does).
ALLOW_NO_CONFIG = "ROCKY_STANDIN_ALLOW_NO_CONFIG"


@dataclass(frozen=True)
class ProjectConfig:
    """What the stand-in read from the config file (defaults when the file is absent)."""

    path: Path
    exists: bool
    adapter_type: str = "duckdb"
    duckdb_path: Path | None = None
    pipelines: dict[str, str] = field(default_factory=dict)
    #: Pipelines whose ``[pipeline.<name>.source] discovery`` names an adapter (``rocky plan`` needs one).
    discovery: frozenset[str] = frozenset()
    budget_max_usd: float | None = None
    budget_on_breach: str = "warn"
    state_backend: str = "local"
    #: ``[state.idempotency]`` (engine defaults when absent).
    idempotency: Settings = field(default_factory=Settings)
    #: ``(name, type, kind)`` of every adapter: ``[adapter]`` is named ``default``, ``[adapter.x]`` ``x``.
    adapters: tuple[tuple[str, str, str], ...] = ()

    @property
    def catalog(self) -> str:
        """Target catalog of replicated tables: the DuckDB database name, else ``warehouse``."""
        return self.duckdb_path.stem if self.duckdb_path is not None else "warehouse"


def table(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a TOML table, else an empty dict."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _named_adapters(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for section in ("adapter", "adapters"):
        block = data.get(section)
        if not isinstance(block, dict):
            continue
        if "type" in block:
            found.append(("default", block))
        found.extend(
            (str(name), value) for name, value in block.items() if isinstance(value, dict) and "type" in value
        )
    return found


def _adapters(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for _name, block in _named_adapters(data)]


def load_config(config: str, cwd: Path, *, required: bool = True) -> ProjectConfig:
    """Read ``config`` (relative to ``cwd``); a missing file (unless allowed) or bad TOML is a hard error.

    ``required=False`` (``rocky doctor``, which reports a missing config as a check) never refuses.
    """
    path = cwd / config
    if not path.is_file():
        if required and os.environ.get(ALLOW_NO_CONFIG) != "1":
            raise CommandError(
                f"failed to load config from {config}",
                [
                    f"{path}: No such file or directory (os error 2)",
                    f"stand-in: set {ALLOW_NO_CONFIG}=1 to run without a project (the engine never does)",
                ],
            )
        return ProjectConfig(path=path, exists=False)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"failed to load config from {config}", [str(exc)]) from exc
    adapter_type, duckdb_path = "duckdb", None
    adapters = _adapters(data)
    if adapters:
        adapter_type = str(adapters[0].get("type", "duckdb"))
    for adapter in adapters:
        if adapter.get("type") == "duckdb" and isinstance(adapter.get("path"), str):
            adapter_type, duckdb_path = "duckdb", cwd / adapter["path"]
            break
    pipelines: dict[str, str] = {}
    discovery: set[str] = set()
    block = data.get("pipeline", data.get("pipelines", {}))
    if isinstance(block, dict) and any(key in block for key in _BARE_PIPELINE_KEYS):
        block = {"default": block}  # config.rs normalize_toml_shorthands: [pipeline] → [pipeline.default]
    if isinstance(block, dict):
        for name, body in block.items():
            if isinstance(body, dict):
                kind = str(body.get("type", "replication"))
                pipelines[name] = kind if kind in PIPELINE_TYPES else "replication"
                if table(table(body, "source"), "discovery").get("adapter"):
                    discovery.add(name)
    budget = table(data, "budget")
    max_usd = budget.get("max_usd")
    state = table(data, "state")
    return ProjectConfig(
        path=path,
        exists=True,
        adapter_type=adapter_type,
        duckdb_path=duckdb_path,
        pipelines=pipelines,
        discovery=frozenset(discovery),
        budget_max_usd=float(max_usd) if isinstance(max_usd, int | float) else None,
        budget_on_breach=str(budget.get("on_breach", "warn")),
        state_backend=str(state.get("backend", "local")),
        idempotency=Settings.from_toml(state.get("idempotency")),
        adapters=tuple(
            (name, str(block.get("type")), str(block.get("kind", "warehouse")))
            for name, block in _named_adapters(data)
        ),
    )


def select_pipeline(config: ProjectConfig, requested: str | None) -> tuple[str, str]:
    """Resolve ``--pipeline`` against the config: ``(name, type)``; refuses like the engine.

    Upstream: ``engine/crates/rocky-cli/src/registry.rs`` ``resolve_pipeline`` (its messages). A config
    without pipelines is the stand-in's built-in replication pipeline (a deliberate difference: the
    engine refuses ``no pipelines defined in config``).
    """
    if not config.pipelines:
        return requested or "default", "replication"
    if requested is not None:
        if requested not in config.pipelines:
            near = difflib.get_close_matches(requested, list(config.pipelines), n=1)
            hint = f". Did you mean '{near[0]}'?" if near else ""
            raise CommandError(f"pipeline '{requested}' not found in config{hint}")
        return requested, config.pipelines[requested]
    if len(config.pipelines) > 1:
        names = ", ".join(config.pipelines)
        raise CommandError(f"multiple pipelines defined ({names}). Use --pipeline <name> to select one.")
    name = next(iter(config.pipelines))
    return name, config.pipelines[name]


def replication_pipeline(config: ProjectConfig, requested: str | None, config_path: str) -> str:
    """``rocky plan``'s pipeline: a replication pipeline with a discovery adapter (engine 1.71).

    Upstream: ``commands/plan.rs`` ``plan`` (``registry::resolve_replication_pipeline``, then the
    ``source.discovery`` bail with ``registry::missing_discovery_config_message``). A config without
    pipelines is the stand-in's built-in replication pipeline, which has one.
    """
    name, kind = select_pipeline(config, requested)
    if not config.pipelines:
        return name
    if kind != "replication":
        raise CommandError(
            f"pipeline '{name}' is type '{kind}', but this command only supports replication pipelines"
        )
    if name not in config.discovery:
        raise CommandError(
            f"pipeline '{name}' has no discovery adapter configured in {config_path}\n\n"
            f"Add this block to rocky.toml:\n\n[pipelines.{name}.source]\n"
            'discovery = { adapter = "<discovery-adapter-name>" }\n\n'
            "Replace `<discovery-adapter-name>` with an adapter configured for discovery."
        )
    return name
