"""Checks of RockyTaskGroup on the real deployment (e2e/dags/rocky_e2e_project.py), through REST.

* before any run, every table the group declares is an **active** asset (the Assets page lists it)
  and has no event; the example ``rocky_project`` DAG parses too;
* with the group's pool created with one slot, a run succeeds, no two of its tasks overlapped
  (task instance start/end through REST), every engine run exited 0 (the stand-in's record), and
  each table has exactly one asset event, ``fct_daily_orders``'s carrying its partition key;
* the seed node ran as ``rocky seed --filter country_codes`` and its table is in the warehouse;
* ``shape="one_run"``: one engine run, ``rocky run --dag``, exit 0; its XCom names every node's
  status (the test node skipped, the rest completed); each declared table has exactly one event,
  carrying its node;
* without the guard (``state_isolation="none"``), how many parallel branches hit the state lock
  (a NOTE: it depends on the scheduler's timing);
* the same group with every node deferrable, its pool created with the README's command
  (``airflow pools set <pool> 1 "rocky state" --include-deferred``): the run succeeds, every engine
  ran under the triggerer, and the stand-in's record shows no two engines on the state file at once
  (each start after the previous end: zero overlap);
* a screenshot of the group in the graph view, for the README (``e2e/screenshot-project-graph.png``).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
from api import log_text
from checks_runs import Ctx, expected_assets, run_check, wait_success
from deployment import ROCKY_TOML, Deployment
from report import CheckFailed, indent
from system import E2EError, ensure_debian_packages, free_port, signal_group

# Airflow-free: the driver reads the manifest as the group does; URIs come from the deployed provider.
from airflow_provider_rocky._project.graph import build_graph
from airflow_provider_rocky._project.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "example_dags" / "rocky_project_manifest.json"
GUARDED, UNGUARDED, DEFERRED = (
    "rocky_e2e_project",
    "rocky_e2e_project_unguarded",
    "rocky_e2e_project_deferred",
)
ONE_RUN = "rocky_e2e_project_one_run"
PROJECT_DAGS = (GUARDED, UNGUARDED, ONE_RUN, DEFERRED)
EXAMPLE = "rocky_project"
PROJECT_DIRS = {
    GUARDED: "project-graph",
    UNGUARDED: "project-graph-unguarded",
    ONE_RUN: "project-one-run",
    DEFERRED: "project-graph-deferred",
}
SCREENSHOT = Path(__file__).resolve().parent / "screenshot-project-graph.png"
RUN_TIMEOUT = 300.0
CHROMIUM = "/usr/bin/chromium"


def prepare(dep: Deployment) -> None:
    """Before the services start: the manifest beside the DAG files, and the two scratch projects."""
    shutil.copy(MANIFEST, dep.home / "dags" / MANIFEST.name)
    for name in PROJECT_DIRS.values():
        (dep.scratch / name).mkdir(exist_ok=True)
        (dep.scratch / name / "rocky.toml").write_text(ROCKY_TOML)


def declared(ctx: Ctx, dag_id: str, prefix: str = "project.") -> dict[str, str]:
    """Task id → declared asset URI: the manifest's tables, named by the deployed ``rocky_asset``.

    ``prefix``: the group's task prefix; a one-run group's one task declares all (keyed by node id).
    """
    namespace = f"duckdb://{ctx.dep.scratch / PROJECT_DIRS[dag_id]}/warehouse.duckdb"
    tasks = build_graph(load_manifest(MANIFEST)).tasks
    tables = {
        (f"{prefix}{t.task_id}" if prefix.endswith(".") else t.node.id): t.table.dotted
        for t in tasks
        if t.table
    }
    uris = expected_assets(ctx, sorted(set(tables.values())), namespace)
    return {task_id: uris[table][1] for task_id, table in tables.items()}


def check_assets_before_run(ctx: Ctx) -> str:
    """Declared tables are active assets before the first run; no events yet; the example parses."""
    if ctx.api.dag(EXAMPLE) is None:
        errors = [e for e in ctx.api.import_errors() if "rocky_project" in str(e.get("filename"))]
        raise CheckFailed(f"{EXAMPLE} did not parse", indent(json.dumps(errors, indent=2)))
    wanted = set(declared(ctx, GUARDED).values())
    deadline = time.monotonic() + 60
    active: set[str] = set()
    while time.monotonic() < deadline:
        assets = ctx.api.get("/api/v2/assets", limit=1000, only_active="true")["assets"]
        active = {str(a["uri"]) for a in assets} & wanted
        if active == wanted:
            break
        time.sleep(2)
    if active != wanted:
        raise CheckFailed("declared tables are not active assets", indent("\n".join(sorted(wanted - active))))
    if ctx.api.asset_events(source_dag_id=GUARDED):
        raise CheckFailed(f"{GUARDED} has asset events before it ever ran")
    return f"{len(wanted)} tables active before any run, 0 events"


def _intervals(ctx: Ctx, dag_id: str, run_id: str) -> list[tuple[str, str, str, str]]:
    tis = ctx.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")[
        "task_instances"
    ]
    return sorted((str(t["start_date"]), str(t["end_date"]), str(t["task_id"]), str(t["state"])) for t in tis)


def check_pooled_run(ctx: Ctx) -> str:
    """One slot per state file: the run succeeds, its tasks never overlap, one event per table."""
    tasks = ctx.api.get(f"/api/v2/dags/{GUARDED}/tasks")["tasks"]
    pools = {str(t["pool"]) for t in tasks}
    if len(pools) != 1:
        raise CheckFailed(f"the group's tasks use {len(pools)} pools: {sorted(pools)}")
    (pool,) = pools
    ctx.api.request("POST", "/api/v2/pools", json={"name": pool, "slots": 1, "description": "rocky state"})
    ctx.api.unpause(GUARDED)
    run_id = ctx.api.trigger(GUARDED)
    wait_success(ctx, GUARDED, run_id, RUN_TIMEOUT)
    spans = _intervals(ctx, GUARDED, run_id)
    for before, after in itertools.pairwise(spans):
        if after[0] < before[1]:
            raise CheckFailed(f"{after[2]} started before {before[2]} ended (pool {pool})")
    cwd = str(ctx.dep.scratch / PROJECT_DIRS[GUARDED])
    events = ctx.record.events()
    pids = {e["pid"] for e in events if e.get("event") == "start" and e.get("cwd") == cwd}
    codes = [e.get("exit_code") for e in events if e.get("event") == "end" and e.get("pid") in pids]
    if len(pids) != len(spans) or codes != [0] * len(pids):
        raise CheckFailed(f"{len(pids)} engine runs for {len(spans)} tasks, exit codes {codes}")
    seeds = [
        e["argv"]
        for e in events
        if e.get("event") == "start" and e.get("pid") in pids and "seed" in e["argv"]
    ]
    if [a[a.index("seed") :] for a in seeds] != [["seed", "--filter=country_codes"]]:
        raise CheckFailed(f"the seed node ran as {seeds}, not `rocky seed --filter=country_codes`")
    rows = _warehouse_rows(ctx, GUARDED, "marts.country_codes")
    _one_event_per_table(ctx, run_id)
    return (
        f"{len(spans)} tasks one after another in pool {pool} (1 slot), {len(pids)} engine runs exited 0; "
        f"the seed loaded {rows} rows with `rocky seed`"
    )


def _warehouse_rows(ctx: Ctx, dag_id: str, table: str) -> int:
    """Rows of ``table`` in the DAG's scratch project warehouse (read-only: the engine is done)."""
    path = ctx.dep.scratch / PROJECT_DIRS[dag_id] / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - a fixed name
    if not found or not found[0]:
        raise CheckFailed(f"{table} is empty or missing in {path}")
    return int(found[0])


