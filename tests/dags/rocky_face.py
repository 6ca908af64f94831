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

#: An engine that leaks: it prints the secrets of its environment (WAREHOUSE_ACCESS_TOKEN from env_vars,
#: WAREHOUSE_PASSWORD from the connection's secret_env) to stderr, plain and inside tracing JSON, and
#: into the error messages of its RunResult, with a NUL; written by tests/operators/test_secrets.py.
LEAKY_ENGINE = os.path.join(WORK, "face_leaky_engine")

for _mode in ("sync", "deferrable"):
    with DAG(f"face__leaky__{_mode}", schedule=None, start_date=START, catchup=False) as _dag:
        RockyOperator(
            task_id="rocky_run",
            rocky_conn_id="rocky_face",
            deferrable=_mode == "deferrable",
            binary_path=LEAKY_ENGINE,
            project_dir=WORK,
            filter="source=orders",
            push_full_result=True,
            env_vars={"WAREHOUSE_ACCESS_TOKEN": "{{ var.value.face_creds }}"},
        )
    globals()[_dag.dag_id] = _dag
