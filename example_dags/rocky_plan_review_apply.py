"""Plan, review, apply: a person approves exactly what Rocky will do before it touches the warehouse.

1. ``compile`` gates the rest on a clean project (cheap, no warehouse);
2. ``plan`` runs ``rocky plan`` and pushes ``plan_id`` plus a statement summary to XCom;
3. ``review`` is Airflow's own human-in-the-loop ``ApprovalOperator`` (standard provider, Airflow 3.1+):
   the reviewer reads the summary in the UI and approves or rejects; a rejection skips ``apply``;
4. ``apply`` runs ``rocky apply <plan_id>``: the reviewed plan, nothing else. It is interpreted like a
   run (XCom summary, one asset event per table, the failure taxonomy).

Engine 1.71 plans replication pipelines only (the project's pipeline, or ``pipeline=``, must be a
replication pipeline with a discovery adapter; docs/operators.md, plan → apply). For a plan bound to a product
spec (``rocky product propose``), pass ``expect_spec_digest="sha256:<hex>"`` to ``apply``: the digest
your own approval process recorded; the engine compares it as an exact string.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

from airflow_provider_rocky import RockyApplyOperator, RockyCompileOperator, RockyPlanOperator

PLAN = "ti.xcom_pull(task_ids='plan')"


def build(dag_id: str = "rocky_plan_review_apply", **operator_args: Any) -> DAG:
    """The DAG; ``operator_args`` go to every Rocky task (tests point them at the stand-in)."""
    with DAG(
        dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["rocky", "example"]
    ) as dag:
        compiled = RockyCompileOperator(task_id="compile", **operator_args)
        plan = RockyPlanOperator(task_id="plan", filter="source=orders", **operator_args)
        review = ApprovalOperator(
            task_id="review",
            subject="Apply Rocky plan {{ " + PLAN + "['plan_id'][:12] }}?",
            body=(
                "{{ " + PLAN + "['statements_total'] }} statement(s): "
                "{{ " + PLAN + "['statements_by_purpose'] }} on {{ " + PLAN + "['targets'] }}"
            ),
            response_timeout=timedelta(hours=24),
        )
        apply = RockyApplyOperator(task_id="apply", plan_id="{{ " + PLAN + "['plan_id'] }}", **operator_args)
        compiled >> plan >> review >> apply
    return dag


dag = build()
