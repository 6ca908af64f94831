"""DAGs for the task-face tests: deferral under dag.test(), secrets in rendered fields, XCom, events."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")

# The default event hold: dag.test() must not wait it out.
START = datetime(2026, 1, 1)

with DAG("face__default_hold", schedule=None, start_date=START, catchup=False) as face__default_hold:
    RockyOperator(
        task_id="rocky_run", deferrable=True, binary_path=STANDIN, project_dir=WORK, filter="source=orders"
    )
