"""Small RunResult builders shared by unit tests (real rocky-sdk models, minimal required fields)."""

from __future__ import annotations

from typing import Any

from rocky_sdk.types import RunResult

from airflow_provider_rocky._verdict.parse import RUN_TOLERANCE, parse


def read_run(text: str | bytes) -> RunResult:
    """A ``rocky run`` stdout read the way the provider reads it (tolerant of engine and SDK versions)."""
    return parse(RunResult, text.encode() if isinstance(text, str) else text, RUN_TOLERANCE).result


def run_result(materializations: list[dict[str, Any]]) -> RunResult:
    """A Success RunResult with these materializations and nothing else."""
    return RunResult.model_validate(
        {
            "version": "1.71.0",
            "command": "run",
            "status": "Success",
            "filter": "",
            "duration_ms": 1,
            "tables_copied": len(materializations),
            "materializations": materializations,
            "check_results": [],
            "permissions": {
                "grants_added": 0,
                "grants_revoked": 0,
                "catalogs_created": 0,
                "schemas_created": 0,
            },
            "drift": {"tables_checked": 0, "tables_drifted": 0, "actions_taken": []},
        }
    )
