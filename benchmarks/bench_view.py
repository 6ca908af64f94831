"""How long the Rocky view takes to draw in headless Chromium, at 100, 1,000 and 10,000 tables.

A measurement, not a test (no bound is asserted). Each size is a real run: the stand-in's
``huge_stdout`` scenario with ``ROCKY_STANDIN_TABLES=<n>`` under the real ``RockyOperator``
(``push_full_result=True``), whose pushed XComs (summary and full result) are served by the view's own
app (``airflow_provider_rocky.ui.app.create_app``) under ``/rocky`` on a loopback uvicorn; only the
metadata-DB read and the access check are replaced (by the recorded XComs and "allowed"). Chromium
(chromedriver, e2e/webdriver.py) opens the page ``repeat`` times per size; the page reports, from its
own clock, the time from navigation start to drawn (``total``), the data request (``fetch``) and the
drawing (``draw``); then the time to draw the next page of the table list. Medians are printed.

    .venv/bin/python benchmarks/bench_view.py [--sizes 100 1000 10000] [--repeat 7]

Run it alone on the machine: another suite or benchmark beside it skews the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "e2e"))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="rocky-bench-view-"))
os.environ.setdefault("ROCKY_STANDIN_ALLOW_NO_CONFIG", "1")


#: Click "Next" in the table list; how long the page took to draw it (ms), or null with one page only.
NEXT_PAGE = (
    "const b = [...document.querySelectorAll('button')].find((x) => x.textContent.startsWith('Next'));"
    "if (!b || b.disabled) return null;"
    "const t = performance.now(); b.click(); return performance.now() - t;"
)


class _TI(SimpleNamespace):
    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def pushed_xcoms(tables: int, work: Path) -> dict[str, Any]:
    """What a real RockyOperator pushes for a ``tables``-table run (summary and full result)."""
    from airflow_provider_rocky.operators.rocky import RockyOperator
    from airflow_provider_rocky.testing import install_standin

    binary = install_standin(work / "bin")
    ti = _TI(dag_id="bench", run_id="manual__bench", task_id="rocky_run", map_index=-1, try_number=1)
    ti.pushed, ti.start_date = {}, None
    op = RockyOperator(
        task_id="rocky_run",
        binary_path=str(binary),
        project_dir=str(work),
        filter="source=orders",
        push_full_result=True,
        emit_assets=False,
        env_vars={"ROCKY_STANDIN_SCENARIO": "huge_stdout", "ROCKY_STANDIN_TABLES": str(tables)},
    )
    ti.pushed["return_value"] = op.execute({"ti": ti, "dag_run": SimpleNamespace(run_type="manual")})  # type: ignore[arg-type]
    return dict(ti.pushed)


def serve(records: dict[str, Any], port: int) -> Any:
    """The view's app under /rocky, reading ``records[task_id]``; access always allowed."""
    import uvicorn
    from fastapi import FastAPI

    from airflow_provider_rocky.ui.app import create_app
    from airflow_provider_rocky.ui.store import TaskRecord

    def load(key: Any) -> TaskRecord:
        xcoms = records[key.task_id]
        return TaskRecord(
            key,
            found=True,
            operator="RockyOperator",
            state="success",
            try_number=1,
            summary=xcoms["return_value"],
            full_result=xcoms.get("rocky_result"),
        )

    async def allow(request: Any, dag_id: str) -> None:
        return None

    outer = FastAPI()
    outer.mount("/rocky", create_app(load=load, authorize=allow))
    server = uvicorn.Server(uvicorn.Config(outer, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server


def measure(browser: Any, url: str, repeat: int) -> dict[str, float]:
    runs: dict[str, list[float]] = {"total": [], "fetch": [], "draw": [], "next_page": []}
    for _ in range(repeat):
        browser.get("about:blank")
        browser.get(url)
        browser.wait(
            "drawn", lambda: browser.script("return document.documentElement.dataset.rendered === 'true'")
        )
        timing = browser.script("return window.rockyTiming")
        runs["total"].append(timing["total_ms"])
        runs["fetch"].append(timing["fetch_ms"])
        runs["draw"].append(timing["draw_ms"])
        flip = browser.script(NEXT_PAGE)
        if flip is not None:
            runs["next_page"].append(flip)
    return {name: statistics.median(values) for name, values in runs.items() if values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from system import free_port
    from webdriver import Browser

    work = Path(tempfile.mkdtemp(prefix="rocky-bench-view-work-"))
    records = {}
    for size in args.sizes:
        xcoms = pushed_xcoms(size, work)
        records[f"full_{size}"] = xcoms
        records[f"summary_{size}"] = {"return_value": xcoms["return_value"]}
    port = free_port()
    server = serve(records, port)
    print("| tables | source | rows drawn | view JSON | navigation → drawn | fetch | draw | next page |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    try:
        with Browser(os.environ, width=1600, height=1000) as browser:
            for size in args.sizes:
                for source in ("summary", "full"):
                    url = f"http://127.0.0.1:{port}/rocky/view/bench/manual__bench/{source}_{size}/-1"
                    import httpx

                    body = httpx.get(url.replace("/view/", "/api/tasks/"), timeout=60)
                    rows = len(body.json()["tables"]["rows"])
                    m = measure(browser, url, args.repeat)
                    flip = f"{m['next_page']:.1f} ms" if "next_page" in m else "—"
                    print(
                        f"| {size:,} | {source} | {rows:,} | {len(body.content) / 1024:,.0f} KB | "
                        f"{m['total']:.0f} ms | {m['fetch']:.0f} ms | {m['draw']:.0f} ms | {flip} |",
                        flush=True,
                    )
    finally:
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
