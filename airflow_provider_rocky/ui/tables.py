"""One row per table for a run or an apply: landed, failed, skipped or contained, with what was seen.

Read from the summary (every Rocky release's: at most 100 tables of each kind, with the totals beside
them), or from the full result when the task pushed one (``push_full_result=True``: every table,
every check, passed ones included). A row: ``table``, ``status``, ``rows``, ``duration_ms``,
``strategy``, ``partition``, ``asset`` (URI and Airflow's asset id when the run emitted an event for
it), ``error`` (failure kind and message), ``observations`` (drift, anomaly, volume, notes) and
``checks``. Observations and checks naming a table no row has stay at run level (``unmatched``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky._verdict.verdict import error_table
from airflow_provider_rocky.ui import full_result as full

__all__ = ["Tables", "from_full_result", "from_summary"]

UNNAMED = "(table not named by the engine)"


@dataclass
class Tables:
    """The rows, how many tables the run had, and what could not be put on a row."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    #: Per status, how many tables the run reported (may exceed the rows: the summary keeps 100).
    totals: dict[str, int] = field(default_factory=dict)
    source: str = "summary"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [row for row in _list(value) if isinstance(row, dict)]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def readable(name: str) -> str:
    """``.marts.t`` (DuckDB's empty catalog) reads ``marts.t``, as the summary writes it."""
    return name[1:] if name.startswith(".") and name.count(".") == 2 else name


