"""The plugin is registered the way providers register plugins, and Airflow serves it as declared."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pytest
from view_helpers import api_client, bearer, token

HREF = "/rocky/view/{DAG_ID}/{RUN_ID}/{TASK_ID}/{MAP_INDEX}"


@pytest.fixture(scope="module")
def api(airflow_db: Any) -> Iterator[Any]:
    yield api_client()


def test_the_airflow_plugins_entry_point_and_provider_info_name_the_plugin() -> None:
    from airflow_provider_rocky.get_provider_info import get_provider_info
    from airflow_provider_rocky.ui.plugin import RockyViewPlugin

    (found,) = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "rocky"]
    assert found.load() is RockyViewPlugin
    assert get_provider_info()["plugins"] == [
        {"name": "rocky", "plugin-class": "airflow_provider_rocky.ui.plugin.RockyViewPlugin"}
    ]


def test_airflow_lists_the_plugin_with_its_task_instance_tab(api: Any) -> None:
    """Airflow's own REST API (what the UI reads to draw its tabs)."""
    response = api.get("/api/v2/plugins", headers=bearer(token()))
    (plugin,) = [p for p in response.json()["plugins"] if p["name"] == "rocky"]
    (view,) = plugin["external_views"]
    assert view["destination"] == "task_instance" and view["url_route"] == "rocky"
    assert view["href"] == HREF and view["name"] == "Rocky"
    assert plugin["fastapi_apps"] == [
        {"name": "rocky_view", "url_prefix": "/rocky", "app": "airflow_provider_rocky.ui.plugin.LazyApp"}
    ]


def test_the_tab_follows_the_deployments_base_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_rocky.ui.plugin import RockyViewPlugin, external_view

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    before = RockyViewPlugin.external_views
    try:
        RockyViewPlugin.on_load()
        assert RockyViewPlugin.external_views[0]["href"] == f"/team-a{HREF}"
        assert RockyViewPlugin.external_views[0]["icon"] == "/team-a/rocky/static/rocky.svg"
    finally:
        RockyViewPlugin.external_views = before
    assert external_view()["href"] == HREF


def test_the_page_and_its_files_are_served_without_data_and_with_a_strict_policy(api: Any) -> None:
    page = api.get("/rocky/view/some_dag/some_run/some_task/%7BMAP_INDEX%7D")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy
        and "frame-ancestors 'self'" in policy
        and "connect-src 'self'" in policy
    )
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("view.js", "javascript"), ("view.css", "text/css"), ("rocky.svg", "image/svg+xml")):
        asset = api.get(f"/rocky/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    script = api.get("/rocky/static/view.js").text
    assert "innerHTML" not in script and "https://" not in script  # text only, nothing off this origin
    assert script.replace('"http://www.w3.org/2000/svg"', "").count("http://") == 0


def test_loading_the_plugin_imports_no_web_framework() -> None:
    """Airflow loads plugins in every component (the task runner too): the app is built on first use."""
    code = (
        "import sys; import airflow_provider_rocky.ui.plugin as p; p.RockyViewPlugin.on_load(); "
        "print(sorted(m for m in ('fastapi', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
