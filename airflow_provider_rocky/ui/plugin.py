"""``RockyViewPlugin``: the Rocky tab on Airflow's task-instance page (Airflow 3.1+ UI plugins).

Registered the way providers register plugins: the ``airflow.plugins`` entry point (what Airflow
loads by default) and ``plugins`` in the provider info (what it loads with
``[core] lazy_discover_providers = False``; the same name, so it is loaded once). It declares

* a FastAPI app, mounted by the api-server under ``/rocky`` (``app.py``): the page and its data API;
* an external view with destination ``task_instance``: a "Rocky" tab on every task instance's page,
  showing ``/rocky/view/{DAG_ID}/{RUN_ID}/{TASK_ID}/{MAP_INDEX}`` in an iframe (the UI fills the
  placeholders; a task that is not Rocky's says so in the tab).

Why an external view and not a React app: both 3.1 and 3.3 offer the ``task_instance`` destination
for both, but a React app must be a JavaScript bundle built against the UI's React (a Node toolchain
in CI and in the two commands); an iframe page of plain HTML, CSS and JavaScript ships as
package data and needs nothing at build time or at run time (docs/ui.md).

Cheap to load: Airflow loads plugins in every component (the task runner too, for macros), so this
module imports no FastAPI; the app is built on its first request (:class:`LazyApp`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

__all__ = ["URL_PREFIX", "LazyApp", "RockyViewPlugin", "external_view"]

#: Where the api-server mounts the app (not one of Airflow's reserved prefixes).
URL_PREFIX = "/rocky"
#: The tab's route in the UI: ``/dags/<dag>/runs/<run>/tasks/<task>/plugin/rocky``.
URL_ROUTE = "rocky"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazyApp:
    """An ASGI app that builds the real one (FastAPI) on its first call, in the api-server only."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            from airflow_provider_rocky.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


def _base_path() -> str:
    """The path Airflow is served under (``[api] base_url``), as cosmos's dbt-docs view computes it."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def external_view(base: str = "") -> dict[str, Any]:
    """The tab: every task instance's page, ``{DAG_ID}``... filled in by the UI."""
    root = f"{base}{URL_PREFIX}"
    return {
        "name": "Rocky",
        "href": f"{root}/view/{{DAG_ID}}/{{RUN_ID}}/{{TASK_ID}}/{{MAP_INDEX}}",
        "destination": "task_instance",
        "url_route": URL_ROUTE,
        "icon": f"{root}/static/rocky.svg",
        "icon_dark_mode": f"{root}/static/rocky-dark.svg",
    }


class RockyViewPlugin(AirflowPlugin):
    """What a Rocky task did, on its own tab of the task-instance page."""

    name = "rocky"
    fastapi_apps = [{"name": "rocky_view", "app": LazyApp(), "url_prefix": URL_PREFIX}]  # noqa: RUF012
    external_views = [external_view()]  # noqa: RUF012 - completed with the base path in on_load

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Put the deployment's base path in front of the tab's URLs (read once, when Airflow loads it)."""
        cls.external_views = [external_view(_base_path())]
