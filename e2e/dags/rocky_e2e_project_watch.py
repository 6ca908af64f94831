"""The stand-in demo project as a ``RockyTaskGroup(shape="watch")`` on a real deployment.

Checked by e2e/checks_watch_group.py.

One ``rocky run --dag`` producer and one task per node, in a scratch project of its own. The stand-in
fails ``dim_customers`` in its first build (``ROCKY_STANDIN_FAIL_NODES=dim_customers:1``: the engine's
run), so the run shows a failed node, its contained descendants, and, after a clear of the failed
node, that node and the ones the engine skipped behind it built alone. The node tasks are
deferrable: they wait in the triggerer. ``retries=0``: the clear is the retry here.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_rocky import RockyTaskGroup

SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)
MANIFEST = str(Path(__file__).with_name("rocky_project_manifest.json"))
PROJECT = "project-watch"

with DAG(
    dag_id="rocky_e2e_project_watch",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rocky", "e2e"],
) as rocky_e2e_project_watch:
    RockyTaskGroup(
        "project",
        manifest=MANIFEST,
        asset_namespace=f"duckdb://{SCRATCH}/{PROJECT}/warehouse.duckdb",
        shape="watch",
        state_isolation="none",  # the engine is the one writer; the e2e creates no pool for it
        operator_args={
            "rocky_conn_id": "rocky_e2e_scratch",
            "project_dir": f"{SCRATCH}/{PROJECT}",
            "deferrable": True,
            "retries": 0,
            # 1.5 s of work per node (about 20 s for the project): long enough for a node task to be
            # deferred and polled while the engine still runs, as on a real warehouse
            "env_vars": {"ROCKY_STANDIN_FAIL_NODES": "dim_customers:1", "ROCKY_STANDIN_DELAY": "1.5"},
        },
    )
