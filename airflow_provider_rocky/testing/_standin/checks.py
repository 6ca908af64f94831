"""Post-run signals: quality checks, schema drift, budget breaches (contract §2.3, §3.5 rows 3, 4, 8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky.testing._standin import observed
from airflow_provider_rocky.testing._standin.outputs import RunReport, UnitResult
from airflow_provider_rocky.testing._standin.plan import RunPlan
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.tracing import StderrLog
from airflow_provider_rocky.testing.scenarios import Scenario

DRIFT_ACTIONS = (
    ("drop_and_recreate", "column 'amount' changed VARCHAR → DECIMAL(10,2)"),
    ("add_columns", "new source column(s): 'discount_code' VARCHAR"),
    ("alter_column_types", "column 'quantity' widened INTEGER → BIGINT"),
)
DEFAULT_BUDGET_USD = 5.0


def _row_count(rows: int) -> dict[str, Any]:
    return {
        "name": "row_count",
        "passed": True,
        "severity": "error",
        "source_count": rows,
        "target_count": rows,
    }


def quality_pipeline(report: RunReport, plan: RunPlan, log: StderrLog) -> None:
    """A quality pipeline with ``fail_on_error`` (engine 1.71): checks only, no table lands."""
    gate_checks(report, plan.tables, log)


def gate_checks(report: RunReport, units: Sequence[Unit], log: StderrLog) -> None:
    """Checks on ``units``: one error-severity failure gates the run, one warning does not."""
    for index, unit in enumerate(units):
        checks: list[dict[str, Any]] = [_row_count(unit.rows)]
        if index == 0:
            checks.append(
                {
                    "name": "null_rate:amount",
                    "passed": False,
                    "severity": "error",
                    "column": "amount",
                    "null_rate": 0.25,
                    "threshold": 0.05,
                }
            )
        elif index == 1:
            checks.append(
                {
                    "name": "freshness",
                    "passed": False,
                    "severity": "warning",
                    "lag_seconds": 7200,
                    "threshold_seconds": 3600,
                }
            )
        report.check_results.append({"asset_key": list(unit.asset_key), "checks": checks})
        for check in checks:
            level = "INFO" if check["passed"] else ("ERROR" if check["severity"] == "error" else "WARN")
            log.event(
                level,
                f"check {check['name']} on {unit.short_name}: {'passed' if check['passed'] else 'FAILED'}",
                check=check["name"],
                passed=check["passed"],
                severity=check["severity"],
            )
    report.check_gate_failed = error_failures(report) > 0


def error_failures(report: RunReport) -> int:
    """Number of failed error-severity checks (what the quality gate counts)."""
    return sum(
        1
        for table in report.check_results
        for check in table["checks"]
        if not check["passed"] and check.get("severity", "error") == "error"
    )


def _replicated(report: RunReport) -> list[UnitResult]:
    """Landed replicated tables (the landed models when the run replicated nothing)."""
    tables = [result for result in report.materialized if not result.unit.is_model]
    return tables or report.materialized


def _failed_check(report: RunReport, log: StderrLog) -> None:
    for index, result in enumerate(_replicated(report)):
        rows = result.rows or 0
        checks: list[dict[str, Any]] = [_row_count(rows)]
        if index == 0:
            checks.append(
                {
                    "name": "not_null:customer_id",
                    "passed": False,
                    "severity": "error",
                    "kind": "not_null",
                    "column": "customer_id",
                    "failing_rows": 2,
                }
            )
            log.warn(
                f"check not_null:customer_id failed on {result.unit.short_name} (2 failing rows)",
                check="not_null:customer_id",
                failing_rows=2,
            )
        report.check_results.append({"asset_key": list(result.unit.asset_key), "checks": checks})


def _verify_after(report: RunReport, log: StderrLog) -> None:
    """``verify_after``: a post-run check of the first landed table fails after everything landed."""
    landed = _replicated(report)
    if not landed:
        return
    check = {"name": "verify_after:row_count", "passed": False, "severity": "error", "source_count": 12}
    check["target_count"] = 0
    report.check_results.append({"asset_key": list(landed[0].unit.asset_key), "checks": [check]})
    report.verify_after_failed = True
    log.error(
        f"verify_after check row_count failed on {landed[0].unit.short_name}", check="verify_after:row_count"
    )


def _drift(report: RunReport, log: StderrLog) -> None:
    tables = list(dict.fromkeys(result.unit.full_name for result in _replicated(report)))
    for table, (action, reason) in zip(tables, DRIFT_ACTIONS, strict=False):
        report.drift_actions.append({"table": table, "action": action, "reason": reason})
        log.warn(f"schema drift on {table}: {action} ({reason})", table=table, action=action)


def _budget(report: RunReport, log: StderrLog, limit: float) -> None:
    landed = report.materialized
    actual = round(limit * 1.5, 2)
    share = round(actual / len(landed), 6) if landed else 0.0
    for result in landed:
        result.cost_usd = share
    if landed:
        landed[-1].cost_usd = round(actual - share * (len(landed) - 1), 6)
    report.budget_breaches.append({"limit_type": "max_usd", "limit": limit, "actual": actual})
    log.warn(
        f"budget breached: max_usd actual {actual:.2f} > limit {limit:.2f}",
        limit_type="max_usd",
        limit=limit,
        actual=actual,
    )


def apply(scenario: Scenario, report: RunReport, log: StderrLog, budget_limit: float | None) -> None:
    """Add the scenario's checks / drift / budget / observation signals to a finished run."""
    if report.interrupted:
        return
    if scenario.quality_gate and report.engine.current:  # after 1.71 the tables land, then the gate
        gate_checks(report, [result.unit for result in _replicated(report)], log)
    if scenario.verify_after:
        _verify_after(report, log)
    if scenario.observations:
        observed.add(report, _replicated(report), log)
    if scenario.failed_check:
        _failed_check(report, log)
    if scenario.drift:
        _drift(report, log)
    if scenario.budget:
        _budget(report, log, budget_limit if budget_limit is not None else DEFAULT_BUDGET_USD)
