"""Builders for the ``RunOutput`` JSON the stand-in prints (contract §2) and its table/md renderings.

Key order follows the engine's ``RunOutput`` struct; optional fields are omitted exactly when the
engine's serde attributes omit them (empty lists, ``false`` flags, ``None``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.settings import Generation
from airflow_provider_rocky.testing._standin.tracing import rfc3339


@dataclass
class UnitResult:
    """What happened to one unit: ``ok``, ``failed`` (with a classified error) or ``interrupted``."""

    unit: Unit
    outcome: str
    started_at: datetime
    duration_ms: int = 0
    rows: int | None = None
    error: str | None = None
    failure_kind: str | None = None
    cooldown_seconds: int | None = None
    cost_usd: float | None = 0.0
    #: Current engines: the product's volume verdict row and operator-visible notes.
    volume: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """Everything the JSON needs, gathered by the runner while the run progresses."""

    filter: str
    pipeline_type: str
    concurrency: int
    results: list[UnitResult] = field(default_factory=list)
    duration_ms: int = 0
    interrupted: bool = False
    idempotency_key: str | None = None
    resumed_from: str | None = None
    shadow: bool = False
    check_results: list[dict[str, Any]] = field(default_factory=list)
    drift_actions: list[dict[str, str]] = field(default_factory=list)
    tables_checked: int = 0
    schemas_created: int = 0
    compile_errors: list[dict[str, Any]] = field(default_factory=list)
    compile_failed_models: int = 0
    budget_breaches: list[dict[str, Any]] = field(default_factory=list)
    adapter_type: str = "duckdb"
    check_gate_failed: bool = False
    verify_after_failed: bool = False
    model_decisions: list[dict[str, str]] = field(default_factory=list)
    engine: Generation = field(default_factory=Generation)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    contained: list[dict[str, Any]] = field(default_factory=list)
    #: Blocks only current engines print (``anomaly_evaluated``, ``volume_warnings``, ...), in order.
    observations: dict[str, Any] = field(default_factory=dict)

    @property
    def gated(self) -> bool:
        """The run failed a check gate (the quality gate or verify_after)."""
        return self.check_gate_failed or self.verify_after_failed

    @property
    def materialized(self) -> list[UnitResult]:
        """Units that landed (one materialization each)."""
        return [result for result in self.results if result.outcome == "ok"]

    @property
    def tables_copied(self) -> int:
        """Replicated tables that landed (models do not count, as in the engine)."""
        return sum(1 for result in self.materialized if not result.unit.is_model)

    @property
    def tables_failed(self) -> int:
        """Failed or interrupted units plus models that failed to compile (the authoritative count)."""
        return self.compile_failed_models + sum(1 for r in self.results if r.outcome != "ok")


def derive_run_status(
    *, interrupted: bool, tables_failed: int, tables_copied: int, materializations: int, gated: bool = False
) -> str:
    """``output.rs::derive_run_status``: Success / PartialFailure (problem with progress) / Failure.

    ``gated``: engines after 1.71 count a failed check gate as a problem (1.71 printed ``Success``).
    """
    if not interrupted and tables_failed == 0 and not gated:
        return "Success"
    return "PartialFailure" if tables_copied > 0 or materializations > 0 else "Failure"


def _materialization(result: UnitResult) -> dict[str, Any]:
    unit = result.unit
    metadata: dict[str, Any] = {"strategy": unit.strategy}
    if not unit.is_model:
        metadata["watermark"] = rfc3339(result.started_at)
    metadata["target_table_full_name"] = unit.full_name
    if unit.is_model:
        metadata.update(sql_hash=unit.sql_hash, column_count=unit.column_count, compile_time_ms=3)
    entry: dict[str, Any] = {
        "asset_key": list(unit.asset_key),
        "rows_copied": result.rows,
        "duration_ms": result.duration_ms,
        "started_at": rfc3339(result.started_at),
        "metadata": metadata,
    }
    if result.volume is not None:
        entry["volume"] = result.volume
    if result.notes:
        entry["notes"] = list(result.notes)
    if unit.partition is not None:
        entry["partition"] = {
            "key": unit.partition.key,
            "start": rfc3339(unit.partition.start),
            "end": rfc3339(unit.partition.end),
        }
    if result.cost_usd is not None:
        entry["cost_usd"] = result.cost_usd
    return entry


def _error(result: UnitResult) -> dict[str, Any]:
    # Replication copy failures carry asset_key [] (contract §3.4); model failures name the model.
    entry: dict[str, Any] = {
        "asset_key": [result.unit.name] if result.unit.is_model else [],
        "error": result.error or "unknown error",
        "failure_kind": result.failure_kind or "unknown",
    }
    if result.cooldown_seconds is not None:
        entry["cooldown_seconds"] = result.cooldown_seconds
    return entry


def _percentile(values: list[int], pct: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct * (len(ordered) - 1)))]


def _metrics(report: RunReport) -> dict[str, Any]:
    durations = [r.duration_ms for r in report.results if r.outcome != "interrupted"]
    processed = len(report.results)
    failed = report.tables_failed
    return {
        "tables_processed": processed,
        "tables_failed": failed,
        "error_rate_pct": round(100.0 * failed / processed, 2) if processed else 0.0,
        "statements_executed": 2 * len(report.materialized),
        "retries_attempted": sum(1 for r in report.results if r.failure_kind == "transient") * 2,
        "retries_succeeded": 0,
        "anomalies_detected": 0,
        "table_duration_p50_ms": _percentile(durations, 0.5),
        "table_duration_p95_ms": _percentile(durations, 0.95),
        "table_duration_max_ms": max(durations, default=0),
        "query_duration_p50_ms": _percentile(durations, 0.5),
        "query_duration_p95_ms": _percentile(durations, 0.95),
        "query_duration_max_ms": max(durations, default=0),
    }


def _partition_summaries(report: RunReport) -> list[dict[str, Any]]:
    summaries: dict[str, dict[str, Any]] = {}
    for result in report.results:
        if result.unit.partition is None:
            continue
        summary = summaries.setdefault(
            result.unit.name,
            {
                "model": result.unit.name,
                "partitions_planned": 0,
                "partitions_succeeded": 0,
                "partitions_failed": 0,
            },
        )
        summary["partitions_planned"] += 1
        summary["partitions_succeeded" if result.outcome == "ok" else "partitions_failed"] += 1
    return list(summaries.values())


def build_run_output(report: RunReport) -> dict[str, Any]:
    """The ``RunOutput`` document for a run that did (some) work."""
    materializations = [_materialization(result) for result in report.materialized]
    current = report.engine.current
    status = derive_run_status(
        interrupted=report.interrupted,
        tables_failed=report.tables_failed,
        tables_copied=report.tables_copied,
        materializations=len(materializations),
        gated=current and report.gated,
    )
    out: dict[str, Any] = {"version": report.engine.version, "command": "run", "status": status}
    if report.idempotency_key is not None:
        out["idempotency_key"] = report.idempotency_key
    out.update(
        pipeline_type=report.pipeline_type,
        filter=report.filter,
        duration_ms=report.duration_ms,
        tables_copied=report.tables_copied,
        tables_failed=report.tables_failed,
    )
    if report.resumed_from is not None:
        out["resumed_from"] = report.resumed_from
    if report.shadow:
        out["shadow"] = True
    out["materializations"] = materializations
    if report.model_decisions:
        out["model_decisions"] = report.model_decisions
    if report.contained:
        out["contained"] = report.contained
    out["check_results"] = _checks(report)
    errors = report.compile_errors + [_error(r) for r in report.results if r.outcome == "failed"]
    if errors:
        out["errors"] = errors
    out["execution"] = {
        "concurrency": report.concurrency,
        "tables_processed": len(report.results),
        "tables_failed": sum(1 for r in report.results if r.outcome == "failed" and not r.unit.is_model),
    }
    out["metrics"] = _metrics(report)
    out["permissions"] = {
        "grants_added": 0,
        "grants_revoked": 0,
        "catalogs_created": 0,
        "schemas_created": report.schemas_created,
    }
    if report.anomalies:
        out["anomalies"] = [_keyed(row, current) for row in report.anomalies]
    out["drift"] = {
        "tables_checked": report.tables_checked,
        "tables_drifted": len({action["table"] for action in report.drift_actions}),
        "actions_taken": [_keyed(action, current) for action in report.drift_actions],
    }
    summaries = _partition_summaries(report)
    if summaries:
        out["partition_summaries"] = summaries
    out["interrupted"] = report.interrupted
    if materializations:
        costs = [r.cost_usd for r in report.materialized if r.cost_usd is not None]
        out["cost_summary"] = {
            "total_cost_usd": round(sum(costs), 6) if costs else None,
            "total_duration_ms": sum(r.duration_ms for r in report.materialized),
            "per_model": [
                {"asset_key": m["asset_key"], "duration_ms": m["duration_ms"], "cost_usd": m.get("cost_usd")}
                for m in materializations
            ],
            "adapter_type": report.adapter_type,
        }
    if report.budget_breaches:
        out["budget_breaches"] = report.budget_breaches
    if current:  # the gate fields and the observation blocks exist only after 1.71
        out.update(report.observations)
        if report.check_gate_failed:
            out["check_gate_failed"] = True
        if report.verify_after_failed:
            out["verify_after_failed"] = True
    return out


def _keyed(row: dict[str, Any], current: bool) -> dict[str, Any]:
    """Drift actions and anomalies carry ``asset_key`` (the dotted table, split) since #2073."""
    if not current:
        return {key: value for key, value in row.items() if key != "asset_key"}
    return {**row, "asset_key": row.get("asset_key") or str(row["table"]).split(".")}


