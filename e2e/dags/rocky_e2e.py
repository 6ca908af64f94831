"""DAGs only the e2e run uses (`make e2e` copies this file into the throwaway deployment's dags folder).

* ``rocky_e2e_quickstart_sync``: the quickstart (deferrable, as the README's) on the worker instead,
  against the same project and warehouse (so its asset events start ``rocky_downstream`` too);
* ``rocky_e2e_failures``: ``budget_breach`` on the worker and ``compile_error`` under the triggerer;
* ``rocky_e2e_kill``: a deferred run that never ends (``grandchild``), killed through the API;
* ``rocky_e2e_kill_sync``: a sync run whose engine ignores SIGTERM, killed through the API;
* ``rocky_e2e_triggerer_restart``: a deferred run long enough to stop the triggerer under it;
* ``rocky_e2e_start_from_trigger``: a task that starts in the triggerer (``start_from_trigger``), its
  ``filter`` templated from ``params`` and rendered there.

The failure, kill and restart tasks use the ``rocky_e2e_scratch`` connection and a project of their
own (``project_dir``), so they never hold the quickstart warehouse's DuckDB writer lock while
``rocky_downstream`` reads it, nor each other's.
The scenario of the stand-in engine is chosen per task through ``env_vars``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_rocky.operators.rocky import RockyOperator

RECORD = os.environ.get("ROCKY_E2E_RECORD", "/tmp/rocky-e2e-record.jsonl")  # noqa: S108 (a default only)
#: Each scenario runs in its own project (``make e2e`` creates them), so no two stand-ins ever share a
#: DuckDB file or a state store.
SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)


def standin(scenario: str, delay: float = 0.3, **extra: str) -> dict[str, str]:
    """``env_vars`` selecting a stand-in scenario, with a readable pace and the shared record file."""
    return {
        "ROCKY_STANDIN_SCENARIO": scenario,
        "ROCKY_STANDIN_DELAY": str(delay),
        "ROCKY_STANDIN_RECORD": RECORD,
        **extra,
    }


COMMON: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False}

with DAG(dag_id="rocky_e2e_quickstart_sync", tags=["rocky", "e2e"], **COMMON):
    rocky_run = RockyOperator(
        task_id="rocky_run",
        filter="source=orders",
        run_models=True,
        timeout_seconds=30 * 60,
        deferrable=False,
        env_vars=standin("success"),
    )

    @task
    def report(summary: dict[str, Any]) -> None:
        print(f"rocky status={summary['status']} copied={summary['tables_copied']}")

    report(rocky_run.output)  # type: ignore[arg-type]  # an XComArg stands for the value at parse time

with DAG(dag_id="rocky_e2e_failures", tags=["rocky", "e2e"], **COMMON):
    RockyOperator(
        task_id="budget_breach",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/failure-budget",
        filter="source=orders",
        env_vars=standin("budget_breach"),
        retries=0,
    )
    RockyOperator(
        task_id="compile_error",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/failure-compile",
        run_models=True,
        deferrable=True,
        env_vars=standin("compile_error", delay=0.6),  # >= 3 s under the triggerer: see deployment.py
        retries=0,
    )

with DAG(dag_id="rocky_e2e_kill", tags=["rocky", "e2e"], **COMMON):
    RockyOperator(
        task_id="never_ends",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/kill",
        filter="source=orders",
        timeout_seconds=15 * 60,
        deferrable=True,
        env_vars=standin("grandchild"),
        retries=0,
    )

with DAG(dag_id="rocky_e2e_kill_sync", tags=["rocky", "e2e"], **COMMON):
    RockyOperator(
        task_id="never_ends_sync",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/kill-sync",
        filter="source=orders",
        timeout_seconds=15 * 60,
        term_grace_seconds=15,  # on_kill must cap it: Airflow SIGKILLs the task 5 s after SIGTERM
        env_vars=standin("hang_ignore_term"),
        retries=0,
    )

with DAG(dag_id="rocky_e2e_triggerer_restart", tags=["rocky", "e2e"], **COMMON):
    RockyOperator(
        task_id="long_run",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/restart",
        filter="source=orders",
        timeout_seconds=15 * 60,
        deferrable=True,
        env_vars=standin("interruptible", ROCKY_STANDIN_SECONDS="12"),
        retries=0,
    )

with DAG(dag_id="rocky_e2e_start_from_trigger", tags=["rocky", "e2e"], params={"source": "orders"}, **COMMON):
    RockyOperator(
        task_id="from_triggerer",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/start-from-trigger",
        filter="source={{ params.source }}",
        run_models=True,
        deferrable=True,
        start_from_trigger=True,
        env_vars=standin("success", delay=0.6),  # >= 3 s under the triggerer: see deployment.py
        retries=0,
    )
