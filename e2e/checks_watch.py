"""The source-sync watcher (e2e/dags/rocky_e2e_watch.py) under the real triggerer, read through REST.

Checks that the triggerer's ``RockySourceSyncTrigger`` turned the stand-in's syncs into asset events
(``from_trigger`` with the trigger's payload), one per sync (no ``last_sync_at`` reported twice, also
across the triggerer restart the run does before this check), and that the scheduler started the DAG
scheduled on the asset from them: an ``asset_triggered`` run that succeeded and saw those payloads.
"""

from __future__ import annotations

import time
from typing import Any

from checks_runs import Ctx, wait_success
from report import CheckFailed, indent

DAG_ID = "rocky_e2e_on_orders_sync"
ASSET_NAME = "rocky_e2e_orders_synced"
SOURCE = "raw__orders"


def _asset_id(ctx: Ctx) -> int:
    found = ctx.api.get("/api/v2/assets", name_pattern=ASSET_NAME)["assets"]
    if not found:
        raise CheckFailed(f"asset {ASSET_NAME} is not registered (the watcher DAG did not parse?)")
    return int(found[0]["id"])


def _watch_events(ctx: Ctx, asset_id: int) -> list[dict[str, Any]]:
    return ctx.api.asset_events(asset_id=asset_id, order_by="timestamp")


def _first_consumer_run(ctx: Ctx, deadline: float) -> dict[str, Any] | None:
    while time.monotonic() < deadline:
        runs = [r for r in ctx.api.dag_runs(DAG_ID) if r.get("run_type") == "asset_triggered"]
        if runs:
            return min(runs, key=lambda r: str(r.get("logical_date") or r.get("run_after") or ""))
        time.sleep(2)
    return None


def _check_payloads(events: list[dict[str, Any]]) -> list[str]:
    """Every event came from the trigger for the watched source; each sync is reported once."""
    bad = [e for e in events if not (e.get("extra") or {}).get("from_trigger")]
    payloads = [(e.get("extra") or {}).get("payload") or {} for e in events]
    wrong = [p for p in payloads if p.get("source") != SOURCE or not p.get("last_sync_at")]
    if bad or wrong:
        raise CheckFailed(f"asset events not from the watcher: {bad[:2]} / payloads {wrong[:2]}")
    syncs = [str(p["last_sync_at"]) for p in payloads]
    if len(set(syncs)) != len(syncs):
        raise CheckFailed(f"a sync was reported more than once: {syncs}")
    return syncs


def check_source_watch(ctx: Ctx, timeout: float) -> str:
    """The watcher's events exist, are well-formed and unique, and started a successful consumer run."""
    deadline = time.monotonic() + timeout
    found = _first_consumer_run(ctx, deadline)
    if found is None:
        raise CheckFailed(
            f"no asset_triggered run of {DAG_ID} within {timeout:.0f}s",
            indent(ctx.service_tails("triggerer", "scheduler")),
        )
    run_id = str(found["dag_run_id"])
    wait_success(ctx, DAG_ID, run_id, max(deadline - time.monotonic(), 60))
    syncs = _check_payloads(_watch_events(ctx, _asset_id(ctx)))
    seen = ctx.api.xcom(DAG_ID, run_id, "consume") or []
    upstream = {
        str((e.get("extra") or {}).get("payload", {}).get("last_sync_at"))
        for e in ctx.api.upstream_asset_events(DAG_ID, run_id)
    }
    if not seen or {str(p.get("last_sync_at")) for p in seen} != upstream:
        raise CheckFailed(f"run {run_id} saw payloads {seen}, its upstream events carry {sorted(upstream)}")
    return f"{len(syncs)} sync event(s) from the triggerer, none repeated; run {run_id} consumed {len(seen)}"
