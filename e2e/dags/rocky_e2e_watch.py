"""The source-sync watcher under a real triggerer (`make e2e` copies this file into the dags folder).

``rocky_e2e_orders_synced`` is an Asset watched by ``RockySourceSyncTrigger``: the triggerer polls the
stand-in's ``rocky discover`` every 3 s; the stand-in reports ``raw__orders`` synced every 20 s
(``ROCKY_STANDIN_SYNC_EVERY``), so the watcher records the first sync it sees and fires at each later
one. ``rocky_e2e_on_orders_sync`` is scheduled on that asset; its task returns the payloads of the
asset events that started it, which the e2e check reads back through the REST API.
The project is a scratch one of its own (``watch``), so the polls never touch the quickstart warehouse.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_rocky.triggers.source_sync import RockySourceSyncTrigger

SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)
WATCHED_SOURCE = "raw__orders"
SYNC_EVERY_SECONDS = 20

ORDERS_SYNCED = Asset(
    name="rocky_e2e_orders_synced",
    uri="rocky-source://e2e/raw__orders",
    watchers=[
        AssetWatcher(
            name="rocky_e2e_orders_sync",
            trigger=RockySourceSyncTrigger(
                rocky_conn_id="rocky_e2e_scratch",
                project_dir=f"{SCRATCH}/watch",
                sources=[WATCHED_SOURCE],
                poll_interval=3,
                timeout_seconds=60,
                env_vars={"ROCKY_STANDIN_SYNC_EVERY": str(SYNC_EVERY_SECONDS), "ROCKY_STANDIN_DELAY": "0"},
            ),
        )
    ],
)

with DAG(
    dag_id="rocky_e2e_on_orders_sync",
    schedule=[ORDERS_SYNCED],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["rocky", "e2e"],
):

    @task
    def consume(**context: Any) -> list[dict[str, Any]]:
        """The payloads of the source-sync events that started this run (the check compares them)."""
        events = context["triggering_asset_events"]
        payloads = [dict(event.extra.get("payload") or {}) for batch in events.values() for event in batch]
        for payload in payloads:
            print(f"source {payload.get('source')} synced at {payload.get('last_sync_at')}")
        return payloads

    consume()
