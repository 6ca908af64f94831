"""Checks clap accepts but ``rocky run`` refuses with ``Error: ...`` and exit 1 (contract §1.2, §3.1)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.config import ProjectConfig
from airflow_provider_rocky.testing._standin.errors import CommandError

NAMESPACE_RE = re.compile(r"[a-zA-Z0-9_]+")
VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_filter(raw: str | None) -> tuple[str, str] | None:
    """``key=value`` split on the first ``=``; ``None``/``""`` means no filter (the SDK always passes one)."""
    if not raw:
        return None
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise CommandError(f"invalid filter '{raw}': expected key=value")
    return key, value


def resolve_principal(inv: Invocation, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Effective principal and the plain warning lines the engine prints about it."""
    from_env = env.get("ROCKY_PRINCIPAL")
    if from_env is not None and from_env not in ("human", "agent"):
        raise CommandError(f"invalid ROCKY_PRINCIPAL '{from_env}': expected 'human' or 'agent'")
    if inv.principal == "human" and from_env == "agent":
        return "human", ["warning: --principal human overrides ROCKY_PRINCIPAL=agent for this invocation"]
    return inv.principal or from_env or "human", []


def _type_error(value: Any, expected: str) -> CommandError:
    kind = {dict: "map", list: "sequence", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "integer" if isinstance(value, int) else "floating point"
    )
    shown = f' "{value}"' if isinstance(value, str) else (f" `{value}`" if kind != "null" else "")
    return CommandError(f"invalid --governance-override: invalid type: {kind}{shown}, expected {expected}")


def _workspace_id(item: Any) -> None:
    if isinstance(item, dict):
        if "id" not in item:
            raise CommandError("invalid --governance-override: missing field `id`")
        item = item["id"]
    if isinstance(item, bool) or not isinstance(item, int) or item < 0:
        raise _type_error(item, "u64")


def parse_governance_override(raw: str, cwd: Path) -> dict[str, Any]:
    """Parse ``--governance-override`` (inline JSON or ``@file``) and apply the engine's refusals."""
    text = raw
    if raw.startswith("@"):
        try:
            text = (cwd / raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            detail = f"{exc.strerror} (os error {exc.errno})" if exc.strerror else str(exc)
            raise CommandError(f"failed to read --governance-override file '{raw[1:]}'", [detail]) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"invalid --governance-override: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, dict):
        raise _type_error(data, "struct GovernanceOverride")
    workspace_ids = data.get("workspace_ids")
    if workspace_ids is not None:
        if not isinstance(workspace_ids, list):
            raise _type_error(workspace_ids, "a sequence")
        for item in workspace_ids:
            _workspace_id(item)
    allow_empty = data.get("allow_empty_workspace_ids", False)
    if not isinstance(allow_empty, bool):
        raise _type_error(allow_empty, "a boolean")
    for key in ("grants", "schema_grants"):
        value = data.get(key, [])
        if not isinstance(value, list):
            raise _type_error(value, "a sequence")
    for grant in data.get("grants", []):
        if not isinstance(grant, dict) or not isinstance(grant.get("principal"), str):
            raise CommandError("invalid --governance-override: grants[]: missing field `principal`")
        if not isinstance(grant.get("permissions", []), list):
            raise _type_error(grant.get("permissions"), "a sequence")
    if workspace_ids == [] and not allow_empty:
        raise CommandError(refusal_message())
    return data


def refusal_message() -> str:
    """The governance refusal for an empty ``workspace_ids`` list (would revoke every binding)."""
    return (
        "refusing governance override: workspace_ids is empty, which would revoke every workspace "
        "binding; set allow_empty_workspace_ids = true to confirm"
    )


def parse_vars(raw: list[str] | None) -> list[tuple[str, str]]:
    """``RunVars::parse_pairs`` (``rocky-core/src/run_vars.rs``): ``NAME=VALUE``, split on the first ``=``."""
    pairs = []
    for item in raw or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"invalid --var '{item}': expected name=value (no '=' found)")
        if not name:
            raise CommandError(f"invalid --var '{item}': variable name is empty")
        if not VAR_NAME_RE.fullmatch(name):
            raise CommandError(
                f"invalid --var name '{name}': must match [A-Za-z_][A-Za-z0-9_]* "
                "(letters, digits, underscore; not starting with a digit)"
            )
        pairs.append((name, value))
    return pairs


def check_run(inv: Invocation, config: ProjectConfig, env: Mapping[str, str], cwd: Path) -> list[str]:
    """Every exit-1 bail of ``rocky run`` that depends only on argv/env/config; returns warning lines.

    In the engine's order (``main.rs`` ``Command::Run`` arm, 3485-3580): ``--var`` pairs, ``--var``
    or ``--models`` with ``--dag``, an idempotency key with a resume, ``--assume-fresh-state`` on the
    local backend, then the governance override.
    """
    _principal, warnings = resolve_principal(inv, env)
    if inv.state_namespace is not None and not NAMESPACE_RE.fullmatch(inv.state_namespace):
        raise CommandError(
            f"invalid --state-namespace '{inv.state_namespace}': must match ^[a-zA-Z0-9_]+$ "
            "(letters, digits and underscores)"
        )
    parse_filter(inv.get("filter"))
    parse_vars(inv.get("var"))
    if inv.get("var") and (inv.flag("dag") or inv.flag("watch")):
        raise CommandError(
            "--var is not yet supported with --dag or --watch (it would be silently dropped); "
            "run without --dag/--watch, or remove --var"
        )
    if inv.get("models") is not None and inv.flag("dag"):
        raise CommandError(
            "--models is not supported with --dag (it would be silently dropped); the unified DAG "
            "resolves each transformation pipeline's own `models` glob from rocky.toml"
        )
    if idempotency_key(inv, env) is not None and (inv.get("resume") or inv.flag("resume-latest")):
        raise CommandError(
            "--idempotency-key cannot be combined with --resume / --resume-latest "
            "(resume is an explicit override of idempotent skip)"
        )
    if inv.flag("watch"):
        raise CommandError("the rocky stand-in does not emulate `rocky run --watch` (an NDJSON stream)")
    if inv.flag("assume-fresh-state") and config.state_backend in ("local", ""):
        raise CommandError(
            "--assume-fresh-state requires a remote `[state]` backend (s3, gcs, valkey, or tiered): "
            "with the local backend there is no remote-state download whose failure could be treated "
            "as a fresh start"
        )
    override = inv.get("governance-override")
    if override is not None:
        parse_governance_override(override, cwd)
    return warnings


def idempotency_key(inv: Invocation, env: Mapping[str, str] | None = None) -> str | None:
    """``--idempotency-key`` or, when absent, a non-empty ``ROCKY_IDEMPOTENCY_KEY`` (clap ``env``)."""
    key = inv.get("idempotency-key")
    if key is None:
        key = (os.environ if env is None else env).get("ROCKY_IDEMPOTENCY_KEY") or None
    return key if key is None else str(key)
