"""What a run leaves in XCom: a compact, JSON-native, bounded summary.

Every list holds at most :data:`MAX_ITEMS` entries (with a ``*_total`` count beside it) and messages
are cut to :data:`MAX_MESSAGE` characters, so a 10,000-table run pushes tens of kilobytes, not the
megabytes of the full ``RunResult`` (which ``push_full_result`` pushes under its own key). Everything
the engine said is here: what landed and failed, checks, drift, budget, and the observations
(anomalies, contained models, volume, source syncs, notes, checks not evaluated, consumer
diagnostics) and what reading the result repaired or dropped (``notes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._verdict.interpret import Verdict, error_table
from airflow_provider_rocky._verdict.observations import Observations
from airflow_provider_rocky.exceptions import RockyError

if TYPE_CHECKING:  # imported lazily: the operator module must stay cheap to import at parse time
    from rocky_sdk.types import MaterializationInfo, RunResult

__all__ = ["MAX_ITEMS", "MAX_MESSAGE", "build", "readable_table", "refused", "table_name"]

#: Entries kept per list in the XCom summary; the full count is always given beside it.
MAX_ITEMS = 100
#: Characters kept of each error message / reason in the summary.
MAX_MESSAGE = 300


def readable_table(name: str) -> str:
    """``.marts.fct_orders`` (DuckDB's empty catalog) reads as ``marts.fct_orders``."""
    return name[1:] if name.startswith(".") and name.count(".") == 2 else name


def table_name(mat: MaterializationInfo) -> str:
    """A materialization's readable table name: the warehouse name when the engine gave one."""
    return readable_table(
        mat.metadata.target_table_full_name or ".".join(part for part in mat.asset_key if part)
    )


def capped(
    summary: dict[str, Any], key: str, rows: Sequence[Any], shape: Callable[[Any], Any] = lambda r: r
) -> None:
    """``summary[key]`` = the first :data:`MAX_ITEMS` rows shaped, ``summary[key_total]`` = how many."""
    summary[key] = [shape(row) for row in rows[:MAX_ITEMS]]
    summary[f"{key}_total"] = len(rows)


def cut(value: Any) -> Any:
    """A message or reason cut for XCom (other values unchanged)."""
    return value[:MAX_MESSAGE] if isinstance(value, str) else value


def head(verdict: Verdict) -> dict[str, Any]:
    """What every command's summary starts with: outcome, exit code, run id, error category."""
    return {
        "outcome": verdict.outcome,
        "exit_code": verdict.exit_code,
        "run_id": verdict.run_id,
        "category": verdict.error.category if verdict.error else None,
    }


def build(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """The ``return_value`` XCom: status, counts, and capped lists of what landed and what failed."""
    result = verdict.result
    summary = head(verdict)
    if pipes is not None:
        summary["pipes"] = _pipes(pipes)
    if result is None:
        return summary
    summary.update(_counts(result))
    _lists(summary, result)
    if verdict.observations is not None:
        _observations(summary, verdict.observations)
    return summary


def refused(error: RockyError) -> dict[str, Any]:
    """The summary of a run refused before anything was spawned (bad arguments, settings)."""
    return {"outcome": "failed", "exit_code": None, "run_id": None, "category": error.category}


def _counts(result: RunResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "tables_copied": result.tables_copied,
        "tables_failed": result.tables_failed,
        "tables_skipped": result.tables_skipped,
        "duration_ms": result.duration_ms,
        "engine_version": result.version,
        "pipeline_type": result.pipeline_type,
        "interrupted": result.interrupted,
        "check_gate_failed": bool(getattr(result, "check_gate_failed", False)),
        "verify_after_failed": bool(getattr(result, "verify_after_failed", False)),
        "idempotency_key": result.idempotency_key,
        "skipped_by_run_id": result.skipped_by_run_id,
    }


def _lists(summary: dict[str, Any], result: RunResult) -> None:
    capped(summary, "materializations", result.materializations, _materialization)
    capped(summary, "errors", result.errors, _error)
    capped(summary, "checks_failed", list(failed_checks(result)))
    capped(summary, "drift_actions", result.drift.actions_taken, _drift)
    summary["budget_breaches"] = [
        {"limit_type": b.limit_type, "limit": b.limit, "actual": b.actual}
        for b in result.budget_breaches[:MAX_ITEMS]
    ]


def _materialization(mat: MaterializationInfo) -> dict[str, Any]:
    return {
        "table": table_name(mat),
        "strategy": mat.metadata.strategy,
        "rows_copied": mat.rows_copied,
        "partition_key": mat.partition.key if mat.partition else None,
        "duration_ms": mat.duration_ms,
    }


def _error(err: Any) -> dict[str, Any]:
    return {
        "table": error_table(err.asset_key, err.error),
        "failure_kind": err.failure_kind,
        "message": cut(err.error),
    }


def _drift(act: Any) -> dict[str, Any]:
    return {"table": act.table, "action": act.action, "reason": cut(act.reason)}


def failed_checks(result: RunResult) -> Iterable[dict[str, Any]]:
    """Every check that did not pass, with its table and severity."""
    for table in result.check_results:
        for check in table.checks:
            if not check.passed:
                yield {"table": ".".join(table.asset_key), "check": check.name, "severity": check.severity}


def _observations(summary: dict[str, Any], seen: Observations) -> None:
    """The engine's observations, bounded; per-table volume and notes beside each materialization."""
    for row, extra in zip(summary["materializations"], seen.tables, strict=False):
        volume = extra.get("volume")
        if isinstance(volume, dict):
            row["volume_verdict"] = volume.get("verdict")
        if extra.get("notes"):
            row["notes"] = [cut(note) for note in extra["notes"][:10]]
    capped(summary, "anomalies", seen.anomalies, _anomaly)
    capped(summary, "contained", seen.contained, _contained)
    capped(summary, "volume_warnings", seen.volume_warnings, cut)
    capped(summary, "volume_verdicts", seen.volume_verdicts, _cut_row)
    capped(summary, "source_syncs_failed", seen.source_syncs, _cut_row)
    capped(summary, "checks_not_evaluated", seen.checks_not_evaluated, _cut_row)
    capped(summary, "consumer_diagnostics", seen.consumer_diagnostics, _diagnostic)
    capped(summary, "notes", seen.parse_notes, cut)


def _anomaly(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("table", "evaluated", "reason", "deviation_pct", "current_count", "baseline_avg")
    return {key: cut(row.get(key)) for key in keep if row.get(key) is not None}


def _contained(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": row.get("model"),
        "blocked_by": list(row.get("blocked_by") or [])[:10],
        "unblock_hint": cut(row.get("unblock_hint")),
    }


def _diagnostic(row: dict[str, Any]) -> dict[str, Any]:
    return {key: cut(row.get(key)) for key in ("model", "code", "severity", "message")}


def _cut_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: cut(value) for key, value in row.items() if not isinstance(value, dict | list)}


def _pipes(pipes: PipesRecord) -> dict[str, Any]:
    """Pipes reports: counts of every report, the kept ones (bounded by the record) listed."""
    checks = pipes.checks()
    return {
        "checks": [
            {"asset_key": c.asset_key, "check": c.check_name, "passed": c.passed, "severity": c.severity}
            for c in checks[:MAX_ITEMS]
        ],
        "checks_total": pipes.checks_total,
        "checks_failed": pipes.checks_failed,
        "materializations_reported": pipes.materializations_total,
        "problems": pipes.problems,
    }
