"""The Rocky view on the real deployment: drawn in headless Chromium, and closed to strangers.

The deployment's api-server runs SimpleAuthManager with ``simple_auth_manager_all_admins``, under
which Airflow itself adds an admin token to *every* request (its ``SimpleAllAdminMiddleware``): nothing
can be refused there, Airflow's own REST API included. So both checks run against a second api-server
on the same database with real authentication (``all_admins`` off, one user ``reviewer`` with the
``viewer`` role and a password of this run), started here and stopped in ``finally``.

* render: the task-instance page's "Rocky" tab (``/dags/<dag>/runs/<run>/tasks/rocky_run/plugin/rocky``)
  of a partial run, opened in Chromium through chromedriver with the session cookie (``_token``) that
  Airflow's login hands out for ``reviewer``: the UI shows the plugin's page in an iframe, whose data
  request carries that cookie. Ground truth is Airflow's own REST API: every table the XCom summary
  names, and the failed table's error, must be on the drawn page. It also follows the UI into dark
  mode, and is saved as ``e2e/screenshot-rocky-view.png`` (and ``-dark.png``).
* refusal: the data endpoint answers 401 without a token and 403 with a forged one, 200 with
  ``reviewer``'s token.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from checks_runs import Ctx
from deployment import Deployment, wait_until
from report import CheckFailed
from screenshot import task_log_url
from system import E2EError, Service, api_server_argv, free_port
from webdriver import Browser

E2E = Path(__file__).resolve().parent
SCREENSHOT = E2E / "screenshot-rocky-view.png"
SCREENSHOT_DARK = E2E / "screenshot-rocky-view-dark.png"
DAG_ID = "rocky_e2e_view"
TASK_ID = "rocky_run"
#: The view's own data endpoint for a task instance (ui/app.py).
DATA = "/rocky/api/tasks/{dag}/{run}/{task}/-1"


USER = "reviewer"


@contextlib.contextmanager
def secured_api_server(dep: Deployment) -> Iterator[tuple[str, str]]:
    """A second api-server with real authentication; yields its URL and ``reviewer``'s JWT."""
    port, password = free_port(), uuid.uuid4().hex
    url = f"http://127.0.0.1:{port}"
    passwords = dep.base / "view-passwords.json"
    passwords.write_text(json.dumps({USER: password}))
    env = {
        **dep.env,
        "ROCKY_E2E_SERVICE": "api-server-auth",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__PORT": str(port),
    }
    argv = api_server_argv(dep.bindir / "airflow", port)
    service = Service("api-server-auth", argv, env, dep.logs / "api-server-auth.log")
    service.start()
    try:
        with httpx.Client(base_url=url, timeout=10) as client:

            def healthy() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return client.get("/api/v2/monitor/health").status_code == 200
                return False

            if not wait_until(healthy, 120, 1.0):
                raise E2EError(f"the authenticated api-server did not come up:\n{service.describe()}")
            login = client.post("/auth/token", json={"username": USER, "password": password})
            if login.status_code not in (200, 201):
                raise E2EError(f"POST /auth/token as {USER}: HTTP {login.status_code}: {login.text[:300]}")
        yield url, str(login.json()["access_token"])
    finally:
        service.stop(grace=30)


def data_url(api_url: str, run_id: str) -> str:
    return api_url + DATA.format(dag=quote(DAG_ID, safe=""), run=quote(run_id, safe=""), task=TASK_ID)


