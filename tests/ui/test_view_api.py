"""The Rocky view's data API on Airflow's own api-server app, against real runs in a real metadata DB.

Every run is a real ``dag.test()`` of a real Rocky operator and the stand-in engine (tests/dags/
rocky_view.py); the app is Airflow's ``create_app``, which mounts the plugin from the package's
``airflow.plugins`` entry point; tokens come from the configured auth manager (SimpleAuthManager).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from view_helpers import api_client, bearer, run_once, token, view_url

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")


@pytest.fixture(scope="module")
def api(airflow_db: Any) -> Iterator[Any]:
    yield api_client()


def get_view(api: Any, dag_id: str, task_id: str = "rocky_run", **kwargs: Any) -> dict[str, Any]:
    response = api.get(view_url(dag_id, run_once(dag_id), task_id), headers=bearer(token()), **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def rows_by_table(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["table"]: row for row in view["tables"]["rows"]}


# -- access ---------------------------------------------------------------------------------------


def test_without_a_token_the_data_endpoint_answers_401(api: Any) -> None:
    response = api.get(view_url("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Not signed in" in response.json()["detail"]
    assert "tables" not in response.text


def test_the_ui_session_cookie_is_accepted_like_a_bearer_token(api: Any) -> None:
    url = view_url("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run")
    api.cookies.set("_token", token(username="viewer", role="viewer"))
    try:
        response = api.get(url)
    finally:
        api.cookies.clear()
    assert response.status_code == 200
    assert response.json()["found"] is True


@pytest.mark.parametrize(
    ("credential", "status", "detail"),
    [("not-a-jwt", 403, "Invalid Airflow token"), ("expired", 401, "expired")],
)
def test_an_invalid_or_expired_token_is_refused(api: Any, credential: str, status: int, detail: str) -> None:
    value = token(expires=-3600) if credential == "expired" else credential
    url = view_url("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run")
    response = api.get(url, headers=bearer(value))
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_a_missing_task_instance_is_404_and_a_bad_map_index_400(api: Any) -> None:
    run_id = run_once("rocky_view_partial")
    missing = api.get(view_url("rocky_view_partial", run_id, "no_such_task"), headers=bearer(token()))
    assert missing.status_code == 404 and "no_such_task" in missing.json()["detail"]
    bad = api.get(view_url("rocky_view_partial", run_id, "rocky_run", "x"), headers=bearer(token()))
    assert bad.status_code == 400


def test_the_unfilled_map_index_placeholder_means_an_unmapped_task(api: Any) -> None:
    """The UI leaves ``{MAP_INDEX}`` in the iframe URL of a task that is not mapped."""
    run_id = run_once("rocky_view_partial")
    response = api.get(
        view_url("rocky_view_partial", run_id, "rocky_run", "%7BMAP_INDEX%7D"), headers=bearer(token())
    )
    assert response.status_code == 200 and response.json()["task"]["map_index"] == -1


def test_the_app_answers_only_reads(api: Any) -> None:
    url = view_url("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert api.request(method, url, headers=bearer(token())).status_code == 405


# -- what a run did -------------------------------------------------------------------------------


def test_a_partial_run_shows_each_table_landed_or_failed_with_its_error(api: Any) -> None:
    from airflow_helpers import read_run

    view = get_view(api, "rocky_view_partial")
    summary = read_run("rocky_view_partial", run_once("rocky_view_partial"), "rocky_run").summary
    assert view["kind"] == "run" and view["found"] and view["recorded_by_view"]
    assert view["header"]["status"] == "PartialFailure" and view["header"]["outcome"] == "partial"
    assert view["header"]["run_id"] == summary["run_id"] and view["header"]["run_id"].startswith("run-")
    assert view["header"]["engine_version"] == summary["engine_version"]
    assert view["command"][1:] == summary["command"][1:] and "--filter=source=orders" in view["command"]
    rows = rows_by_table(view)
    landed = rows["warehouse.staging__orders.orders"]
    assert landed["status"] == "landed" and landed["rows"] == 12 and landed["strategy"] == "full_refresh"
    assert isinstance(landed["duration_ms"], int)
    assert landed["asset"]["uri"] == "rocky://view/warehouse/staging__orders/orders"
    assert isinstance(landed["asset"]["id"], int)  # links to Airflow's asset page
    failed = rows["warehouse.staging__orders.order_items"]
    assert failed["status"] == "failed" and failed["error"]["failure_kind"] == "query-rejected"
    assert "discount_code" in failed["error"]["message"]
    assert view["tables"]["totals"] == {"landed": 1, "failed": 1, "skipped": 0, "contained": 0}
    assert view["tables"]["truncated"] is False and view["failure"] is None


def test_a_failed_run_shows_the_category_what_to_do_and_the_stderr_tail(api: Any) -> None:
    view = get_view(api, "rocky_view_failed")
    assert view["task"]["state"] == "failed"
    failure = view["failure"]
    assert failure["category"] == "budget" and failure["retryable"] is False
    assert "budget exceeded" in failure["message"]
    assert failure["advice"] and "[budget]" in failure["advice"]
    assert any("Error: budget exceeded" in line for line in failure["stderr_tail"])
    assert view["run_level"]["budget_breaches"][0]["limit_type"] == "max_usd"
    assert "--idempotency-key=***" in view["command"]
    assert "view-key-7d3f" not in json.dumps(view["command"])  # argv as logged; the header echoes the key


def test_a_summary_written_by_release_0_1_0_renders(api: Any) -> None:
    """tests/fixtures/summary_0_1_0/: what 0.1.0's own RockyOperator pushed (no command, no failure block)."""
    partial = get_view(api, "rocky_view_legacy", task_id="legacy_partial")
    assert partial["found"] and partial["kind"] == "run" and partial["recorded_by_view"] is False
    assert partial["command"] is None and partial["failure"] is None
    rows = rows_by_table(partial)
    assert rows["warehouse.staging__orders.orders"]["rows"] == 12
    assert "duration_ms" not in rows["warehouse.staging__orders.orders"]  # 0.1.0 did not record it
    # 0.1.0 wrote "<unnamed table>": the table is read from the engine's message instead
    assert rows["warehouse.staging__orders.order_items"]["status"] == "failed"
    failed = get_view(api, "rocky_view_legacy", task_id="legacy_budget_breach")
    assert failed["failure"]["category"] == "budget" and failed["failure"]["message"] is None
    assert failed["failure"]["advice"]


def test_a_task_that_is_not_rocky_says_so(api: Any) -> None:
    view = get_view(api, "rocky_view_legacy", task_id="plain")
    assert view["found"] is False and "not a Rocky summary" in view["reason"]


def test_a_gate_shows_its_findings_with_file_and_line(api: Any) -> None:
    compiled = get_view(api, "rocky_view_gates", task_id="compile")
    assert compiled["kind"] == "compile" and compiled["failure"]["category"] == "compile"
    items = compiled["gate"]["items"]
    errors = [item for item in items if item["level"] == "error"]
    assert errors and all(":" in item["location"] for item in errors if "location" in item)
    assert any("E001" in item["title"] for item in errors)
    doctor = get_view(api, "rocky_view_gates", task_id="doctor")
    assert doctor["kind"] == "doctor" and doctor["failure"]["category"] == "health"
    # The engine's doctor (doctor.rs): state_schema is the critical state check, and auth is checked per
    # adapter (the stand-in's project pings a warehouse and a discovery adapter, both named "default").
    errors = {item["title"] for item in doctor["gate"]["items"] if item["level"] == "error"}
    assert {"state_schema", "auth/default"} <= errors
