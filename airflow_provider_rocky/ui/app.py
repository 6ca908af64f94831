"""The view's FastAPI app, mounted by Airflow's api-server under ``/rocky`` (``plugin.py``).

Routes (all ``GET``; the app has no other method, so it cannot change anything):

* ``/view/{dag_id}/{run_id}/{task_id}/{map_index}``: the page, a static HTML shell (no data in it),
  which Airflow's task-instance tab shows in an iframe; its script fetches the data below.
* ``/static/...``: the page's script, style sheet and icons, shipped in the package (no CDN).
* ``/api/tasks/{dag_id}/{run_id}/{task_id}/{map_index}``: the task's view as JSON, only for a user
  the auth manager allows to read that DAG's XComs and task instances (``auth.py``): 401 without a
  token, 403 when refused, 404 when there is no such task instance.

``map_index`` may be the literal ``{MAP_INDEX}``: the UI leaves the placeholder in the iframe's URL
for a task that is not mapped (Airflow 3.1 and 3.3 alike), and that means -1. Every response carries
``X-Content-Type-Options: nosniff``; the page a Content-Security-Policy that allows only its own
scripts, styles, images and requests and framing by Airflow's own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from airflow_provider_rocky.ui import auth, model, store

__all__ = ["STATIC", "create_app", "map_index_of"]

STATIC = Path(__file__).resolve().parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
#: Placeholders the UI may leave in the iframe URL (an unmapped task has no ``{MAP_INDEX}`` to fill).
UNMAPPED = frozenset({"", "-1", "{MAP_INDEX}", "%7BMAP_INDEX%7D"})

Loader = Callable[[store.TaskKey], store.TaskRecord]
Authorizer = Callable[[Request, str], Awaitable[Any]]


def map_index_of(text: str) -> int | None:
    """The map index in the URL: ``-1`` for an unmapped task (or the unfilled placeholder)."""
    if text in UNMAPPED:
        return -1
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= -1 else None


def _refused(refusal: auth.AccessRefused) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if refusal.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": refusal.detail}, status_code=refusal.status, headers=headers)


def create_app(load: Loader = store.load, authorize: Authorizer = auth.authorize) -> FastAPI:
    """The app; ``load`` and ``authorize`` are the DB reader and the access check (swapped by benchmarks)."""
    app = FastAPI(title="Rocky view", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/view/{dag_id}/{run_id}/{task_id}/{map_index}", include_in_schema=False)
    async def page(dag_id: str, run_id: str, task_id: str, map_index: str) -> Response:
        headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
        return FileResponse(STATIC / "view.html", media_type="text/html", headers=headers)

    @app.get("/api/tasks/{dag_id}/{run_id}/{task_id}/{map_index}")
    async def task_view(request: Request, dag_id: str, run_id: str, task_id: str, map_index: str) -> Response:
        try:
            await authorize(request, dag_id)
        except auth.AccessRefused as refusal:
            return _refused(refusal)
        index = map_index_of(map_index)
        if index is None:
            return JSONResponse({"detail": f"map_index {map_index!r} is not a number"}, status_code=400)
        key = store.TaskKey(dag_id, run_id, task_id, index)
        record = await run_in_threadpool(load, key)
        if not record.found:
            detail = f"No task instance {task_id!r} (map index {index}) in run {run_id!r} of DAG {dag_id!r}."
            return JSONResponse({"detail": detail}, status_code=404, headers={"Cache-Control": "no-store"})
        view = await run_in_threadpool(model.build, record)
        return JSONResponse(view, headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
