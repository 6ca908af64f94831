"""A small client of Airflow 3's public REST API (``/api/v2``), the only way the checks drive Airflow.

Auth: the deployment runs SimpleAuthManager with ``simple_auth_manager_all_admins``, under which
``GET /auth/token`` hands out an admin JWT with no credentials; every call sends it as a Bearer token.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


class APIError(RuntimeError):
    """A REST call failed or a wait timed out; the message names the call and the last state seen."""


def _q(value: str) -> str:
    return quote(value, safe="")


class AirflowAPI:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.token: str | None = None

    def close(self) -> None:
        self.client.close()

    # -- plumbing -------------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> None:
        """Wait for the api-server to answer, then fetch a token."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = self.client.get("/api/v2/monitor/health")
                if response.status_code == 200:
                    break
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as err:
                last = type(err).__name__
            time.sleep(1)
        else:
            raise APIError(f"api-server not healthy within {timeout:.0f}s ({last})")
        response = self.client.get("/auth/token")
        if response.status_code not in (200, 201):
            raise APIError(f"GET /auth/token: HTTP {response.status_code}: {response.text[:300]}")
        self.token = response.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise APIError(f"{method} {path}: {type(err).__name__}: {err}") from err
        if response.status_code >= 400:
            raise APIError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    # -- DAGs and runs --------------------------------------------------------------------------

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        try:
            return dict(self.get(f"/api/v2/dags/{_q(dag_id)}"))
        except APIError as err:
            if "HTTP 404" in str(err):
                return None
            raise

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/importErrors")["import_errors"])

    def wait_dags(self, dag_ids: list[str], timeout: float) -> None:
        """Wait until the dag-processor has serialized every DAG (the API knows them)."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            missing = [dag_id for dag_id in dag_ids if self.dag(dag_id) is None]
            if not missing:
                return
            time.sleep(2)
        errors = "; ".join(f"{e['filename']}: {e['stack_trace'][-300:]}" for e in self.import_errors())
        raise APIError(f"DAGs not parsed within {timeout:.0f}s: {missing}; import errors: {errors or 'none'}")

    def unpause(self, dag_id: str) -> None:
        body = self.request("PATCH", f"/api/v2/dags/{_q(dag_id)}", json={"is_paused": False})
        if body.get("is_paused"):
            raise APIError(f"{dag_id} still paused after PATCH")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        body = self.request(
            "POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        return str(body["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}"))

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{_q(dag_id)}/dagRuns", order_by="run_after")["dag_runs"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Poll until the DAG run is success or failed; returns the state or raises on timeout."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            state = str(self.dag_run(dag_id, run_id)["state"])
            if state in TERMINAL_RUN_STATES:
                return state
            time.sleep(1)
        raise APIError(f"{dag_id}/{run_id} still {state!r} after {timeout:.0f}s")

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/upstreamAssetEvents"
        return list(self.get(path)["asset_events"])

    # -- task instances -------------------------------------------------------------------------

    def _ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.get(self._ti_path(dag_id, run_id, task_id)))

    def wait_ti(self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float) -> str:
        """Poll until the task instance is in one of ``states`` (or terminal); returns its state."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            try:
                state = str(self.task_instance(dag_id, run_id, task_id)["state"])
            except APIError as err:
                if "HTTP 404" not in str(err):
                    raise
            if state in states or state in TERMINAL_TI_STATES:
                return state
            time.sleep(0.5)
        raise APIError(f"{dag_id}/{run_id}/{task_id} still {state!r} after {timeout:.0f}s (wanted {states})")

    def mark(self, dag_id: str, run_id: str, task_id: str, new_state: str) -> list[dict[str, Any]]:
        body = self.request("PATCH", self._ti_path(dag_id, run_id, task_id), json={"new_state": new_state})
        return list(body.get("task_instances", []))

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[dict[str, Any]]:
        """The task log as structured records (``event``, ``level``, ``logger``, ``timestamp``, ...)."""
        path = f"{self._ti_path(dag_id, run_id, task_id)}/logs/{try_number}"
        body = self.request(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        )
        content = body.get("content") or []
        return [entry if isinstance(entry, dict) else {"event": str(entry)} for entry in content]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        body = self.get(f"{self._ti_path(dag_id, run_id, task_id)}/xcomEntries/{_q(key)}", deserialize="true")
        return body["value"]

    # -- assets ---------------------------------------------------------------------------------

    def asset_events(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/assets/events", limit=100, **filters)["asset_events"])


def log_text(entries: list[dict[str, Any]]) -> str:
    """A log as plain lines (``[level] logger: event``), for FAIL messages."""
    return "\n".join(
        f"[{entry.get('level', '-')}] {entry.get('logger', '')}: {entry.get('event', '')}"
        for entry in entries
    )