def check_one_run(ctx: Ctx) -> str:
    """``shape="one_run"`` is the engine's own DAG run: one process, every node, one event per table."""
    ctx.api.unpause(ONE_RUN)
    run_id = ctx.api.trigger(ONE_RUN)
    wait_success(ctx, ONE_RUN, run_id, RUN_TIMEOUT)
    cwd = str(ctx.dep.scratch / PROJECT_DIRS[ONE_RUN])
    events = ctx.record.events()
    starts = [
        e
        for e in events
        if e.get("event") == "start" and e.get("cwd") == cwd and "--version" not in e["argv"]
    ]
    argvs = [e["argv"][e["argv"].index("run") :] for e in starts if "run" in e["argv"]]
    codes = [
        e.get("exit_code")
        for e in events
        if e.get("event") == "end" and e.get("pid") in {s["pid"] for s in starts}
    ]
    run_after = str(ctx.api.dag_run(ONE_RUN, run_id)["run_after"])[:10]  # the run's one daily partition
    if argvs != [["run", "--dag", f"--from={run_after}", f"--to={run_after}"]] or codes != [0]:
        raise CheckFailed(
            f"engine runs {argvs}, exit codes {codes}: expected one `rocky run --dag --from={run_after} "
            f"--to={run_after}`, exit 0"
        )
    summary = ctx.api.xcom(ONE_RUN, run_id, "project.run_all")
    counts = (summary.get("completed"), summary.get("failed"), summary.get("skipped"))
    if counts != (13, 0, 1) or summary["nodes_skipped"][0]["id"] != "test:fct_daily_orders":
        raise CheckFailed(
            f"node counts {counts}: expected 13 completed, 1 skipped (the test node)", str(summary)
        )
    found = ctx.api.asset_events(source_dag_id=ONE_RUN, source_run_id=run_id)
    wanted = set(declared(ctx, ONE_RUN, prefix="project.run_all").values())
    by_uri: dict[str, list[dict[str, Any]]] = {}
    for event in found:
        by_uri.setdefault(str(event["uri"]), []).append(event)
    if set(by_uri) != wanted or any(len(evs) != 1 for evs in by_uri.values()):
        raise CheckFailed(f"events {sorted(by_uri)} for declared {sorted(wanted)}")
    nodes = sorted(str((evs[0].get("extra") or {}).get("rocky_node")) for evs in by_uri.values())
    rows = _warehouse_rows(ctx, ONE_RUN, "marts.country_codes")
    return (
        f"one `rocky run --dag --from={run_after} --to={run_after}`, exit 0: 13 nodes completed, 1 skipped; "
        f"{len(wanted)} events "
        f"({', '.join(nodes)}); seed rows {rows}"
    )


