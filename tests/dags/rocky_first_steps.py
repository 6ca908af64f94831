"""A project as `rocky init` writes it, run by a plain RockyOperator in both modes (issue 20, item 10).

tests/project/test_first_steps.py runs ``rocky-standin init`` into ``<workdir>/first_steps`` first;
nothing here reads the folder at parse time.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
PROJECT = os.path.join(WORK, "first_steps")

for _mode in ("sync", "deferrable"):
    with DAG(f"first_steps__{_mode}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
        RockyOperator(
            task_id="rocky_run",
            binary_path=STANDIN,
            project_dir=PROJECT,
            filter="source=orders",
            asset_namespace=f"duckdb://{PROJECT}/playground.duckdb",
            deferrable=_mode == "deferrable",
            event_hold_seconds=0,
            env_vars={"ROCKY_STANDIN_DELAY": "0", "ROCKY_STANDIN_ALLOW_NO_CONFIG": "0"},
        )
    globals()[_dag.dag_id] = _dag
