"""The Rocky view on Airflow 3.1 (the lowest supported), drawn by that version's own UI: `make e2e-view-31`.

`make e2e` runs Airflow 3.3. This runs the lowest environment (`.venv-lowest`, Airflow 3.1.8) as a
person would try it: a throwaway AIRFLOW_HOME on SQLite, `airflow db migrate`, `airflow dags test` of
a partial run (the stand-in's `partial` scenario), then `airflow api-server` (SimpleAuthManager with
`all_admins`) and headless Chromium on the task's "Rocky" tab. 3.1's UI puts the run id into the
iframe's URL unencoded (`+`, `:`) and leaves `{MAP_INDEX}` unfilled, which the view reads; it checks
that both tables and the failed table's error are drawn. One PASS/FAIL line naming "rocky view";
`e2e/screenshot-rocky-view-airflow31.png`. Everything started is ended by process group.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from system import ROOT, E2EError, api_server_argv, free_port, run, signal_group
from webdriver import Browser

LOWEST = ROOT / ".venv-lowest" / "bin"
SHOT = Path(__file__).resolve().parent / "screenshot-rocky-view-airflow31.png"
DAG = """from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_rocky.operators.rocky import RockyOperator
with DAG("rocky_view_31", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    RockyOperator(
        task_id="rocky_run", filter="source=orders", binary_path={binary!r}, project_dir={project!r},
        env_vars={{"ROCKY_STANDIN_SCENARIO": "partial", "ROCKY_STANDIN_DELAY": "0"}},
    )
"""


def prepare(base: Path, port: int) -> tuple[dict[str, str], str]:
    """AIRFLOW_HOME, the stand-in, the DAG; migrate and run it once. Returns (env, run id)."""
    home, project = base / "home", base / "project"
    (home / "dags").mkdir(parents=True)
    project.mkdir()
    (project / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ROCKY_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    }
    code = (
        "import sys; from airflow_provider_rocky.testing import install_standin as i; print(i(sys.argv[1]))"
    )
    binary = run([str(LOWEST / "python"), "-c", code, str(base / "bin")], env=env).strip()
    (home / "dags" / "rocky_view_31.py").write_text(DAG.format(binary=binary, project=str(project)))
    run([str(LOWEST / "airflow"), "db", "migrate"], env=env, timeout=600)
    out = run([str(LOWEST / "airflow"), "dags", "test", "rocky_view_31"], env=env, timeout=600)
    found = re.search(r"manual__[0-9T:.+-]+", out)
    if not found:
        raise E2EError(f"no run id in `airflow dags test`'s output:\n{out[-2000:]}")
    return env, found.group(0)


def draw(env: dict[str, str], port: int, run_id: str) -> str:
    """Start the 3.1 api-server, open the Rocky tab in Chromium, check what is drawn."""
    api = f"http://127.0.0.1:{port}"
    log = open(Path(env["AIRFLOW_HOME"]) / "api-server.log", "w")  # noqa: SIM115 - closed in finally
    argv = api_server_argv(LOWEST / "airflow", port)
    server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        url = f"{api}/dags/rocky_view_31/runs/{quote(run_id, safe='')}/tasks/rocky_run/plugin/rocky"
        with Browser(env, width=1600, height=1000) as browser:
            browser.get(url)  # 3.1's all-admins login lands on the home page: open the tab again after it
            browser.wait("the UI signed in", lambda: browser.script("return location.pathname") == "/", 60)
            browser.get(url)
            frame = browser.wait("the Rocky tab's iframe", lambda: browser.find('iframe[title="Rocky"]'), 120)
            src = str(
                browser.script("return document.querySelector('iframe[title=\"Rocky\"]').getAttribute('src')")
            )
            browser.frame(frame)
            browser.wait(
                "drawn",
                lambda: browser.script("return document.documentElement.dataset.rendered === 'true'"),
                60,
            )
            text = str(browser.script("return document.getElementById('rocky-view').innerText"))
            browser.frame(None)
            browser.screenshot(SHOT)
        wanted = (
            "warehouse.staging__orders.orders",
            "warehouse.staging__orders.order_items",
            "discount_code",
        )
        missing = [w for w in wanted if w not in text]
        if missing:
            raise E2EError(f"not drawn: {missing}\n{text[:1500]}")
        return f"iframe {src}; both tables and the failed table's error drawn; {SHOT.name}"
    finally:
        signal_group(server.pid, signal.SIGTERM, wait=30) or signal_group(server.pid, signal.SIGKILL, wait=5)
        server.wait(timeout=10)
        log.close()


def main() -> int:
    if not (LOWEST / "airflow").exists():
        print(
            "FAIL rocky view on Airflow 3.1: .venv-lowest is missing (make .venv-lowest/.synced)", flush=True
        )
        return 1
    version = run([str(LOWEST / "python"), "-c", "import airflow; print(airflow.__version__)"]).strip()
    base = Path(tempfile.mkdtemp(prefix="rocky-view-31-"))
    port = free_port()
    try:
        env, run_id = prepare(base, port)
        info = draw(env, port, run_id)
    except (E2EError, OSError, httpx.HTTPError) as err:
        print(f"FAIL rocky view on Airflow {version}: {err}", flush=True)
        print(f"# kept {base}", flush=True)
        return 1
    print(f"PASS rocky view on Airflow {version}: the Rocky tab draws a partial run ({info})", flush=True)
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
