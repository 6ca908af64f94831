"""What ``rocky discover`` means: the sources, each with ``last_sync_at``, and those that failed.

Read with rocky-sdk's ``DiscoverResult``; an unreadable source row is dropped with a note (the others
still count), failed sources are informational (the run that reads them will say more).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.gates import sdk_model
from airflow_provider_rocky._verdict.parse import Tolerance
from airflow_provider_rocky._verdict.summary import capped
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with

DISCOVER_READING = Reading(
    sdk_model("DiscoverResult"),
    "DiscoverResult",
    Tolerance(rows=frozenset({"sources", "failed_sources", "excluded_tables", "collision_candidates"})),
)


def interpret_discover(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky discover``: the result when the engine exited 0."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        if ended.exit_code != 0:
            message = make.error_text or f"rocky discover exited {ended.exit_code}"
            return make.failed(make(exc.RockyEngineError, message, result), result)
        return make.verdict("success", result, None)

    return interpret_with(outcome, DISCOVER_READING, decide, **kwargs)


def starts_own_syncs(result: Any, stdout: bytes) -> bool:
    """``sync_trigger``: the pipeline starts its own syncs (rocky-sdk 0.29 models it; older SDKs drop it)."""
    if "sync_trigger" in type(result).model_fields:
        return bool(result.sync_trigger)
    try:
        return bool(json.loads(stdout).get("sync_trigger"))
    except (ValueError, AttributeError, RecursionError):
        return False


def last_syncs(result: Any) -> dict[str, str]:
    """``{source id: last_sync_at (ISO 8601)}`` for every source that has synced."""
    return {s.id: s.last_sync_at.isoformat() for s in result.sources if s.last_sync_at is not None}


def discover_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    result = verdict.result
    summary: dict[str, Any] = {
        "outcome": verdict.outcome,
        "category": verdict.error.category if verdict.error else None,
    }
    if result is not None:
        summary["source_types"] = dict(Counter(s.source_type for s in result.sources))
        capped(
            summary,
            "sources",
            list(result.sources),
            lambda s: {"id": s.id, "last_sync_at": str(s.last_sync_at)},
        )
        capped(summary, "failed_sources", list(getattr(result, "failed_sources", None) or []), lambda s: s.id)
    return summary


def discover_report(verdict: Verdict, pipes: PipesRecord | None = None) -> list[tuple[str, bool]]:
    result = verdict.result
    if result is None:
        return [(f"Rocky discover: outcome={verdict.outcome}", verdict.error is not None)]
    failed = list(getattr(result, "failed_sources", None) or [])
    lines = [(f"Rocky discover: {len(result.sources)} source(s), {len(failed)} failed", bool(failed))]
    return lines + [(f"  source {s.id} FAILED: {getattr(s, 'message', '')}", True) for s in failed[:20]]
