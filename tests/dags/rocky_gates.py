"""One DAG per (gate case, mode) from tests/gate_cases.py, and the plan → apply chain."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG
from gate_cases import GATES, MODES, gate_dag_id

import airflow_provider_rocky

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")


def common(name: str, mode: str, scenario: str, env: dict[str, str]) -> dict[str, object]:
    return {
        "binary_path": STANDIN,
        "project_dir": WORK,
        "deferrable": mode == "deferrable",
        "event_hold_seconds": 0,  # dag.test() runs the trigger inline: no worker deferral to settle
        "env_vars": {
            "ROCKY_STANDIN_SCENARIO": scenario,
            "ROCKY_STANDIN_DELAY": "0",
            "ROCKY_STANDIN_RECORD": os.path.join(WORK, f"{name}.jsonl"),
            **env,
        },
    }


for _case in GATES:
    for _mode in MODES:
        _id = gate_dag_id(_case, _mode)
        with DAG(_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
            operator = getattr(airflow_provider_rocky, _case.operator)
            operator(task_id="rocky", **common(_id, _mode, _case.scenario, _case.env), **_case.kwargs)
        globals()[_id] = _dag

for _mode in MODES:
    _id = f"plan_apply__{_mode}"
    with DAG(_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
        settings = common(_id, _mode, "success", {})
        plan = airflow_provider_rocky.RockyPlanOperator(task_id="plan", filter="source=orders", **settings)
        apply = airflow_provider_rocky.RockyApplyOperator(
            task_id="apply",
            plan_id="{{ ti.xcom_pull(task_ids='plan')['plan_id'] }}",
            asset_namespace="rocky://plans",
            **settings,
        )
        plan >> apply
    globals()[_id] = _dag
