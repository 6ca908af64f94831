"""One DAG per (stand-in scenario, mode), generated from tests/scenario_cases.py."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG
from scenario_cases import CASES, MODES, dag_id

from airflow_provider_rocky.operators.rocky import RockyOperator

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")

for _case in CASES:
    for _mode in MODES:
        _id = dag_id(_case, _mode)
        with DAG(_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
            kwargs = dict(_case.op_kwargs)
            seconds = kwargs.pop("execution_timeout_seconds", None)
            if seconds:
                kwargs["execution_timeout"] = timedelta(seconds=seconds)
            kwargs.setdefault("filter", "source=orders")
            kwargs.setdefault("binary_path", STANDIN)
            RockyOperator(
                task_id="rocky_run",
                deferrable=_mode == "deferrable",
                event_hold_seconds=0,  # dag.test() runs the trigger inline: no worker deferral to settle
                project_dir=WORK,
                env_vars={
                    "ROCKY_STANDIN_SCENARIO": _case.scenario,
                    "ROCKY_STANDIN_RECORD": os.path.join(WORK, f"{_id}.jsonl"),
                    "ROCKY_STANDIN_DELAY": "0",
                    **_case.env,
                },
                **kwargs,
            )
        globals()[_id] = _dag
