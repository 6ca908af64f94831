"""Rocky's project as Airflow tasks: one task per model, seed, pipeline and check, tables declared.

`RockyTaskGroup` renders a saved `rocky dag --output json` (the manifest, beside this file; write
it with `rocky-airflow-manifest --project-dir <project> --output rocky_project_manifest.json`) into
one `RockyOperator` per node, wired as the engine's graph says, each declaring its table as an
Asset: the graph, the grid and the Assets page show the project before its first run, and
`rocky_downstream` (scheduled on `marts.fct_daily_orders`) starts when this DAG rebuilds it.

Parse time reads that file only. The asset namespace is given here (the group never looks up the
connection at parse time), the same one the `rocky_default` connection uses for the quickstart.
The daily data-interval schedule makes each run cover the day before it: the time_interval model
`fct_daily_orders` runs that day's partition. Every task shares one Airflow pool per state file
(`rocky_state__rocky_default`, one slot that counts deferred tasks:
`airflow pools set rocky_state__rocky_default 1 "rocky state" --include-deferred`), so parallel
branches never open the project's state store at once, deferrable nodes included.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_rocky import RockyTaskGroup

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]

MANIFEST = os.environ.get(
    "ROCKY_PROJECT_MANIFEST", str(Path(__file__).with_name("rocky_project_manifest.json"))
)
#: The DuckDB file of the Rocky project (`make demo` sets it; deployments set their own).
WAREHOUSE = os.environ.get("ROCKY_EXAMPLE_WAREHOUSE", "/opt/rocky/project/warehouse.duckdb")

with DAG(
    dag_id="rocky_project",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rocky", "example"],
    doc_md=__doc__,
):
    RockyTaskGroup(
        group_id="rocky_project",
        manifest=MANIFEST,
        asset_namespace=f"duckdb://{WAREHOUSE}",
        operator_args={
            "rocky_conn_id": "rocky_default",
            "timeout_seconds": 30 * 60,
            "retries": 2,  # a locked state file (someone else's run) is retryable
            "retry_delay": timedelta(seconds=30),
        },
        tooltip="The Rocky project: one task per node of `rocky dag`",
    )