def _one_event_per_table(ctx: Ctx, run_id: str) -> None:
    found = ctx.api.asset_events(source_dag_id=GUARDED, source_run_id=run_id)
    by_uri: dict[str, list[dict[str, Any]]] = {}
    for event in found:
        by_uri.setdefault(str(event["uri"]), []).append(event)
    wanted = declared(ctx, GUARDED)
    wrong = {uri: len(by_uri.get(uri, [])) for uri in wanted.values() if len(by_uri.get(uri, [])) != 1}
    doubled = {uri: len(evs) for uri, evs in by_uri.items() if len(evs) > 1}
    if wrong or doubled:
        raise CheckFailed(f"events per table: declared {wrong}, repeated {doubled}")
    (fct,) = by_uri[wanted["project.fct_daily_orders"]]
    run_after = str(ctx.api.dag_run(GUARDED, run_id)["run_after"])[:10]
    extra = fct.get("extra") or {}
    if extra.get("partition_key") != run_after or fct.get("partition_key") not in (None, run_after):
        raise CheckFailed(f"fct_daily_orders partition {extra.get('partition_key')!r}, run after {run_after}")


def check_deferred_pooled_run(ctx: Ctx) -> str:
    """Deferrable nodes under the README's pool: never two engines on one state file at once."""
    tasks = ctx.api.get(f"/api/v2/dags/{DEFERRED}/tasks")["tasks"]
    (pool,) = {str(t["pool"]) for t in tasks}
    ctx.dep.airflow("pools", "set", pool, "1", "rocky state", "--include-deferred")  # README, as written
    if not ctx.api.get(f"/api/v2/pools/{quote(pool, safe='')}").get("include_deferred"):
        raise CheckFailed(f"pool {pool} does not count deferred tasks")
    ctx.api.unpause(DEFERRED)
    run_id = ctx.api.trigger(DEFERRED)
    wait_success(ctx, DEFERRED, run_id, RUN_TIMEOUT)
    spans = engine_spans(ctx, str(ctx.dep.scratch / PROJECT_DIRS[DEFERRED]))
    services = {service for _start, _end, _pid, service in spans}
    if len(spans) != len(tasks) or not all(s.startswith("triggerer") for s in services):
        raise CheckFailed(f"{len(spans)} engine runs for {len(tasks)} deferrable tasks, run by {services}")
    overlaps = [
        f"pid {b[2]} started {b[0] - a[1]:+.2f}s after pid {a[2]} ended"
        for a, b in itertools.pairwise(spans)
        if b[0] < a[1]
    ]
    if overlaps:
        raise CheckFailed(
            f"{len(overlaps)} overlapping engine runs on one state file", indent("\n".join(overlaps))
        )
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    return (
        f"{len(spans)} deferred engine runs under {services}, pool {pool} (1 slot, deferred counted): "
        f"overlap 0, smallest gap {min(gaps):.2f}s"
    )


def engine_spans(ctx: Ctx, cwd: str) -> list[tuple[float, float, int, str]]:
    """(start, end, pid, service) of every engine run in ``cwd`` (``--version`` probes aside), by start."""
    events = ctx.record.events()
    starts = {
        e["pid"]: e
        for e in events
        if e.get("event") == "start" and e.get("cwd") == cwd and "--version" not in (e.get("argv") or [])
    }
    ends = {e["pid"]: e for e in events if e.get("event") == "end" and e.get("pid") in starts}
    if set(ends) != set(starts) or any("time" not in e for e in ends.values()):
        raise CheckFailed(f"{len(starts)} engine starts, {len(ends)} timed ends in the stand-in's record")
    return sorted(
        (
            float(starts[pid]["time"]),
            float(ends[pid]["time"]),
            int(pid),
            str((starts[pid].get("env") or {}).get("ROCKY_E2E_SERVICE", "?")),
        )
        for pid in starts
    )


