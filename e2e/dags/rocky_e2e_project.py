"""The stand-in demo project as a RockyTaskGroup on a real deployment (`make e2e`; e2e/checks_project.py).

* ``rocky_e2e_project``: the group as shipped (one pool per state file; ``make e2e`` creates the pool
  with one slot before the run), in a scratch project of its own, under its own asset namespace (so
  its ``fct_daily_orders`` is not the asset ``rocky_downstream`` schedules on);
* ``rocky_e2e_project_unguarded``: the same project with ``state_isolation="none"`` in another
  scratch project: its parallel branches open one state file at once (the collision the pool
  prevents; reported as a NOTE, it depends on the scheduler's timing);
* ``rocky_e2e_project_one_run``: the same project as one task, ``shape="one_run"``: the engine's own
  ``rocky run --dag`` (seeds, replication, models, snapshot, quality), in a third scratch project.
* ``rocky_e2e_project_deferred``: the group as the README shows it, every node deferrable, under
  its pool created exactly as the README says (``airflow pools set <pool> 1 "rocky state"
  --include-deferred``): a deferred task keeps its slot, so no two engines open the state file.

The manifest is the example's (``rocky_project_manifest.json``, copied beside this file by the e2e).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_rocky import RockyTaskGroup

SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)
MANIFEST = str(Path(__file__).with_name("rocky_project_manifest.json"))
#: The e2e's project directories, and the namespace of each one's assets.
PROJECTS = {
    "rocky_e2e_project": "project-graph",
    "rocky_e2e_project_unguarded": "project-graph-unguarded",
    "rocky_e2e_project_one_run": "project-one-run",
    "rocky_e2e_project_deferred": "project-graph-deferred",
}


def namespace(dag_id: str) -> str:
    return f"duckdb://{SCRATCH}/{PROJECTS[dag_id]}/warehouse.duckdb"


GROUPS = (
    ("rocky_e2e_project", "pool", False),
    ("rocky_e2e_project_unguarded", "none", False),
    ("rocky_e2e_project_deferred", "pool", True),
)

for _dag_id, _isolation, _deferrable in GROUPS:
    with DAG(
        dag_id=_dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["rocky", "e2e"]
    ) as _dag:
        RockyTaskGroup(
            "project",
            manifest=MANIFEST,
            asset_namespace=namespace(_dag_id),
            state_isolation=_isolation,
            operator_args={
                "rocky_conn_id": "rocky_e2e_scratch",
                "project_dir": f"{SCRATCH}/{PROJECTS[_dag_id]}",
                "retries": 0,  # a collision must show, not be retried away
                "deferrable": _deferrable,
            },
        )
    globals()[_dag_id] = _dag

with DAG(
    dag_id="rocky_e2e_project_one_run",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rocky", "e2e"],
) as rocky_e2e_project_one_run:
    RockyTaskGroup(
        "project",
        manifest=MANIFEST,
        asset_namespace=namespace("rocky_e2e_project_one_run"),
        shape="one_run",
        state_isolation="none",  # one task: nothing to serialize
        operator_args={
            "rocky_conn_id": "rocky_e2e_scratch",
            "project_dir": f"{SCRATCH}/{PROJECTS['rocky_e2e_project_one_run']}",
            "retries": 0,
        },
    )
