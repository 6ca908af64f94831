"""The real Airflow api-server app in-process (``create_app``), with the Rocky plugin mounted by Airflow
itself from the package's entry point, and tokens from the configured auth manager."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_helpers import run_dag


def api_client(auth_manager: str | None = None) -> Any:
    """A TestClient of Airflow's own API app (``create_app("core")``), under ``auth_manager`` if given."""
    from airflow.api_fastapi.app import create_app
    from airflow.configuration import conf
    from fastapi.testclient import TestClient

    if auth_manager is not None:
        conf.set("core", "auth_manager", auth_manager)
    return TestClient(create_app("core"))


@contextlib.contextmanager
def auth_manager(classpath: str) -> Iterator[Any]:
    """The API app under another auth manager; the configured one is back afterwards."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.configuration import conf

    before = conf.get("core", "auth_manager")
    try:
        yield api_client(classpath)
    finally:
        conf.set("core", "auth_manager", before)
        init_auth_manager()


def token(username: str = "admin", role: str = "admin", expires: int | None = None) -> str:
    """A JWT the configured auth manager issues (what the UI holds in its ``_token`` cookie)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    user = SimpleAuthManagerUser(username=username, role=role)
    manager = get_auth_manager()
    if expires is None:
        return str(manager.generate_jwt(user))
    return str(manager.generate_jwt(user, expiration_time_in_seconds=expires))


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def view_url(dag_id: str, run_id: str, task_id: str, map_index: str = "-1") -> str:
    from urllib.parse import quote

    parts = "/".join(quote(part, safe="") for part in (dag_id, run_id, task_id))
    return f"/rocky/api/tasks/{parts}/{map_index}"


_RUNS: dict[str, str] = {}


def run_once(dag_id: str) -> str:
    """``dag.test()`` tests/dags/rocky_view.py's ``dag_id`` once per session; its run id."""
    if dag_id not in _RUNS:
        _RUNS[dag_id] = run_dag("rocky_view", dag_id, task_id="rocky_run").run_id
    return _RUNS[dag_id]
