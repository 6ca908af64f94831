"""DAGs whose XCom the Rocky view reads in tests/ui/ (each a real run of the stand-in under dag.test())."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_rocky import RockyCompileOperator, RockyDoctorOperator, RockyOperator

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "summary_0_1_0"
COMMON: dict[str, Any] = {"schedule": None, "start_date": datetime(2026, 1, 1), "catchup": False}


def engine(scenario: str, **env: str) -> dict[str, Any]:
    """The stand-in with ``scenario``, in the test session's work directory."""
    return {
        "binary_path": STANDIN,
        "project_dir": WORK,
        "env_vars": {"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_DELAY": "0", **env},
    }


with DAG("rocky_view_partial", **COMMON) as rocky_view_partial:
    RockyOperator(
        task_id="rocky_run", filter="source=orders", asset_namespace="rocky://view", **engine("partial")
    )

with DAG("rocky_view_failed", **COMMON) as rocky_view_failed:
    RockyOperator(
        task_id="rocky_run",
        filter="source=orders",
        idempotency_key="view-key-7d3f",  # shown as *** wherever argv is shown
        retries=0,
        **engine("budget_breach"),
    )

with DAG("rocky_view_large", **COMMON) as rocky_view_large:
    for task_id, full in (("full", True), ("summary_only", False)):
        RockyOperator(
            task_id=task_id,
            filter="source=orders",
            push_full_result=full,
            emit_assets=False,  # Airflow registers each new asset at task end: not what is tested here
            **engine("huge_stdout", ROCKY_STANDIN_TABLES="1000"),
        )

with DAG("rocky_view_gates", **COMMON) as rocky_view_gates:
    RockyCompileOperator(task_id="compile", retries=0, **engine("compile_error"))
    RockyDoctorOperator(task_id="doctor", retries=0, **engine("doctor_critical"))

with DAG("rocky_view_legacy", **COMMON) as rocky_view_legacy:
    for _scenario in ("partial", "budget_breach"):

        @task(task_id=f"legacy_{_scenario}")
        def legacy(name: str = _scenario) -> dict[str, Any]:
            """What release 0.1.0's RockyOperator pushed (tests/fixtures/summary_0_1_0/)."""
            return dict(json.loads((LEGACY / f"{name}.json").read_text()))

        legacy()

    @task
    def plain() -> int:
        return 42

    plain()
