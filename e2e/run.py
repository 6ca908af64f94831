"""`make e2e`: prove the provider on a real Airflow 3 deployment on loopback, through the REST API only.

PostgreSQL + scheduler + dag-processor + triggerer + api-server (LocalExecutor) in a throwaway
AIRFLOW_HOME, the stand-in engine, the example DAGs and e2e/dags/. One line per check
(``PASS``/``FAIL``/``SKIP``), ``NOTE`` lines for findings, ``#`` lines for progress; exit status 1
when any check failed. Everything started is torn down in ``finally`` (also on SIGINT/SIGTERM) and
verified gone from outside. Run: ``make e2e`` (or ``.venv/bin/python e2e/run.py``).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import psutil
from api import AirflowAPI, APIError
from checks_process import check_kill, check_start_from_trigger, check_triggerer_restart
from checks_project import PROJECT_DAGS, project_checks
from checks_project import prepare as prepare_project
from checks_runs import (
    Ctx,
    check_assets,
    check_downstream,
    check_engine_log,
    check_failure,
    check_xcom,
    note_masking,
    run_check,
    wait_success,
)
from checks_view import DAG_ID as VIEW_DAG
from checks_view import check_view_refuses_strangers, check_view_render, secured_api_server
from checks_watch import check_source_watch
from checks_watch_group import DAG_ID as WATCH_GROUP
from checks_watch_group import prepare as prepare_watch_group
from checks_watch_group import watch_group_checks
from deployment import MARKER_NAME, Deployment
from report import Record, Reporter, indent
from screenshot import capture, task_log_url
from system import E2EError, ensure_debian_packages, ensure_venv, marked_processes

SCREENSHOT = Path(__file__).resolve().parent / "screenshot-deferrable-log.png"
DAGS = (
    "rocky_quickstart",
    "rocky_downstream",
    "rocky_e2e_quickstart_sync",
    "rocky_e2e_failures",
    "rocky_e2e_kill",
    "rocky_e2e_kill_sync",
    "rocky_e2e_triggerer_restart",
    "rocky_e2e_start_from_trigger",
    "rocky_e2e_on_orders_sync",
    VIEW_DAG,
    *PROJECT_DAGS,
    WATCH_GROUP,
)
RUN_TIMEOUT = 240.0
#: Every wait has its own timeout; this bounds their sum: past it, the run stops and tears down.
WATCHDOG_SECONDS = 15 * 60


class Interrupted(BaseException):
    """SIGINT/SIGTERM: stop checking, tear down."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise Interrupted(f"the {WATCHDOG_SECONDS // 60}-minute watchdog")
    raise Interrupted(signal.Signals(signum).name)


def progress(text: str, began: float) -> None:
    print(f"# [{time.monotonic() - began:6.1f}s] {text}", flush=True)


def setup(began: float) -> Deployment:
    progress("Debian packages (postgresql), e2e venv", began)
    ensure_debian_packages(
        {"postgresql": (glob.glob("/usr/lib/postgresql/*/bin/initdb") or ["/nonexistent"])[0]}
    )
    bindir = ensure_venv()
    base = Path(tempfile.mkdtemp(prefix="rocky-e2e-"))
    base.chmod(0o755)  # the postgres user must reach its data dir below
    dep = Deployment(base, bindir)
    progress(f"deployment under {base}", began)
    dep.prepare()
    prepare_project(dep)
    prepare_watch_group(dep)
    return dep


def quickstart_checks(ctx: Ctx, dag_id: str, run_id: str, mode: str) -> list[int] | None:
    deferrable = mode == "deferrable"
    if not run_check(
        ctx, f"quickstart {mode}: run reaches success", wait_success, dag_id, run_id, RUN_TIMEOUT
    ):
        return None
    run_check(
        ctx,
        f"quickstart {mode}: task log (REST) holds the engine lines, readable, in order, at their level",
        check_engine_log,
        dag_id,
        run_id,
        deferrable,
    )
    run_check(
        ctx, f"quickstart {mode}: XCom summary (REST) matches the run", check_xcom, dag_id, run_id, deferrable
    )
    check = f"quickstart {mode}: asset events (REST) carry rocky_asset URIs and extra"
    run_check(ctx, check, check_assets, dag_id, run_id)
    note_masking(ctx, dag_id, run_id)
    return ctx.events.get(dag_id)


def view_checks(ctx: Ctx, run_id: str) -> None:
    """The Rocky view of a partial run, drawn in Chromium; its data endpoint closed to strangers."""
    if not run_check(
        ctx, "rocky view: the partial run reaches success", wait_success, VIEW_DAG, run_id, RUN_TIMEOUT
    ):
        return
    try:
        with secured_api_server(ctx.dep) as server:
            run_check(
                ctx,
                "rocky view: the Rocky tab draws the run's tables and the failed table's error (Chromium)",
                check_view_render,
                run_id,
                server,
            )
            run_check(
                ctx,
                "rocky view: the data endpoint refuses an unauthenticated request",
                check_view_refuses_strangers,
                run_id,
                server,
            )
    except E2EError as err:
        ctx.rep.fail("rocky view: an api-server with authentication", str(err))


def scenario_checks(ctx: Ctx, began: float) -> None:
    api = ctx.api
    progress("unpausing and triggering through the REST API", began)
    for dag_id in DAGS:
        api.unpause(dag_id)
    sync_run = api.trigger("rocky_e2e_quickstart_sync")
    failures_run = api.trigger("rocky_e2e_failures")
    kill_run = api.trigger("rocky_e2e_kill")
    kill_sync_run = api.trigger("rocky_e2e_kill_sync")
    from_trigger_run = api.trigger("rocky_e2e_start_from_trigger")
    view_run = api.trigger(VIEW_DAG)

    sync_events = quickstart_checks(ctx, "rocky_e2e_quickstart_sync", sync_run, "sync")
    run_check(
        ctx,
        "kill: marking the deferred task failed ends the engine's process group within 10 s",
        check_kill,
        "rocky_e2e_kill",
        kill_run,
        True,
    )
    run_check(
        ctx,
        "kill: marking a running sync task failed ends an engine ignoring SIGTERM within 10 s",
        check_kill,
        "rocky_e2e_kill_sync",
        kill_sync_run,
        False,
    )
    for task_id, category, marker in (
        ("budget_breach", "budget", "Error: budget exceeded"),
        ("compile_error", "compile", "E001"),
    ):
        mode = "sync" if task_id == "budget_breach" else "deferrable"
        run_check(
            ctx,
            f"failure {task_id} ({mode}): task failed with [rocky:{category}] and the stderr tail in its log",
            check_failure,
            failures_run,
            task_id,
            category,
            marker,
        )
    run_check(
        ctx,
        "start_from_trigger: the triggerer runs the engine with the filter it rendered; task succeeds",
        check_start_from_trigger,
        from_trigger_run,
    )
    if sync_events:
        run_check(
            ctx,
            "downstream: rocky_downstream started by the sync run's asset events succeeds",
            check_downstream,
            sync_events,
            180.0,
        )

    progress("deferrable quickstart", began)
    deferred_run = api.trigger("rocky_quickstart")  # deferrable, as the README Quickstart
    deferred_events = quickstart_checks(ctx, "rocky_quickstart", deferred_run, "deferrable")
    if deferred_events:
        run_check(
            ctx,
            "downstream: rocky_downstream started by the deferrable run's asset events succeeds",
            check_downstream,
            deferred_events,
            180.0,
        )
        try:
            url = task_log_url(ctx.dep.api_url, "rocky_quickstart", deferred_run, "rocky_run")
            ctx.rep.ok("screenshot of the deferrable run's log view", capture(url, SCREENSHOT, ctx.dep.env))
        except E2EError as err:
            ctx.rep.skip("screenshot", str(err))

    view_checks(ctx, view_run)

    progress("triggerer restart", began)
    restart_run = api.trigger("rocky_e2e_triggerer_restart")
    run_check(
        ctx,
        "triggerer restart: SIGTERM mid-run + new triggerer, task succeeds, work done exactly once",
        check_triggerer_restart,
        restart_run,
    )
    run_check(
        ctx,
        "source-sync watcher: RockySourceSyncTrigger events in the triggerer start the asset's DAG",
        check_source_watch,
        120.0,
    )
    progress("RockyTaskGroup: assets before the run, the pooled run, the unguarded one", began)
    project_checks(ctx)
    progress("RockyTaskGroup(shape='watch'): a failing node, then a clear of it", began)
    watch_group_checks(ctx)
    dead = [s.name for s in ctx.dep.dead_services()]
    ctx.rep.verdict(
        "services: every Airflow service ran to the end",
        not dead,
        f"exited early: {dead}",
        ctx.service_tails(*dead),
    )


def teardown(dep: Deployment | None, rep: Reporter, began: float) -> None:
    signal.alarm(0)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if dep is None:
        return
    progress("teardown", began)
    killed, pg_stopped = dep.stop()
    if killed:
        rep.note(f"teardown: {', '.join(killed)} did not exit within 30 s of SIGTERM and were SIGKILLed")
    # Whatever still carries the session marker (a stand-in, a task process, a re-parented orphan)
    # was started by this run: name it, then end it.
    left = marked_processes(MARKER_NAME, dep.marker)
    described = []
    for proc in left:
        try:
            described.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
            proc.kill()
        except psutil.Error:
            continue  # ended on its own meanwhile
    problems = [] if pg_stopped else ["PostgreSQL still running after pg_ctl stop"]
    if described:
        problems.append(f"{len(described)} process(es) still running (now SIGKILLed)")
    rep.verdict(
        "nothing left running",
        not problems,
        "; ".join(problems),
        indent("\n".join(described)) if described else "",
        info=f"services, PostgreSQL and engines stopped; no process carries {MARKER_NAME}",
    )


def drive(
    setup: Callable[[float], Deployment],
    checks: Callable[[Ctx, float], None],
    *,
    dags: Sequence[str],
    starting: str,
    deployed: str,
    ready: Callable[[Deployment], None] | None = None,
) -> int:
    """One e2e run: build (``setup``), start, wait for the API and ``dags``, run ``checks``, tear down.

    Shared by `make e2e` and `make e2e-distributed`; exit status 1 when any check failed.
    """
    began = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, _on_signal)
    signal.alarm(WATCHDOG_SECONDS)
    rep = Reporter()
    dep: Deployment | None = None
    api: AirflowAPI | None = None
    try:
        dep = setup(began)
        progress(starting, began)
        dep.start()
        api = AirflowAPI(dep.api_url)
        api.wait_ready(timeout=180)
        api.wait_dags(list(dags), timeout=180)
        if ready is not None:
            ready(dep)
        rep.ok(deployed, f"api-server {dep.api_url}")
        checks(Ctx(api, dep, rep, Record(dep.record)), began)
    except Interrupted as sig:
        rep.fail("run", f"interrupted by {sig}")
    except (E2EError, APIError, OSError) as err:
        detail = "\n".join(dep.log_tail(name) for name in dep.services) if dep else ""
        rep.fail("run", f"{type(err).__name__}: {err}", indent(detail, limit=80) if detail else "")
    finally:
        if api is not None:
            api.close()
        teardown(dep, rep, began)
    return _finish(dep, rep, began)


def _finish(dep: Deployment | None, rep: Reporter, began: float) -> int:
    """The totals line; a green run's files removed, a red one's logs kept and named."""
    total = time.monotonic() - began
    print(
        f"{len(rep.passed)} passed, {len(rep.failed)} failed, {len(rep.skipped)} skipped; "
        f"wall time {total:.0f}s ({total / 60:.1f} min)",
        flush=True,
    )
    if dep is not None and not rep.failed:
        shutil.rmtree(dep.base, ignore_errors=True)
    elif dep is not None:
        print(f"# logs kept under {dep.base / 'logs'} and {dep.home / 'logs'}", flush=True)
    return 1 if rep.failed else 0


def main() -> int:
    return drive(
        setup,
        scenario_checks,
        dags=DAGS,
        starting="PostgreSQL, airflow db migrate, scheduler, dag-processor, triggerer, api-server",
        deployed="deployment: 4 Airflow services on PostgreSQL, DAGs parsed",
    )


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
