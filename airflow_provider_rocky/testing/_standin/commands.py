"""Minimal ``rocky doctor`` and ``rocky compile`` (contract §7) for hooks that call them.

``doctor`` is healthy except for the state/auth scenarios (critical, exit 3); ``compile`` is clean
except for ``compile_error`` / ``contract_violation`` (``has_errors: true``, exit 1 after the JSON).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.config import load_config
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.selection import model_units
from airflow_provider_rocky.testing._standin.settings import STANDIN_VERSION
from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd
from airflow_provider_rocky.testing.scenarios import DIAGNOSTICS, Scenario

DOCTOR_CRITICAL_EXIT = 3


def _print(document: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        write_fd(1, render(document, "json").encode("utf-8"))
    else:
        lines = [f"{key}: {value}" for key, value in document.items() if not isinstance(value, list | dict)]
        write_fd(1, ("\n".join(lines) + "\n").encode("utf-8"))


def doctor(inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str) -> int:
    """Health checks; returns the exit code (3 when a check is critical)."""
    config = load_config(inv.config, cwd, required=False)
    critical = {
        "state_locked": ("state", "state store is locked by another process"),
        "state_busy": ("state", "state store is busy; another rocky process holds the write transaction"),
        "state_schema_mismatch": ("state_schema", "state schema v23 on disk, this binary supports v22"),
        "adapter_auth": ("auth", "adapter authentication failed: HTTP 401 Unauthorized"),
    }.get(scenario.name)
    checks = [
        ("config", "Config syntax valid" if config.exists else "No config file; stand-in defaults in use"),
        ("state", "State store healthy"),
        ("state_schema", "state schema v22 matches this binary"),
        ("adapters", f"1 adapter(s) configured ({config.adapter_type})"),
        ("pipelines", f"{max(1, len(config.pipelines))} pipeline(s) configured"),
        ("auth", "all adapters authenticated"),
    ]
    wanted = inv.get("check")
    results = []
    for name, message in checks:
        if wanted is not None and name != wanted:
            continue
        status = "healthy"
        if critical is not None and critical[0] == name:
            status, message = "critical", critical[1]
        results.append({"name": name, "status": status, "message": message, "duration_ms": 1})
    overall = "critical" if any(r["status"] == "critical" for r in results) else "healthy"
    suggestions = [
        f"fix the '{r['name']}' check: {r['message']}" for r in results if r["status"] != "healthy"
    ]
    log.info(f"doctor finished: {overall}", overall=overall)
    _print({"command": "doctor", "overall": overall, "checks": results, "suggestions": suggestions}, fmt)
    return DOCTOR_CRITICAL_EXIT if overall == "critical" else 0


def compile_models(inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str) -> int:
    """Compile the models; diagnostics for the compile scenarios; JSON then exit 1 on errors."""
    units = model_units(inv.get("models") or "models", inv.get("model"), cwd)
    failing = units[-1].name
    codes = scenario.compile_codes
    diagnostics = [
        {
            "severity": "Error",
            "code": code,
            "message": DIAGNOSTICS[code][0],
            "span": {"file": f"models/{failing}.sql", "line": 3, "col": 5},
            "model": failing,
            "suggestion": DIAGNOSTICS[code][1],
        }
        for code in codes
    ]
    document = {
        "version": STANDIN_VERSION,
        "command": "compile",
        "models": len(units),
        "execution_layers": min(2, len(units)),
        "diagnostics": diagnostics,
        "has_errors": bool(diagnostics),
        "compile_timings": {
            "project_load_ms": 1,
            "semantic_graph_ms": 1,
            "typecheck_ms": 1,
            "typecheck_join_keys_ms": 0,
            "contracts_ms": 0,
            "total_ms": 3,
        },
        "models_detail": [
            {
                "name": unit.name,
                "strategy": {"type": unit.strategy},
                "target": {"catalog": unit.catalog, "schema": unit.schema, "table": unit.table},
            }
            for unit in units
        ],
    }
    log.info(f"compiled {len(units)} models", models=len(units), errors=len(diagnostics))
    _print(document, fmt)
    if diagnostics:
        raise CommandError("compilation failed with errors")
    return 0