class _Index:
    """Finds a row by table name: exact, else by its last two dotted parts when only one row has them."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.exact: dict[str, dict[str, Any]] = {}
        self.tail: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            self.exact.setdefault(row["table"], row)
            self.tail.setdefault(self._tail(row["table"]), []).append(row)

    @staticmethod
    def _tail(name: str) -> str:
        return ".".join(name.split(".")[-2:])

    def find(self, name: Any) -> dict[str, Any] | None:
        if not isinstance(name, str) or not name:
            return None
        name = readable(name)
        if name in self.exact:
            return self.exact[name]
        candidates = self.tail.get(self._tail(name), [])
        return candidates[0] if len(candidates) == 1 else None


def _row(table: str, status: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"table": table, "status": status, "observations": [], "checks": []}
    row.update({key: value for key, value in values.items() if value is not None})
    return row


def _attach(tables: Tables, index: _Index, name: Any, key: str, item: dict[str, Any]) -> None:
    """Put an observation or a check on its table's row, or at run level when no row has it.

    A run-level entry keeps the observation's own ``kind`` (drift, anomaly, volume); a check's is ``checks``.
    """
    row = index.find(name)
    if row is not None:
        row[key].append(item)
    else:
        tables.unmatched.append({"table": _text(name), "kind": key, **item})


def _observe(tables: Tables, index: _Index, source: Mapping[str, Any]) -> None:
    for drift in _dicts(source.get("drift_actions")):
        text = f"drift: {drift.get('action')}" + (f" ({drift['reason']})" if drift.get("reason") else "")
        _attach(tables, index, drift.get("table"), "observations", {"kind": "drift", "text": text})
    for anomaly in _dicts(source.get("anomalies")):
        _attach(tables, index, anomaly.get("table"), "observations", _anomaly(anomaly))
    for volume in _dicts(source.get("volume_verdicts")):
        text = f"volume: {volume.get('verdict')}" + _volume_detail(volume)
        _attach(tables, index, volume.get("table"), "observations", {"kind": "volume", "text": text})
    for check in _dicts(source.get("checks_not_evaluated")):
        item = {"check": _text(check.get("check")), "severity": None, "passed": None}
        _attach(tables, index, check.get("table"), "checks", {**item, "reason": _text(check.get("reason"))})


def _anomaly(row: Mapping[str, Any]) -> dict[str, Any]:
    if row.get("evaluated") is False:
        return {"kind": "anomaly", "text": f"anomaly check not evaluated: {row.get('reason') or 'no reason'}"}
    parts = [str(row.get("reason") or "row count anomaly")]
    if row.get("deviation_pct") is not None:
        parts.append(f"{row['deviation_pct']}% from baseline")
    if row.get("current_count") is not None and row.get("baseline_avg") is not None:
        parts.append(f"{row['current_count']} rows vs {row['baseline_avg']} on average")
    return {"kind": "anomaly", "text": "anomaly: " + "; ".join(parts)}


def _volume_detail(row: Mapping[str, Any]) -> str:
    bits = [f"{key} {row[key]}" for key in ("severity", "actual", "min", "max") if row.get(key) is not None]
    return f" ({', '.join(bits)})" if bits else ""


def _checks(tables: Tables, index: _Index, checks: Iterable[dict[str, Any]]) -> None:
    for check in checks:
        item = {
            "check": _text(check.get("check")),
            "severity": _text(check.get("severity")),
            "passed": check.get("passed", False),
        }
        tables.checks.append({"table": _text(check.get("table")), **item})
        _attach(tables, index, check.get("table"), "checks", item)


def _assets(
    summary: Mapping[str, Any], asset_ids: Mapping[str, int]
) -> dict[tuple[str, Any], dict[str, Any]]:
    """(table, partition) -> {uri, id}: what the run emitted (only runs that emitted asset events)."""
    out: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in _dicts(summary.get("assets")):
        uri = row.get("uri")
        if isinstance(uri, str):
            key = (readable(str(row.get("table") or "")), row.get("partition_key"))
            out[key] = {"uri": uri, "id": asset_ids.get(uri)}
    return out


def _landed(summary: Mapping[str, Any], mat: Mapping[str, Any], assets: Mapping[Any, Any]) -> dict[str, Any]:
    table = readable(str(mat.get("table") or UNNAMED))
    partition = mat.get("partition_key")
    row = _row(
        table,
        "landed",
        rows=_int(mat.get("rows_copied")),
        duration_ms=_int(mat.get("duration_ms")),
        strategy=_text(mat.get("strategy")),
        partition=_text(partition),
        asset=assets.get((table, partition)),
    )
    if mat.get("volume_verdict") not in (None, "in_range"):
        row["observations"].append({"kind": "volume", "text": f"volume: {mat['volume_verdict']}"})
    for note in _list(mat.get("notes")):
        row["observations"].append({"kind": "note", "text": str(note)})
    return row


def _failed(error: Mapping[str, Any]) -> dict[str, Any]:
    """A failed table; a name in brackets (``<unnamed table>``, 0.1.0's word) is looked for in the message."""
    table = str(error.get("table") or "")
    if not table or table.startswith("<"):
        table = error_table([], str(error.get("message") or ""))
    return _row(
        UNNAMED if table.startswith("<") else readable(table),
        "failed",
        error={"failure_kind": _text(error.get("failure_kind")), "message": _text(error.get("message"))},
    )


def _contained(row: Mapping[str, Any]) -> dict[str, Any]:
    blocked = ", ".join(str(b) for b in _list(row.get("blocked_by")))
    message = f"blocked by {blocked}" if blocked else "blocked upstream"
    if row.get("unblock_hint"):
        message += f": {row['unblock_hint']}"
    return _row(
        str(row.get("model") or UNNAMED), "contained", error={"failure_kind": None, "message": message}
    )


def _total(summary: Mapping[str, Any], key: str, fallback: int) -> int:
    value = _int(summary.get(key))
    return value if value is not None else fallback


def from_summary(summary: Mapping[str, Any], asset_ids: Mapping[str, int]) -> Tables:
    """The rows a run's summary holds (any release's: 0.1.0 lacks durations and observations)."""
    assets = _assets(summary, asset_ids)
    mats, errors, contained = (_dicts(summary.get(k)) for k in ("materializations", "errors", "contained"))
    tables = Tables(
        rows=[*(_failed(e) for e in errors), *(_contained(c) for c in contained)]
        + [_landed(summary, m, assets) for m in mats]
    )
    tables.totals = {
        "landed": _total(summary, "tables_copied", len(mats)),
        "failed": _total(summary, "tables_failed", len(errors)),
        "skipped": _total(summary, "tables_skipped", 0),
        "contained": _total(summary, "contained_total", len(contained)),
    }
    index = _Index(tables.rows)
    _observe(tables, index, summary)
    _checks(tables, index, ({**c, "passed": False} for c in _dicts(summary.get("checks_failed"))))
    return tables


def from_full_result(
    result: Mapping[str, Any], summary: Mapping[str, Any], asset_ids: Mapping[str, int]
) -> Tables:
    """Every table of the full result (``rocky_result``), with the summary's assets and observations."""
    assets = _assets(summary, asset_ids)
    landed = [_landed(summary, m, assets) for m in full.materializations(result)]
    failed = [_failed(e) for e in full.run_errors(result)]
    contained = [_contained(c) for c in _dicts(result.get("contained"))]
    skips = [
        _row(name, "skipped", error={"failure_kind": None, "message": why})
        for name, why in full.skipped(result)
    ]
    tables = Tables(rows=[*failed, *contained, *skips, *landed], source="full_result")
    tables.totals = {
        "landed": _total(result, "tables_copied", len(landed)),
        "failed": _total(result, "tables_failed", len(failed)),
        "skipped": max(_total(result, "tables_skipped", 0), len(skips)),
        "contained": len(contained),
    }
    index = _Index(tables.rows)
    _observe(tables, index, {**summary, "drift_actions": full.drift_actions(result)})
    _checks(tables, index, full.all_checks(result))
    return tables
