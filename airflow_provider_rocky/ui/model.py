"""The view of one task instance: what the page draws, built from the rows ``store`` read.

Every Rocky operator pushes a summary (``return_value``) for successful and failed tries alike; its
shape says which command ran (newer summaries also name it: ``command_name``). The view holds the
header (status and category, the engine's run id and version, the command), the failure (category,
what to do, message, stderr tail), the tables of a run or an apply, a gate's findings, a plan's
statements with its approval steps, and the notes. A summary from release 0.1.0 has no command, no
failure block and no durations: those parts say "not recorded" instead of being left out silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_rocky.ui import full_result
from airflow_provider_rocky.ui.advice import advice
from airflow_provider_rocky.ui.sections import gate_section, plan_section
from airflow_provider_rocky.ui.store import TaskRecord
from airflow_provider_rocky.ui.tables import Tables, from_full_result, from_summary

__all__ = ["SCHEMA", "build", "kind_of"]

#: Version of the JSON the page reads (bumped on an incompatible change).
SCHEMA = 1
OPERATOR_KINDS = {
    "RockyOperator": "run",
    "RockyApplyOperator": "apply",
    "RockyDoctorOperator": "doctor",
    "RockyCompileOperator": "compile",
    "RockyTestOperator": "test",
    "RockyCiOperator": "ci",
    "RockyFreshnessOperator": "freshness",
    "RockyPlanOperator": "plan",
}
KINDS = frozenset({*OPERATOR_KINDS.values(), "discover"})
#: Shape of each command's summary, most specific first (a custom subclass of an operator, 0.1.0).
SHAPES = (
    ("plan", "plan_id"),
    ("doctor", "overall"),
    ("ci", "compile_ok"),
    ("compile", "has_errors"),
    ("freshness", "not_fresh"),
    ("test", "passed"),
    ("run", "materializations"),
)
HEADER_KEYS = (
    "outcome",
    "status",
    "category",
    "exit_code",
    "run_id",
    "engine_version",
    "duration_ms",
    "pipeline_type",
    "interrupted",
    "idempotency_key",
    "skipped_by_run_id",
    "check_gate_failed",
    "verify_after_failed",
)
RUN_LEVEL_LISTS = ("budget_breaches", "volume_warnings", "source_syncs_failed", "consumer_diagnostics")


def is_rocky_summary(value: Any) -> bool:
    """What every Rocky summary has, whatever the command and release: ``outcome`` and ``exit_code``."""
    return isinstance(value, dict) and "outcome" in value and "exit_code" in value


def kind_of(summary: Mapping[str, Any], operator: str | None) -> str:
    """Which command the summary is of: its own word, else the operator class, else its shape."""
    named = summary.get("command_name")
    if isinstance(named, str) and named in KINDS:
        return named
    if operator in OPERATOR_KINDS:
        return OPERATOR_KINDS[operator]
    return next((kind for kind, key in SHAPES if key in summary), "unknown")


def _task(record: TaskRecord) -> dict[str, Any]:
    key = record.key
    return {
        "dag_id": key.dag_id,
        "run_id": key.run_id,
        "task_id": key.task_id,
        "map_index": key.map_index,
        "operator": record.operator,
        "state": record.state,
        "try_number": record.try_number,
    }


def _not_rocky(record: TaskRecord) -> str:
    if record.summary is None:
        if record.state in (None, "scheduled", "queued", "running", "deferred", "up_for_retry", "restarting"):
            return "This task has not pushed a Rocky summary yet: it has not finished its current try."
        return "This task has no Rocky summary: it is not a Rocky task, or it did not push XCom."
    return "This task's return value is not a Rocky summary (it is not a Rocky task)."


def _failure(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    block = summary.get("failure")
    category = summary.get("category")
    if isinstance(block, dict):
        return {**block, "advice": advice(block.get("category"))}
    if category is None:
        return None
    return {"category": category, "advice": advice(category), "message": None, "stderr_tail": None}


def _tables(summary: Mapping[str, Any], record: TaskRecord) -> dict[str, Any]:
    full = record.full_result
    tables: Tables = (
        from_full_result(full, summary, record.asset_ids)
        if full_result.is_run_result(full)
        else from_summary(summary, record.asset_ids)
    )
    pipes: dict[str, Any] = summary["pipes"] if isinstance(summary.get("pipes"), dict) else {}
    for check in pipes.get("checks") or []:
        if isinstance(check, dict):
            key = check.get("asset_key")
            table = ".".join(str(p) for p in key) if isinstance(key, list) else None
            row = {
                "check": check.get("check"),
                "severity": check.get("severity"),
                "passed": check.get("passed"),
            }
            tables.checks.append({"table": table, "source": "pipes", **row})
    shown = {status: sum(r["status"] == status for r in tables.rows) for status in tables.totals}
    return {
        "source": tables.source,
        "rows": tables.rows,
        "totals": tables.totals,
        "shown": shown,
        "truncated": any(shown[s] < total for s, total in tables.totals.items() if s != "skipped"),
        "checks": tables.checks,
        "checks_failed_total": summary.get("checks_failed_total"),
        "unmatched": tables.unmatched,
    }


def build(record: TaskRecord) -> dict[str, Any]:
    """The page's JSON for one task instance (the caller checked access and that the instance exists)."""
    view: dict[str, Any] = {"schema": SCHEMA, "task": _task(record)}
    summary = record.summary
    if not is_rocky_summary(summary):
        return {**view, "found": False, "reason": _not_rocky(record)}
    kind = kind_of(summary, record.operator)
    view.update(
        found=True,
        kind=kind,
        recorded_by_view=summary.get("command_name") is not None,
        header={key: summary.get(key) for key in HEADER_KEYS if key in summary},
        command=summary.get("command"),
        failure=_failure(summary),
        notes=[str(n) for n in summary.get("notes") or []],
    )
    if kind in ("run", "apply") or "materializations" in summary:
        view["tables"] = _tables(summary, record)
        view["run_level"] = {key: summary.get(key) for key in RUN_LEVEL_LISTS if summary.get(key)}
    view["gate"] = gate_section(kind, summary)
    if kind == "plan":
        view["plan"] = plan_section(summary, record.approvals)
    return view
