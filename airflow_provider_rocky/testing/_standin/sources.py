"""``rocky discover`` and ``rocky freshness`` (contract §7; freshness from engine 1.74).

``discover`` lists the demo sources (``selection.SOURCES``) with their tables. ``last_sync_at`` is
midnight UTC today unless ``ROCKY_STANDIN_SYNC_EVERY=<seconds>`` is set: then each source "syncs"
every that many seconds (staggered by source), so a poller sees it change. ``discover_failed_source``
reports the payments source in ``failed_sources`` instead. Current engines also print
``sync_trigger`` (``true`` under the ``sync_trigger`` scenario).

``freshness`` checks every source table and model: all pass, except ``freshness_warn`` (the first
source is older than ``warn_after``) and ``freshness_error`` (the first model is older than
``error_after``: JSON, then exit 1).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.selection import KNOWN_ROWS, SOURCES, model_units
from airflow_provider_rocky.testing._standin.tracing import rfc3339, utc_now, write_fd

WARN_AFTER, ERROR_AFTER = 3600, 86400


def _synced_at(index: int, every: float | None) -> str:
    now = time.time()
    if every is None:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return rfc3339(midnight)
    stagger = index * every / max(len(SOURCES), 1)
    last = math.floor((now - stagger) / every) * every + stagger
    return rfc3339(datetime.fromtimestamp(last, UTC), micros=True)


def discover(run: RunEnv) -> Outcome:
    """The sources, their tables and when each last synced."""
    failed = run.scenario.name == "discover_failed_source"
    sources, failures = [], []
    for index, (source, tables) in enumerate(SOURCES.items()):
        if failed and source == "payments":
            failures.append(
                {
                    "id": f"raw__{source}",
                    "schema": f"raw__{source}",
                    "source_type": "duckdb",
                    "error_class": "auth",
                    "message": "permission denied on schema raw__payments",
                }
            )
            continue
        sources.append(
            {
                "id": f"raw__{source}",
                "components": {"source": source},
                "source_type": "duckdb",
                "last_sync_at": _synced_at(index, run.knobs.sync_every),
                "tables": [{"name": t, "row_count": KNOWN_ROWS.get(t, 0)} for t in tables],
            }
        )
    document: dict[str, Any] = {
        "version": run.knobs.engine.version,
        "command": "discover",
        "sources": sources,
    }
    if failures:
        document["failed_sources"] = failures
    if run.knobs.engine.current:  # ``sync_trigger`` scenario: the pipeline starts its own syncs
        document["sync_trigger"] = run.scenario.name == "sync_trigger"
    run.log.info(f"discovered {len(sources)} source(s)", sources=len(sources), failed=len(failures))
    write_fd(1, render(document, "json").encode("utf-8"))
    return Outcome(0, None)


def _entry(name: str, table: str, age: int, pipeline: str) -> dict[str, Any]:
    status = "error" if age > ERROR_AFTER else "warn" if age > WARN_AFTER else "pass"
    loaded = rfc3339(datetime.fromtimestamp(time.time() - age, UTC))
    return {
        "name": name,
        "pipeline": pipeline,
        "table": table,
        "measured_from": "warehouse",
        "status": status,
        "max_loaded_at": loaded,
        "age_seconds": age,
        "warn_after_seconds": WARN_AFTER,
        "error_after_seconds": ERROR_AFTER,
        "loaded_at_field": "_loaded_at",
    }


def freshness(run: RunEnv) -> Outcome:
    """Freshness of every source table and model; exit 1 when one is past ``error_after``."""
    scenario, pipeline = run.scenario.name, run.inv.get("pipeline") or "default"
    sources = [
        _entry(
            f"raw__{s}.{t}",
            f"warehouse.raw__{s}.{t}",
            7200 if scenario == "freshness_warn" and i == 0 else 600,
            pipeline,
        )
        for i, (s, t) in enumerate((s, t) for s, tables in SOURCES.items() for t in tables)
    ]
    models = [
        _entry(
            u.name,
            f"warehouse.{u.schema}.{u.table}",
            90000 if scenario == "freshness_error" and i == 0 else 900,
            pipeline,
        )
        for i, u in enumerate(model_units(None, None, run.cwd))
    ]
    summary = {status: 0 for status in ("pass", "warn", "error", "runtime_error")}
    for row in (*sources, *models):
        summary[row["status"]] += 1
    document = {
        "version": run.knobs.engine.version,
        "command": "freshness",
        "checked_at": rfc3339(utc_now()),
        "sources": sources,
        "models": models,
        "summary": summary,
    }
    write_fd(1, render(document, "json").encode("utf-8"))
    if summary["error"] or summary["runtime_error"]:
        raise CommandError(f"freshness: {summary['error']} check(s) past error_after")
    return Outcome(0, None)
