"""What a run leaves behind for people and for XCom: a compact summary and a readable report.

The XCom summary is JSON-native and bounded: every list holds at most :data:`MAX_ITEMS` entries (with
a ``*_total`` count beside it) and messages are cut, so a 10,000-table run pushes tens of kilobytes,
not the megabytes of the full ``RunResult`` (which ``push_full_result`` pushes under its own key).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._verdict.interpret import Verdict, error_table
from airflow_provider_rocky.exceptions import RockyError

if TYPE_CHECKING:  # imported lazily: the operator module must stay cheap to import at parse time
    from rocky_sdk.types import MaterializationInfo, RunResult

#: Entries kept per list in the XCom summary; the full count is always given beside it.
MAX_ITEMS = 100
#: Characters kept of each error message / reason in the summary.
MAX_MESSAGE = 300


def table_name(mat: MaterializationInfo) -> str:
    """A materialization's readable table name: the warehouse name when the engine gave one."""
    return mat.metadata.target_table_full_name or ".".join(mat.asset_key)


def build(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """The ``return_value`` XCom: status, counts, and capped lists of what landed and what failed."""
    result = verdict.result
    summary: dict[str, Any] = {
        "outcome": verdict.outcome,
        "exit_code": verdict.exit_code,
        "run_id": verdict.run_id,
        "category": verdict.error.category if verdict.error else None,
    }
    if pipes is not None:
        checks = pipes.checks()
        summary["pipes"] = {
            "checks": [
                {"asset_key": c.asset_key, "check": c.check_name, "passed": c.passed, "severity": c.severity}
                for c in checks[:MAX_ITEMS]
            ],
            "checks_total": len(checks),
            "checks_failed": sum(not c.passed for c in checks),
            "materializations_reported": len(pipes.materializations()),
            "problems": pipes.problems,
        }
    if result is None:
        return summary
    materializations = [
        {
            "table": table_name(mat),
            "strategy": mat.metadata.strategy,
            "rows_copied": mat.rows_copied,
            "partition_key": mat.partition.key if mat.partition else None,
        }
        for mat in result.materializations[:MAX_ITEMS]
    ]
    errors = [
        {
            "table": error_table(err.asset_key),
            "failure_kind": err.failure_kind,
            "message": err.error[:MAX_MESSAGE],
        }
        for err in result.errors[:MAX_ITEMS]
    ]
    failed_checks = list(_failed_checks(result))
    drift = [
        {"table": act.table, "action": act.action, "reason": act.reason[:MAX_MESSAGE]}
        for act in result.drift.actions_taken[:MAX_ITEMS]
    ]
    summary.update(
        {
            "status": result.status,
            "tables_copied": result.tables_copied,
            "tables_failed": result.tables_failed,
            "tables_skipped": result.tables_skipped,
            "duration_ms": result.duration_ms,
            "engine_version": result.version,
            "pipeline_type": result.pipeline_type,
            "interrupted": result.interrupted,
            "materializations": materializations,
            "materializations_total": len(result.materializations),
            "errors": errors,
            "errors_total": len(result.errors),
            "checks_failed": failed_checks[:MAX_ITEMS],
            "checks_failed_total": len(failed_checks),
            "drift_actions": drift,
            "drift_actions_total": len(result.drift.actions_taken),
            "budget_breaches": [
                {"limit_type": b.limit_type, "limit": b.limit, "actual": b.actual}
                for b in result.budget_breaches[:MAX_ITEMS]
            ],
            "idempotency_key": result.idempotency_key,
            "skipped_by_run_id": result.skipped_by_run_id,
        }
    )
    return summary


def refused(error: RockyError) -> dict[str, Any]:
    """The summary of a run refused before anything was spawned (bad arguments, settings)."""
    return {"outcome": "failed", "exit_code": None, "run_id": None, "category": error.category}


def _failed_checks(result: RunResult) -> Iterable[dict[str, Any]]:
    for table in result.check_results:
        for check in table.checks:
            if not check.passed:
                yield {"table": ".".join(table.asset_key), "check": check.name, "severity": check.severity}


def report(
    verdict: Verdict, pipes: PipesRecord | None = None, *, max_tables: int = 20
) -> list[tuple[str, bool]]:
    """The end-of-run report as ``(line, is_warning)`` pairs, for the task log."""
    result = verdict.result
    head = (
        f"Rocky run summary: outcome={verdict.outcome} exit_code={verdict.exit_code} run_id={verdict.run_id}"
    )
    if result is None:
        return [(head, verdict.outcome != "success")]
    lines: list[tuple[str, bool]] = [
        (
            f"{head} status={result.status} engine={result.version} "
            f"duration={result.duration_ms / 1000:.1f}s",
            False,
        ),
        (
            f"  tables: {result.tables_copied} copied, {result.tables_failed} failed, "
            f"{result.tables_skipped} skipped; {len(result.materializations)} materialization(s)",
            False,
        ),
    ]
    for mat in result.materializations[:max_tables]:
        part = f" partition={mat.partition.key}" if mat.partition else ""
        rows = "?" if mat.rows_copied is None else mat.rows_copied
        lines.append((f"    landed {table_name(mat)} ({mat.metadata.strategy}, {rows} rows){part}", False))
    if len(result.materializations) > max_tables:
        lines.append((f"    ... and {len(result.materializations) - max_tables} more", False))
    for err in result.errors[:max_tables]:
        lines.append(
            (f"    FAILED {error_table(err.asset_key)} [{err.failure_kind}]: {err.error[:MAX_MESSAGE]}", True)
        )
    checks = [c for t in result.check_results for c in t.checks]
    failed = list(_failed_checks(result))
    if checks:
        lines.append((f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed", bool(failed)))
    for check in failed[:max_tables]:
        lines.append(
            (f"    check FAILED {check['table']}: {check['check']} (severity {check['severity']})", True)
        )
    for act in result.drift.actions_taken[:max_tables]:
        lines.append((f"  drift: {act.table}: {act.action} ({act.reason})", True))
    for breach in result.budget_breaches:
        lines.append(
            (f"  budget breach: {breach.limit_type} actual {breach.actual} > limit {breach.limit}", True)
        )
    if pipes is not None:
        pipe_checks = pipes.checks()
        failed_pipes = [c for c in pipe_checks if not c.passed]
        lines.append(
            (
                f"  pipes: {len(pipe_checks)} check report(s), {len(failed_pipes)} failed; "
                f"{len(pipes.materializations())} materialization report(s); {pipes.problems} bad message(s)",
                bool(failed_pipes or pipes.problems),
            )
        )
    if result.skipped_by_run_id:
        lines.append((f"  skipped: deflected by run {result.skipped_by_run_id} (idempotency key)", False))
    return lines


def log_report(log: Any, verdict: Verdict, pipes: PipesRecord | None = None) -> None:
    """Write the end-of-run report to a task or trigger logger; a partial success is said loudly."""
    for text, is_warning in report(verdict, pipes):
        (log.warning if is_warning else log.info)(text)
    if verdict.outcome == "partial":
        log.warning(
            "PARTIAL SUCCESS: %d table(s) failed: %s. The tables that landed are reported; "
            "set fail_on_partial=True to fail the task instead.",
            verdict.result.tables_failed if verdict.result else 0,
            ", ".join(verdict.failed_tables[:20]),
        )