def _checks(report: RunReport) -> list[dict[str, Any]]:
    """``check_results``; a check's ``not_evaluated`` reason exists only after 1.71."""
    if report.engine.current:
        return report.check_results
    return [
        {**table, "checks": [{k: v for k, v in c.items() if k != "not_evaluated"} for c in table["checks"]]}
        for table in report.check_results
    ]


def build_skipped_output(
    *,
    status: str,
    key: str,
    prior_run_id: str,
    filter_text: str,
    pipeline_type: str,
    concurrency: int,
    version: str,
) -> dict[str, Any]:
    """``SkippedIdempotent`` / ``SkippedInFlight``: no work, the deflecting run id echoed."""
    return {
        "version": version,
        "command": "run",
        "status": status,
        "skipped_by_run_id": prior_run_id,
        "idempotency_key": key,
        "pipeline_type": pipeline_type,
        "filter": filter_text,
        "duration_ms": 0,
        "tables_copied": 0,
        "tables_failed": 0,
        "materializations": [],
        "check_results": [],
        "execution": {"concurrency": concurrency, "tables_processed": 0, "tables_failed": 0},
        "metrics": None,
        "permissions": {"grants_added": 0, "grants_revoked": 0, "catalogs_created": 0, "schemas_created": 0},
        "drift": {"tables_checked": 0, "tables_drifted": 0, "actions_taken": []},
        "interrupted": False,
    }


