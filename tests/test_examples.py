"""The example DAGs: they parse, and plan → human approval → apply runs as the README says."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

EXAMPLES = Path(__file__).resolve().parents[1] / "example_dags"


def test_every_example_dag_parses_without_errors() -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    bag = (
        DagBag(dag_folder=str(EXAMPLES), include_examples=False)
        if not AIRFLOW_V_3_3_PLUS
        else DagBag(dag_folder=str(EXAMPLES))
    )
    assert bag.import_errors == {}
    assert {"rocky_quickstart", "rocky_downstream", "rocky_plan_review_apply"} <= set(bag.dag_ids)


def answer(dag_id: str, choice: str, stop: threading.Event) -> None:
    """What the Airflow UI's Approve/Reject does (the Core API handler), from the test's side."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.sdk import timezone
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    while not stop.wait(0.5):
        with create_session() as session:
            query = select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == "review"
            )
            ti = session.scalar(query.order_by(TaskInstance.start_date.desc()))
            detail = session.scalar(select(HITLDetail).where(HITLDetail.ti_id == ti.id)) if ti else None
            if ti is None or detail is None or ti.state != "awaiting_input":
                continue
            detail.responded_by = {"id": "reviewer", "name": "reviewer"}
            detail.responded_at = timezone.utcnow()
            detail.chosen_options, detail.params_input = [choice], {}
            handle_event_submit(
                TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session
            )
            return


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="dag.test() answers human-in-the-loop tasks on 3.3 only")
@pytest.mark.usefixtures("airflow_db", "standin_bin")
@pytest.mark.parametrize(("choice", "applied"), [("Approve", "success"), ("Reject", "skipped")])
def test_the_reviewer_decides_whether_the_plan_is_applied(choice: str, applied: str) -> None:
    from airflow_helpers import read_run, run_dag

    stop = threading.Event()
    responder = threading.Thread(target=answer, args=("review", choice, stop), daemon=True)
    responder.start()
    try:
        started = time.monotonic()
        run = run_dag("rocky_review", "review", task_id="apply")
    finally:
        stop.set()
        responder.join(10)
    plan = read_run("review", run.run_id, "plan")
    assert plan.summary["plan_id"] and plan.summary["statements_total"] == 3
    assert run.task_state == applied, f"after {time.monotonic() - started:.0f}s"
    if applied == "success":
        assert run.summary["outcome"] == "success" and run.summary["tables_copied"] == 2
