"""Per-DAG access: the view asks the auth manager, and a user it refuses a DAG gets nothing of it.

The auth manager here refuses every DAG but one to the user ``outsider`` (tests/ui/
one_dag_auth_manager.py), as FAB's per-DAG permissions do; everyone else is SimpleAuthManager's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from view_helpers import auth_manager, bearer, run_once, token, view_url

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")


@pytest.fixture(scope="module")
def api(airflow_db: Any) -> Iterator[Any]:
    with auth_manager("one_dag_auth_manager.OneDagAuthManager") as client:
        yield client


def test_a_user_refused_the_dag_gets_403_and_no_data(api: Any) -> None:
    from one_dag_auth_manager import OneDagAuthManager

    OneDagAuthManager.asked.clear()
    url = view_url("rocky_view_failed", run_once("rocky_view_failed"), "rocky_run")
    response = api.get(url, headers=bearer(token(username="outsider", role="admin")))
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not read the task data of DAG 'rocky_view_failed'."}
    assert OneDagAuthManager.asked[0] == ("GET", "XCOM", "rocky_view_failed")


def test_the_same_user_reads_the_dag_it_is_allowed(api: Any) -> None:
    from one_dag_auth_manager import OneDagAuthManager

    OneDagAuthManager.asked.clear()
    url = view_url("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run")
    response = api.get(url, headers=bearer(token(username="outsider", role="admin")))
    assert response.status_code == 200 and response.json()["kind"] == "run"
    assert OneDagAuthManager.asked == [
        ("GET", "XCOM", "rocky_view_partial"),
        ("GET", "TASK_INSTANCE", "rocky_view_partial"),
    ]


def test_access_is_checked_before_the_task_is_looked_up(api: Any) -> None:
    """A refused user cannot learn which tasks or runs exist: 403, not 404."""
    url = view_url("rocky_view_failed", "no-such-run", "no_such_task")
    response = api.get(url, headers=bearer(token(username="outsider", role="admin")))
    assert response.status_code == 403
