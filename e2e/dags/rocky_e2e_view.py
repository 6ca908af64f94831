"""The run the Rocky view is checked on (`make e2e`, e2e/checks_view.py): a partial failure.

The stand-in's ``partial`` scenario lands ``staging__orders.orders`` and fails
``staging__orders.order_items`` (``query-rejected``); the task succeeds (``fail_on_partial`` is off)
with both in its XCom summary, which the view draws. Its own project under the scratch connection.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator

RECORD = os.environ.get("ROCKY_E2E_RECORD", "/tmp/rocky-e2e-record.jsonl")  # noqa: S108 (a default only)
SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)

with DAG(
    dag_id="rocky_e2e_view",
    tags=["rocky", "e2e"],
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
):
    RockyOperator(
        task_id="rocky_run",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/view",
        filter="source=orders",
        env_vars={
            "ROCKY_STANDIN_SCENARIO": "partial",
            "ROCKY_STANDIN_DELAY": "0.3",
            "ROCKY_STANDIN_RECORD": RECORD,
        },
        retries=0,
    )