def note_unguarded(ctx: Ctx) -> None:
    """Without the guard, parallel branches of one state file: how many hit the lock (timing-dependent)."""
    ctx.api.unpause(UNGUARDED)
    run_id = ctx.api.trigger(UNGUARDED)
    state = ctx.api.wait_run(UNGUARDED, run_id, RUN_TIMEOUT)
    locked = []
    for _start, _end, task_id, ti_state in _intervals(ctx, UNGUARDED, run_id):
        if ti_state == "failed":
            text = log_text(ctx.api.log(UNGUARDED, run_id, task_id))
            if "locked by another process" in text:
                locked.append(task_id)
    ctx.rep.note(
        f"unguarded group (state_isolation='none'): run {state}; {len(locked)} task(s) failed on the "
        f"state lock{': ' + ', '.join(locked) if locked else ''}"
    )


def _page(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
            for page in pages:
                if page.get("type") == "page":
                    return str(page["webSocketDebuggerUrl"])
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise E2EError("chromium's DevTools endpoint did not come up")


def capture_with_storage(
    origin: str,
    storage: Mapping[str, Any],
    url: str,
    target: Path,
    env: Mapping[str, str],
    settle: float = 10,
) -> str:
    """Screenshot ``url`` after setting ``localStorage`` of ``origin`` (JSON values), over DevTools.

    The UI keeps its grid/graph choice in ``localStorage`` (``default_dag_view``), not in the URL.
    """
    from websockets.sync.client import connect

    ensure_debian_packages({"chromium": CHROMIUM})
    port, profile = free_port(), Path(tempfile.mkdtemp(prefix="rocky-e2e-chromium-"))
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--remote-debugging-port={port}",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        "about:blank",
    ]
    proc = subprocess.Popen(
        argv,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with connect(_page(port), max_size=None, open_timeout=30) as ws:
            ids = iter(range(1, 1000))

            def call(method: str, **params: Any) -> dict[str, Any]:
                ident = next(ids)
                ws.send(json.dumps({"id": ident, "method": method, "params": params}))
                while True:
                    reply = json.loads(ws.recv(timeout=60))
                    if reply.get("id") == ident:
                        return dict(reply.get("result") or {})

            call("Page.enable")
            call("Page.navigate", url=origin)
            time.sleep(3)
            script = "".join(
                f"localStorage.setItem({json.dumps(k)}, {json.dumps(json.dumps(v))});"
                for k, v in storage.items()
            )
            call("Runtime.evaluate", expression=script)
            call("Page.navigate", url=url)
            time.sleep(settle)
            shot = base64.b64decode(call("Page.captureScreenshot", format="png")["data"])
        target.write_bytes(shot)
        return f"{target.name}: {len(shot) // 1024} KB, {url}"
    finally:
        signal_group(proc.pid, signal.SIGKILL, wait=5)
        proc.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)


def screenshot_graph(ctx: Ctx, run_id: str) -> str:
    url = f"{ctx.dep.api_url}/dags/{GUARDED}/runs/{quote(run_id, safe='')}"
    storage = {"default_dag_view": "graph", f"{GUARDED}/open-groups": ["project"]}  # the group expanded
    return capture_with_storage(ctx.dep.api_url, storage, url, SCREENSHOT, ctx.dep.env)


def project_checks(ctx: Ctx) -> None:
    """Registered in run.py after the other scenarios: the group before, during and after a run."""
    if not run_check(
        ctx, "project: the group's tables are active assets before its first run", check_assets_before_run
    ):
        return
    info = run_check(
        ctx,
        "project: one pool slot per state file, tasks never overlap, one event per table",
        check_pooled_run,
    )
    run_check(
        ctx,
        "project: shape='one_run' is one `rocky run --dag`, every node, one event per table",
        check_one_run,
    )
    note_unguarded(ctx)
    run_check(
        ctx,
        "project: deferrable nodes under the README's pool (--include-deferred): zero engine overlap",
        check_deferred_pooled_run,
    )
    if info:
        runs = ctx.api.dag_runs(GUARDED)
        try:
            ctx.rep.ok(
                "screenshot of the project group's graph view",
                screenshot_graph(ctx, str(runs[-1]["dag_run_id"])),
            )
        except (E2EError, OSError, TimeoutError) as err:
            ctx.rep.skip("screenshot of the project group's graph view", str(err))
