"""Checks of ``RockyTaskGroup(shape="watch")`` on the real deployment (e2e/dags/rocky_e2e_project_watch.py).

* a run with one failing model (the stand-in fails ``dim_customers`` in its first build): through
  REST, the producer succeeded, ``dim_customers`` failed with the engine's report in its log,
  its three descendants are ``upstream_failed``, the rest succeeded; nodes finished while the
  engine still ran (their tasks ended before the producer's); exactly one engine run (the
  stand-in's record); asset events only for tables that landed, one each;
* a graph-view screenshot of that run, for the README (``e2e/screenshot-watch-graph.png``);
* a clear of the failed node (with its downstream, as the UI offers): the run ends ``success``,
  ``dim_customers`` on its second try, built alone (``rocky run --model dim_customers``), the nodes
  the engine skipped behind it built alone too, and no second whole-project run; one event per
  table in the run, the table in the warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
from api import log_text
from checks_project import capture_with_storage
from checks_runs import Ctx, expected_assets, run_check
from deployment import ROCKY_TOML, Deployment
from report import CheckFailed, indent

from airflow_provider_rocky._project.graph import build_graph
from airflow_provider_rocky._project.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "example_dags" / "rocky_project_manifest.json"
DAG_ID = "rocky_e2e_project_watch"
PROJECT = "project-watch"
SCREENSHOT = Path(__file__).resolve().parent / "screenshot-watch-graph.png"
RUN_TIMEOUT = 300.0
CONTAINED = ("fct_daily_orders", "snapshot__customers_history", "quality__orders_quality")
BUILT = ("load__raw_orders", "load__raw_customers", "replication__raw_payments", "seed__country_codes",
         "fct_payments")  # fmt: skip


def prepare(dep: Deployment) -> None:
    """Before the services start: the watch group's scratch project."""
    (dep.scratch / PROJECT).mkdir(exist_ok=True)
    (dep.scratch / PROJECT / "rocky.toml").write_text(ROCKY_TOML)


def _tis(ctx: Ctx, run_id: str) -> dict[str, dict[str, Any]]:
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances"
    return {str(t["task_id"]).removeprefix("project."): t for t in ctx.api.get(path)["task_instances"]}


def _engine_runs(ctx: Ctx) -> list[list[str]]:
    cwd = str(ctx.dep.scratch / PROJECT)
    return [
        list(e["argv"])
        for e in ctx.record.events()
        if e.get("event") == "start" and e.get("cwd") == cwd and "--version" not in e["argv"]
    ]


def _declared(ctx: Ctx) -> dict[str, str]:
    """Node task id → its declared table's asset URI (the deployed provider's naming)."""
    namespace = f"duckdb://{ctx.dep.scratch / PROJECT}/warehouse.duckdb"
    tables = {t.task_id: t.table.dotted for t in build_graph(load_manifest(MANIFEST)).tasks if t.table}
    uris = expected_assets(ctx, sorted(set(tables.values())), namespace)
    return {task_id: uris[table][1] for task_id, table in tables.items()}