def _expected(ctx: Ctx, run_id: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The tables and (failed table, error) pairs, as Airflow's REST API gives the XCom summary."""
    summary = ctx.api.xcom(DAG_ID, run_id, TASK_ID)
    if not isinstance(summary, dict):
        raise CheckFailed(f"return_value is not a JSON object: {summary!r}")
    tables = [str(m["table"]) for m in summary.get("materializations") or []]
    errors = [(str(e["table"]), str(e["message"])) for e in summary.get("errors") or []]
    if not tables or not errors:
        raise CheckFailed(f"the partial run should have landed and failed tables: {summary!r}")
    return tables, errors


def _open_tab(browser: Browser, url: str) -> dict[str, str]:
    """Open the Rocky tab and wait until its page has drawn; returns the iframe element."""
    browser.get(url)
    frame = browser.wait("the Rocky tab's iframe", lambda: browser.find('iframe[title="Rocky"]'), 120)
    browser.frame(frame)
    browser.wait(
        "the Rocky view drawn",
        lambda: browser.script("return document.documentElement.dataset.rendered === 'true'"),
        60,
    )
    return frame


def _set_ui_theme(browser: Browser, frame: dict[str, str], theme: str) -> str:
    """Switch the Airflow UI's theme class (what its toggle does) and wait for the view to follow."""
    browser.frame(None)
    browser.script(
        "const c = document.documentElement.classList; c.remove('light', 'dark'); c.add(arguments[0]);", theme
    )
    browser.frame(frame)
    return str(
        browser.wait(
            f"the view in {theme} mode",
            lambda: browser.script("return document.documentElement.dataset.theme") == theme and theme,
            10,
        )
    )


def _follow_asset_link(browser: Browser, frame: dict[str, str]) -> str:
    """Click the landed table's asset link: the UI around the iframe must open Airflow's asset page."""
    browser.frame(frame)
    if not browser.script("const a = document.querySelector('td.asset a'); if (a) a.click(); return !!a;"):
        raise CheckFailed("no asset link on the landed table's row")
    browser.frame(None)
    return str(
        browser.wait(
            "Airflow's asset page",
            lambda: (path := str(browser.script("return location.pathname"))).startswith("/assets/") and path,
            30,
        )
    )


def check_view_render(ctx: Ctx, run_id: str, server: tuple[str, str]) -> str:
    try:
        return _render(ctx, run_id, server)
    except E2EError as err:  # the browser could not be installed or driven
        raise CheckFailed(str(err)) from err


def _render(ctx: Ctx, run_id: str, server: tuple[str, str]) -> str:
    tables, errors = _expected(ctx, run_id)
    api_url, jwt = server
    url = task_log_url(api_url, DAG_ID, run_id, TASK_ID) + "/plugin/rocky"
    with Browser(ctx.dep.env, width=1600, height=1250) as browser:
        browser.get(f"{api_url}/rocky/static/rocky.svg")  # on the origin first: a cookie belongs to it
        browser.add_cookie("_token", jwt)  # what Airflow's login sets for the browser
        frame = _open_tab(browser, url)
        text = str(browser.script("return document.getElementById('rocky-view').innerText"))
        timing: dict[str, Any] = browser.script("return window.rockyTiming || {}") or {}
        missing = [f"table {t}" for t in tables if t not in text]
        missing += [f"failed table {t}" for t, _ in errors if t.split(".")[-1] not in text]
        missing += [f"error {m[:60]!r}" for _, m in errors if m[:60] not in text]
        if missing:
            raise CheckFailed(f"not on the drawn page: {', '.join(missing)}", text[:2000])
        _set_ui_theme(browser, frame, "dark")
        browser.frame(None)
        dark = browser.screenshot(SCREENSHOT_DARK)
        _set_ui_theme(browser, frame, "light")
        browser.frame(None)
        width, height, size = browser.screenshot(SCREENSHOT)
        asset_page = _follow_asset_link(browser, frame)
    drawn = f"{timing.get('total_ms', 0):.0f} ms from navigation, {timing.get('draw_ms', 0):.0f} ms to draw"
    shots = (
        f"{SCREENSHOT.name} {width}x{height} {size // 1024} KB, {SCREENSHOT_DARK.name} {dark[2] // 1024} KB"
    )
    found = f"{len(tables)} landed and {len(errors)} failed table(s) with the error on the page"
    return f"{found}; follows dark mode; its asset link opens {asset_page}; {drawn}; {shots}"


def check_view_refuses_strangers(ctx: Ctx, run_id: str, server: tuple[str, str]) -> str:
    api_url, jwt = server
    url = data_url(api_url, run_id)
    with httpx.Client(timeout=30) as client:
        anonymous = client.get(url)
        forged = client.get(url, headers={"Authorization": "Bearer forged.not-a.jwt"})
        signed_in = client.get(url, headers={"Authorization": f"Bearer {jwt}"})
    got = (anonymous.status_code, forged.status_code, signed_in.status_code)
    if got != (401, 403, 200):
        raise CheckFailed(
            f"anonymous / forged / {USER} answered {got}, expected (401, 403, 200)", anonymous.text
        )
    if "rows" in anonymous.text or "tables" in anonymous.text or not signed_in.json().get("found"):
        raise CheckFailed(f"the refusal carries data, or {USER}'s answer none", anonymous.text[:500])
    return f"GET {DATA} with authentication on: no token 401, a forged token 403, {USER}'s token 200"
