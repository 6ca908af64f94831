"""The full result (XCom ``rocky_result``, from ``push_full_result=True``) read as plain JSON.

It is ``RunResult.model_dump(mode="json")`` of whichever rocky-sdk the worker had (0.15 to 0.29), so
it is read loosely here: a field missing or of another shape is skipped, never raised. The rows come
out in the summary's own shape (``table``, ``strategy``, ``rows_copied``, ``partition_key``,
``duration_ms``, ``volume_verdict``, ``notes``; ``table``, ``failure_kind``, ``message``), so one
code path builds the view's rows from either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_rocky._verdict.verdict import error_table

__all__ = ["all_checks", "drift_actions", "is_run_result", "materializations", "run_errors", "skipped"]

#: ``model_decisions[].decision`` values that mean the model did not run this time.
SKIP_DECISIONS = frozenset({"skip", "reused"})


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def _key(value: Any) -> list[str]:
    return [str(part) for part in value] if isinstance(value, list) else []


def is_run_result(value: Any) -> bool:
    """A dumped ``RunResult``: what a run or an apply pushes under ``rocky_result``."""
    return isinstance(value, dict) and isinstance(value.get("materializations"), list)


def _name(mat: Mapping[str, Any]) -> str:
    meta = mat.get("metadata") if isinstance(mat.get("metadata"), dict) else {}
    full = meta.get("target_table_full_name") if isinstance(meta, dict) else None
    name = str(full) if full else ".".join(part for part in _key(mat.get("asset_key")) if part)
    return name[1:] if name.startswith(".") and name.count(".") == 2 else name


def materializations(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for mat in _dicts(result.get("materializations")):
        meta: dict[str, Any] = mat["metadata"] if isinstance(mat.get("metadata"), dict) else {}
        partition = mat.get("partition") if isinstance(mat.get("partition"), dict) else None
        volume = mat.get("volume") if isinstance(mat.get("volume"), dict) else None
        yield {
            "table": _name(mat),
            "strategy": meta.get("strategy"),
            "rows_copied": mat.get("rows_copied"),
            "partition_key": partition.get("key") if partition else None,
            "duration_ms": mat.get("duration_ms"),
            "volume_verdict": volume.get("verdict") if volume else None,
            "notes": [str(n) for n in mat.get("notes") or [] if n]
            if isinstance(mat.get("notes"), list)
            else [],
        }


def run_errors(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for err in _dicts(result.get("errors")):
        message = str(err.get("error") or "")
        yield {
            "table": error_table(_key(err.get("asset_key")), message),
            "failure_kind": err.get("failure_kind"),
            "message": message,
        }


def skipped(result: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Models the engine decided not to run (``--skip-unchanged``, content-addressed reuse), with why."""
    for row in _dicts(result.get("model_decisions")):
        if str(row.get("decision")) in SKIP_DECISIONS:
            yield str(row.get("model") or "?"), f"{row.get('decision')}: {row.get('reason') or ''}".strip()


def all_checks(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every check of every table, passed ones too (the summary keeps only those that failed)."""
    for table in _dicts(result.get("check_results")):
        name = ".".join(_key(table.get("asset_key")))
        for check in _dicts(table.get("checks")):
            yield {
                "table": name,
                "check": check.get("name"),
                "severity": check.get("severity"),
                "passed": bool(check.get("passed")),
            }


def drift_actions(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    drift = result.get("drift") if isinstance(result.get("drift"), dict) else {}
    return _dicts(drift.get("actions_taken")) if isinstance(drift, dict) else []
