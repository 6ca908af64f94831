"""A RockyOperator with Airflow 3.3's retry_policy (tests/test_retry.py reads the tries back)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")

if AIRFLOW_V_3_3_PLUS:
    from airflow_provider_rocky.retry import RockyRetryPolicy

    for _scenario in ("adapter_transient", "adapter_auth"):
        _id = f"retry__{_scenario}"
        with DAG(_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
            RockyOperator(
                task_id="rocky_run",
                binary_path=STANDIN,
                project_dir=WORK,
                filter="source=orders",
                retries=1,
                retry_delay=timedelta(hours=1),  # what the policy overrides with the engine's cooldown
                retry_policy=RockyRetryPolicy(),
                env_vars={
                    "ROCKY_STANDIN_SCENARIO": _scenario,
                    "ROCKY_STANDIN_DELAY": "0",
                    "ROCKY_STANDIN_COOLDOWN": "1",
                },
            )
        globals()[_id] = _dag
