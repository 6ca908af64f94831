"""The ``observations`` scenario: everything an engine observes about a run that did not fail it.

Both generations report a row-count anomaly (1.71 without ``asset_key``: ``outputs`` strips it).
Current engines (1.72+) also report: which tables the anomaly check evaluated (one could not be,
with why), a product volume warning and per-table volume verdicts, an operator-visible note on a
materialization, a source sync that did not succeed (and one that did), a check that could not be
evaluated, and a consumer diagnostic. Shapes follow rocky-sdk 0.29's models of those blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky.testing._standin.outputs import RunReport, UnitResult
from airflow_provider_rocky.testing._standin.tracing import StderrLog, rfc3339, utc_now


def add(report: RunReport, landed: Sequence[UnitResult], log: StderrLog) -> None:
    """Add the observations to a run whose tables ``landed``."""
    if not landed:
        return
    first = landed[0].unit
    report.anomalies.append(
        {
            "table": first.full_name,
            "current_count": 5,
            "baseline_avg": 376.25,
            "deviation_pct": 98.67,
            "reason": "row count dropped 98.7% (expected ~376, got 5)",
        }
    )
    log.warn(f"row count anomaly on {first.full_name}: dropped 98.7%", table=first.full_name)
    if report.engine.current:
        _current(report, landed, log)


def _current(report: RunReport, landed: Sequence[UnitResult], log: StderrLog) -> None:
    evaluated = [_evaluated(result, index) for index, result in enumerate(landed)]
    for index, result in enumerate(landed):
        result.volume = _volume(result, below=index == 0)
    landed[0].notes = ["merged 2 late-arriving rows into the previous partition"]
    report.observations = {
        "volume_warnings": [
            f"product orders_daily: {landed[0].unit.short_name} has 5 rows, below min_rows 100"
        ],
        "source_syncs": _syncs(),
        "consumer_diagnostics": [_diagnostic()],
        "anomaly_evaluated": evaluated,
    }
    if len(landed) > 1:
        table = list(landed[1].unit.asset_key)
        check = {"name": "freshness", "passed": False, "severity": "warning", "lag_seconds": 0}
        check.update(threshold_seconds=3600, not_evaluated="no loaded_at column configured for this table")
        report.check_results.append({"asset_key": table, "checks": [check]})
    log.warn("source sync stripe_payments failed: connector paused by its owner", source="stripe_payments")


def _evaluated(result: UnitResult, index: int) -> dict[str, Any]:
    row: dict[str, Any] = {"table": result.unit.full_name, "asset_key": result.unit.full_name.split(".")}
    if index == 1:
        return {**row, "evaluated": False, "not_evaluated_reason": "baseline has fewer than 3 runs"}
    return {**row, "evaluated": True}


def _volume(result: UnitResult, *, below: bool) -> dict[str, Any]:
    rows = 5 if below else (result.rows or 0)
    verdict = "below_min" if below else "in_range"
    row: dict[str, Any] = {"model": result.unit.name, "product": "orders_daily", "severity": "warning"}
    row.update(verdict=verdict, min_rows=100 if below else 0, row_count=rows)
    if below:
        row["reason"] = f"{rows} rows, below min_rows 100"
    return row


def _syncs() -> list[dict[str, Any]]:
    synced = rfc3339(utc_now())
    return [
        {
            "id": "orders",
            "schema": "raw__orders",
            "outcome": "succeeded",
            "waited_secs": 3,
            "last_sync_at": synced,
        },
        {
            "id": "stripe_payments",
            "schema": "raw__stripe",
            "outcome": "paused",
            "waited_secs": 0,
            "last_sync_at": None,
            "triggered": False,
            "detail": "connector paused by its owner",
        },
    ]


def _diagnostic() -> dict[str, Any]:
    return {
        "severity": "Warning",
        "code": "E060",
        "message": "consumer bi_dashboard reads column revenue_usd, which fct_daily_orders no longer outputs",
        "model": "bi_dashboard",
        "span": None,
        "suggestion": "rename the column in consumers/bi_dashboard.toml or restore it in the model",
    }