def _events(ctx: Ctx, run_id: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for event in ctx.api.asset_events(source_dag_id=DAG_ID, source_run_id=run_id):
        found[str(event["uri"])] = found.get(str(event["uri"]), 0) + 1
    return found


def check_failing_run(ctx: Ctx, run_ids: list[str]) -> str:
    """One engine run; the failed node fails its task; its descendants are contained; no event unearned."""
    ctx.api.unpause(DAG_ID)
    run_id = ctx.api.trigger(DAG_ID)
    run_ids.append(run_id)
    state = ctx.api.wait_run(DAG_ID, run_id, RUN_TIMEOUT)
    tis = _tis(ctx, run_id)
    states = {name: str(ti["state"]) for name, ti in tis.items()}
    wanted = {"run_dag": "success", "dim_customers": "failed", **dict.fromkeys(CONTAINED, "upstream_failed"),
              **dict.fromkeys(BUILT, "success")}  # fmt: skip
    if state != "failed" or states != wanted:
        wrong = {k: (states.get(k), v) for k, v in wanted.items() if states.get(k) != v}
        raise CheckFailed(f"run {state}; task states (got, wanted) that differ: {wrong}")
    runs = _engine_runs(ctx)
    if len(runs) != 1 or "--dag" not in runs[0]:
        raise CheckFailed(f"engine runs {runs}: expected one `rocky run --dag`")
    log = log_text(ctx.api.log(DAG_ID, run_id, "project.dim_customers"))
    if "node failed" not in log or "1 model(s) failed (run_id: run-" not in log:
        raise CheckFailed("dim_customers' log lacks its engine lines", indent(log[-3000:]))
    summary = ctx.api.xcom(DAG_ID, run_id, "project.dim_customers")
    if summary.get("status") != "failed" or summary.get("category") != "engine":
        raise CheckFailed(f"dim_customers' XCom summary {summary}")
    declared = _declared(ctx)
    events = _events(ctx, run_id)
    landed = {declared[t] for t in ("seed__country_codes", "fct_payments")}
    if events != dict.fromkeys(landed, 1):
        raise CheckFailed(f"asset events {events}: expected one each for {sorted(landed)}")
    producer_end = str(tis["run_dag"]["end_date"])
    early = sorted(name for name in BUILT if str(tis[name]["end_date"]) < producer_end)
    if not early:
        raise CheckFailed("no node task ended before the producer: nothing was reported live")
    return (
        f"one `rocky run --dag`; dim_customers failed [rocky:engine] with its engine lines; "
        f"{len(CONTAINED)} upstream_failed; {len(early)} node task(s) succeeded while the engine ran "
        f"({', '.join(early)}); {len(landed)} events, none for what failed or was contained"
    )


def check_clear_runs_the_node_alone(ctx: Ctx, run_ids: list[str]) -> str:
    """Clearing the failed node (and its downstream) builds it alone; the project is not run again."""
    run_id = run_ids[0]
    body = {"dry_run": False, "dag_run_id": run_id, "task_ids": ["project.dim_customers"],
            "include_downstream": True, "only_failed": False, "reset_dag_runs": True}  # fmt: skip
    ctx.api.request("POST", f"/api/v2/dags/{DAG_ID}/clearTaskInstances", json=body)
    state = ctx.api.wait_run(DAG_ID, run_id, RUN_TIMEOUT)
    tis = _tis(ctx, run_id)
    if state != "success":
        raise CheckFailed(
            f"after the clear the run is {state}: { ({n: t['state'] for n, t in tis.items()}) }"
        )
    tries = {name: int(tis[name]["try_number"]) for name in ("run_dag", "dim_customers")}
    if tries != {"run_dag": 1, "dim_customers": 2}:
        raise CheckFailed(f"try numbers {tries}: the producer must not run again")
    runs = _engine_runs(ctx)
    alone = [argv[argv.index("run") :] for argv in runs if "--dag" not in argv]
    if sum("--dag" in argv for argv in runs) != 1 or not alone or "--model=dim_customers" not in alone[0]:
        raise CheckFailed(f"engine runs {runs}: one `rocky run --dag`, then dim_customers alone")
    declared = _declared(ctx)
    events = _events(ctx, run_id)
    if events != dict.fromkeys(declared.values(), 1):
        raise CheckFailed(f"asset events per table {events}, declared {sorted(declared.values())}")
    path = ctx.dep.scratch / PROJECT / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM marts.dim_customers").fetchone()
    return (
        f"run success; dim_customers try 2 built alone ({' '.join(alone[0])}), then {len(alone) - 1} node(s) "
        f"the engine had skipped; still one `rocky run --dag`; {len(events)} tables one event each; "
        f"marts.dim_customers has {found[0] if found else 0} rows"
    )


def screenshot_graph(ctx: Ctx, run_id: str) -> str:
    url = f"{ctx.dep.api_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    storage = {"default_dag_view": "graph", f"{DAG_ID}/open-groups": ["project"]}
    return capture_with_storage(ctx.dep.api_url, storage, url, SCREENSHOT, ctx.dep.env)


def watch_group_checks(ctx: Ctx) -> None:
    """Registered in run.py after the project checks."""
    run_ids: list[str] = []
    if not run_check(
        ctx,
        "watch: one `rocky run --dag`, a failing node fails its task, descendants upstream_failed, live",
        check_failing_run,
        run_ids,
    ):
        return
    try:
        ctx.rep.ok("screenshot of the watch group's graph view", screenshot_graph(ctx, run_ids[0]))
    except Exception as err:
        ctx.rep.skip("screenshot of the watch group's graph view", str(err))
    run_check(
        ctx,
        "watch: clearing the failed node builds it alone, no second project run, the run succeeds",
        check_clear_runs_the_node_alone,
        run_ids,
    )