def render(output: dict[str, Any], fmt: str) -> str:
    """stdout text: pretty JSON (``serde_json::to_string_pretty``) or a table/markdown summary."""
    if fmt == "json":
        return json.dumps(output, indent=2, ensure_ascii=False) + "\n"
    rows = [
        (
            ".".join(m["metadata"].get("target_table_full_name", "").split(".")[-2:]),
            m.get("rows_copied"),
            "ok",
        )
        for m in output["materializations"]
    ] + [
        ("/".join(e["asset_key"]) or "(table)", None, e.get("failure_kind", "failed"))
        for e in output.get("errors", [])
    ]
    head = (
        f"rocky run: {output['status']} - {output['tables_copied']} copied, "
        f"{output['tables_failed']} failed in {output['duration_ms']}ms"
    )
    if fmt == "md":
        body = "\n".join(f"| {name} | {'' if n is None else n} | {state} |" for name, n, state in rows)
        return f"**{head}**\n\n| target | rows | status |\n|---|---|---|\n{body}\n"
    width = max([len(name) for name, _, _ in rows] + [6])
    lines = [head, f"  {'TARGET':<{width}}  {'ROWS':>6}  STATUS"]
    lines += [f"  {name:<{width}}  {'' if n is None else n:>6}  {state}" for name, n, state in rows]
    return "\n".join(lines) + "\n"
