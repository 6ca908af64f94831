"""1,000 tables: the summary keeps 100 of each kind and the view says so; the full result shows them all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from view_helpers import api_client, bearer, token, view_url

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")


@pytest.fixture(scope="module")
def large(airflow_db: Any) -> Iterator[tuple[Any, str]]:
    from airflow_helpers import run_dag

    run = run_dag("rocky_view", "rocky_view_large", task_id="full")
    assert run.task_state == "success"
    yield api_client(), run.run_id


def view_of(large: tuple[Any, str], task_id: str) -> tuple[dict[str, Any], int]:
    api, run_id = large
    response = api.get(view_url("rocky_view_large", run_id, task_id), headers=bearer(token()))
    assert response.status_code == 200, response.text
    return dict(response.json()), len(response.content)


def test_from_the_summary_the_first_100_tables_and_the_runs_own_counts(large: tuple[Any, str]) -> None:
    view, size = view_of(large, "summary_only")
    tables = view["tables"]
    assert tables["source"] == "summary"
    assert tables["totals"]["landed"] == 1000 and tables["shown"]["landed"] == 100
    assert len(tables["rows"]) == 100 and tables["truncated"] is True
    assert size < 64 * 1024  # bounded by the summary


def test_from_the_full_result_every_table(large: tuple[Any, str]) -> None:
    view, size = view_of(large, "full")
    tables = view["tables"]
    assert tables["source"] == "full_result" and tables["truncated"] is False
    assert len(tables["rows"]) == 1000 and len({row["table"] for row in tables["rows"]}) == 1000
    assert all(row["status"] == "landed" and isinstance(row["duration_ms"], int) for row in tables["rows"])
    print(f"view JSON for 1,000 tables: {size:,} bytes")  # a figure, not a bound
    assert json.loads(json.dumps(view)) == view
