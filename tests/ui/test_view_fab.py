"""The Rocky view under FAB's auth manager, with FAB's own per-DAG permissions (``make test-fab``).

FAB (apache-airflow-providers-fab 3.10.2) cannot be installed beside the locked environment (its
Flask-AppBuilder 5.2.2 needs python-dateutil < 3; the lock has 4.0), so ``make test-fab`` builds
``.venv-fab`` (Airflow 3.3.2, FAB, resolved freshly) and runs this module with
``[core] auth_manager`` set to FAB's before Airflow is imported, so the session's metadata DB gets
FAB's tables too. Elsewhere it is skipped, saying so.

A role made with FAB's own security manager may read one DAG (``DAG:rocky_view_partial``) and XComs,
task instances and DAG runs; its user gets the view of that DAG and a 403 for another one.
"""

from __future__ import annotations

from typing import Any

import pytest
from view_helpers import api_client, bearer, run_once, view_url

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

pytest.importorskip(
    "airflow.providers.fab", reason="FAB is not installed here: `make test-fab` runs this module"
)
pytestmark = [
    pytest.mark.usefixtures("airflow_db", "standin_bin"),
    pytest.mark.skipif(
        __import__("os").environ.get("AIRFLOW__CORE__AUTH_MANAGER") != FAB_AUTH_MANAGER,
        reason="needs FAB as the session's auth manager: `make test-fab`",
    ),
]

ALLOWED = "rocky_view_partial"
READS = (
    ("can_read", f"DAG:{ALLOWED}"),
    ("can_read", "XComs"),
    ("can_read", "Task Instances"),
    ("can_read", "DAG Runs"),
)


def fab_user() -> Any:
    """A FAB user whose only role reads one DAG, made with FAB's security manager."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        role = sm.find_role("RockyOneDag") or sm.add_role("RockyOneDag")
        for action, resource in READS:
            sm.add_permission_to_role(role, sm.create_permission(action, resource))
        user = sm.find_user(username="one_dag") or sm.add_user(
            "one_dag", "One", "Dag", "one_dag@example.com", role, password="a-password-of-this-test"
        )
        assert user, "FAB did not create the user"
        return user


def test_fab_allows_the_dag_its_role_reads_and_refuses_another() -> None:
    from airflow.api_fastapi.app import get_auth_manager

    api = api_client()
    manager = get_auth_manager()
    assert type(manager).__name__ == "FabAuthManager"
    jwt = manager.generate_jwt(fab_user())
    allowed = api.get(view_url(ALLOWED, run_once(ALLOWED), "rocky_run"), headers=bearer(jwt))
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["kind"] == "run"
    refused = api.get(
        view_url("rocky_view_failed", run_once("rocky_view_failed"), "rocky_run"), headers=bearer(jwt)
    )
    assert refused.status_code == 403
    assert "rocky_view_failed" in refused.json()["detail"] and "tables" not in refused.text
    anonymous = api.get(view_url(ALLOWED, run_once(ALLOWED), "rocky_run"))
    assert anonymous.status_code == 401
