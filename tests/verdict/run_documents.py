"""The RunOutput document the verdict tests vary: one landed table, everything else empty."""

from __future__ import annotations

from typing import Any

TABLE = "wh.staging__orders.orders"

LANDED: dict[str, Any] = {
    "asset_key": ["duckdb", "orders", "orders"],
    "rows_copied": 3,
    "duration_ms": 1,
    "started_at": "2026-01-01T00:00:00Z",
    "metadata": {"strategy": "full_refresh", "target_table_full_name": TABLE},
}


def run_document(**top: Any) -> dict[str, Any]:
    """A one-table success (engine 1.71 unless ``top`` sets ``version``), ``top`` replacing any field."""
    base: dict[str, Any] = {
        "version": "1.71.0",
        "command": "run",
        "status": "Success",
        "filter": "",
        "duration_ms": 5,
        "tables_copied": 1,
        "tables_failed": 0,
        "materializations": [LANDED],
        "check_results": [],
        "permissions": {"grants_added": 0, "grants_revoked": 0, "catalogs_created": 0, "schemas_created": 0},
        "drift": {"tables_checked": 0, "tables_drifted": 0, "actions_taken": []},
        "interrupted": False,
    }
    return {**base, **top}
