"""What a run leaves in the task log: a readable end-of-run report, worrying lines at WARNING.

Someone reading the log at 3 a.m. gets, after the engine's own lines: the outcome and run id, what
landed and failed, checks, drift, budget, and everything the engine observed that deserves a look
(anomalies, contained models, volume warnings and verdicts, source syncs that did not succeed, checks
it could not evaluate, consumer diagnostics, what reading the result repaired). A partial success is
said loudly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._verdict.interpret import Verdict, error_table
from airflow_provider_rocky._verdict.observations import Observations
from airflow_provider_rocky._verdict.summary import MAX_MESSAGE, failed_checks, readable_table, table_name

if TYPE_CHECKING:
    from rocky_sdk.types import RunResult

__all__ = ["observation_lines", "report"]

Lines = list[tuple[str, bool]]


def report(verdict: Verdict, pipes: PipesRecord | None = None, *, max_tables: int = 20) -> Lines:
    """The end-of-run report as ``(line, is_warning)`` pairs, for the task log."""
    result = verdict.result
    head = (
        f"Rocky run summary: outcome={verdict.outcome} exit_code={verdict.exit_code} run_id={verdict.run_id}"
    )
    if result is None:
        return [(head, verdict.outcome != "success")]
    duration = f"duration={result.duration_ms / 1000:.1f}s"
    lines: Lines = [(f"{head} status={result.status} engine={result.version} {duration}", False)]
    lines += _tables(result, max_tables)
    lines += _checks(result, max_tables)
    lines += [
        (f"  drift: {a.table}: {a.action} ({a.reason})", True)
        for a in result.drift.actions_taken[:max_tables]
    ]
    lines += [
        (f"  budget breach: {b.limit_type} actual {b.actual} > limit {b.limit}", True)
        for b in result.budget_breaches
    ]
    if verdict.observations is not None:
        lines += observation_lines(verdict.observations, max_tables)
    if pipes is not None:
        lines.append(_pipes_line(pipes))
    if result.skipped_by_run_id:
        lines.append((f"  skipped: deflected by run {result.skipped_by_run_id} (idempotency key)", False))
    if verdict.outcome == "partial":
        lines.append(_partial_line(verdict))
    return lines


def _tables(result: RunResult, max_tables: int) -> Lines:
    counts = (
        f"  tables: {result.tables_copied} copied, {result.tables_failed} failed, "
        f"{result.tables_skipped} skipped; {len(result.materializations)} materialization(s)"
    )
    lines: Lines = [(counts, False)]
    for mat in result.materializations[:max_tables]:
        part = f" partition={mat.partition.key}" if mat.partition else ""
        rows = "?" if mat.rows_copied is None else mat.rows_copied
        lines.append((f"    landed {table_name(mat)} ({mat.metadata.strategy}, {rows} rows){part}", False))
    if len(result.materializations) > max_tables:
        lines.append((f"    ... and {len(result.materializations) - max_tables} more", False))
    for err in result.errors[:max_tables]:
        where = error_table(err.asset_key, err.error)
        lines.append((f"    FAILED {where} [{err.failure_kind}]: {err.error[:MAX_MESSAGE]}", True))
    return lines


def _checks(result: RunResult, max_tables: int) -> Lines:
    checks = [c for t in result.check_results for c in t.checks]
    failed = list(failed_checks(result))
    if not checks:
        return []
    lines: Lines = [(f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed", bool(failed))]
    for check in failed[:max_tables]:
        lines.append(
            (f"    check FAILED {check['table']}: {check['check']} (severity {check['severity']})", True)
        )
    return lines


def observation_lines(seen: Observations, max_tables: int = 20) -> Lines:
    """One WARNING line per observation worth a look (INFO for informational diagnostics)."""
    lines: Lines = []
    for row in seen.anomalies[:max_tables]:
        verdict = "detected" if row.get("evaluated") else "NOT EVALUATED"
        lines.append((f"  anomaly {verdict} on {_table(row)}: {row.get('reason')}", True))
    for row in seen.contained[:max_tables]:
        blocked = ", ".join(row.get("blocked_by") or []) or "an upstream failure"
        hint = f"; {row['unblock_hint']}" if row.get("unblock_hint") else ""
        lines.append((f"  contained: {row.get('model')} not built, blocked by {blocked}{hint}", True))
    lines += [(f"  volume warning: {text}", True) for text in seen.volume_warnings[:max_tables]]
    for row in seen.volume_verdicts[:max_tables]:
        lines.append(
            (
                f"  volume {row.get('verdict')} on {row.get('model')}: {row.get('reason') or ''}".rstrip(
                    ": "
                ),
                True,
            )
        )
    for row in seen.source_syncs[:max_tables]:
        detail = f": {row.get('detail')}" if row.get("detail") else ""
        lines.append(
            (f"  source sync {row.get('id')} ({row.get('schema')}): {row.get('outcome')}{detail}", True)
        )
    for row in seen.checks_not_evaluated[:max_tables]:
        lines.append((f"  check NOT EVALUATED {row['table']}: {row['check']} ({row['reason']})", True))
    for row in seen.consumer_diagnostics[:max_tables]:
        worrying = str(row.get("severity")).lower() in ("error", "warning")
        lines.append((f"  consumer {row.get('model')}: {row.get('code')} {row.get('message')}", worrying))
    # A repaired older shape is expected (INFO); a dropped row lost information (WARNING).
    lines += [
        (f"  rocky output: {note}", note.startswith("dropped")) for note in seen.parse_notes[:max_tables]
    ]
    return lines


def _table(row: dict[str, Any]) -> str:
    return readable_table(str(row.get("table") or ".".join(row.get("asset_key") or []) or "?"))


def _pipes_line(pipes: PipesRecord) -> tuple[str, bool]:
    text = (
        f"  pipes: {pipes.checks_total} check report(s), {pipes.checks_failed} failed; "
        f"{pipes.materializations_total} materialization report(s); {pipes.problems} bad message(s)"
    )
    return text, bool(pipes.checks_failed or pipes.problems)


def _partial_line(verdict: Verdict) -> tuple[str, bool]:
    failed = verdict.result.tables_failed if verdict.result else 0
    which = ", ".join(verdict.failed_tables[:20])
    return (
        f"PARTIAL SUCCESS: {failed} table(s) failed: {which}. The tables that landed are reported; "
        "set fail_on_partial=True to fail the task instead.",
        True,
    )
