"""A plan's view: its statements by purpose next to the approval step of the same DAG run.

example_dags/rocky_plan_review_apply.py on the stand-in (tests/dags/rocky_review.py), answered the
way the UI's Approve button answers (tests/test_examples.py's ``answer``); Airflow 3.3 only, where
``dag.test()`` runs human-in-the-loop tasks.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from view_helpers import api_client, bearer, token, view_url

from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = [
    pytest.mark.usefixtures("airflow_db", "standin_bin"),
    pytest.mark.skipif(
        not AIRFLOW_V_3_3_PLUS, reason="dag.test() answers human-in-the-loop tasks on 3.3 only"
    ),
]


def test_the_plan_shows_its_statements_by_purpose_and_the_reviewers_answer() -> None:
    from airflow_helpers import run_dag
    from test_examples import answer

    stop = threading.Event()
    responder = threading.Thread(target=answer, args=("review", "Approve", stop), daemon=True)
    responder.start()
    try:
        run = run_dag("rocky_review", "review", task_id="apply")
    finally:
        stop.set()
        responder.join(10)
    api = api_client()
    plan: dict[str, Any] = api.get(view_url("review", run.run_id, "plan"), headers=bearer(token())).json()
    assert plan["kind"] == "plan" and plan["header"]["outcome"] == "success"
    section = plan["plan"]
    assert sum(section["purposes"].values()) == 3 and section["targets"]
    assert dict(section["facts"])["plan id"]
    (approval,) = section["approvals"]
    assert approval["task_id"] == "review" and approval["answer"] == "Approve"
    assert approval["responded_by"] == "reviewer" and approval["state"] == "success"
    applied = api.get(view_url("review", run.run_id, "apply"), headers=bearer(token())).json()
    assert applied["kind"] == "apply" and applied["tables"]["totals"]["landed"] == 2
    assert any(token.startswith("apply") or token == "apply" for token in applied["command"])
