"""Checks of `make e2e-distributed`: CeleryExecutor, two workers, two triggerers, SIGKILL faults.

The ground truth is the stand-in's record (every engine start and end, with pid, pgid, argv and the
environment, whose ``ROCKY_E2E_SERVICE`` names the service that ran it) and ``/proc``.

What "SIGKILL the worker" (or the triggerer) means here: every Airflow process of that service is
SIGKILLed at once (for a worker: the Celery main process, its pool processes, the task supervisor and
the task process; for a triggerer: its supervisor and its trigger runner), as the OOM killer or
``kill -9`` would, leaving only what the provider started in sessions of their own: the engine and its
reaper. A lost node also takes those; then nothing is left to clean up and only the takeover matters,
which these checks prove too.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psutil
from checks_process import _alive
from checks_runs import Ctx
from deployment import wait_until
from report import CheckFailed, indent
from system import pid_alive

TOKEN_ENV = "AIRFLOW_PROVIDER_ROCKY_RUN"  # noqa: S105 - a variable name; _engine/descendants.py: every engine process carries it
REAPER_MARK = "airflow_provider_rocky._engine.reaper_main"
ENGINE_GONE_WITHIN = 15.0  # the reaper's grace is 5 s
FANOUT = "rocky_e2e_fanout"


def service_of(event: dict[str, Any]) -> str:
    return str((event.get("env") or {}).get("ROCKY_E2E_SERVICE", "?"))


def run_starts(ctx: Ctx, prefix: str) -> list[dict[str, Any]]:
    """``rocky ... run`` starts whose ``ROCKY_SUBMISSION_ID`` begins with ``prefix`` (no version probe)."""
    return [
        event
        for event in ctx.record.events()
        if event.get("event") == "start"
        and "run" in (event.get("argv") or [])
        and str((event.get("env") or {}).get("ROCKY_SUBMISSION_ID", "")).startswith(prefix)
    ]


def key_of(start: dict[str, Any]) -> str | None:
    for token in start.get("argv") or []:
        if str(token).startswith("--idempotency-key="):
            return str(token).split("=", 1)[1]
    return None


def _provider_started(proc: psutil.Process) -> bool:
    """An engine (it carries the run token) or a reaper: left alone, as a SIGKILL would leave them."""
    try:
        return TOKEN_ENV in proc.environ() or REAPER_MARK in " ".join(proc.cmdline())
    except psutil.Error:
        return True


@dataclass
class Fault:
    """One service SIGKILLed under a running engine, and what became of that engine."""

    service: str
    killed: list[str]  # "pid name" of every Airflow process SIGKILLed
    reapers: list[int]  # the provider's reapers in that service's tree (left alone, like the engine)
    at: float  # wall clock of the kill (the record's ``time`` is wall clock)
    engine_gone: float = 0.0  # seconds from the kill until the engine's processes were all gone

    def shown(self, engine: dict[str, Any]) -> str:
        return (
            f"SIGKILLed {self.service} ({len(self.killed)} Airflow processes); its engine pid "
            f"{engine['pid']} and the helper in its group gone {self.engine_gone:.1f}s later, its "
            f"reaper(s) {self.reapers} exited"
        )


def sigkill_service(ctx: Ctx, name: str) -> Fault:
    """SIGKILL every Airflow process of a service (main first: no pool refills); retire the service."""
    service = ctx.dep.services.pop(name)
    ctx.dep.retired.append(service)
    assert service.proc is not None
    main = psutil.Process(service.proc.pid)
    fault = Fault(name, [], [], time.time())
    for _round in range(2):  # the second catches a child forked while the first went on
        procs = [main, *main.children(recursive=True)] if main.is_running() else []
        for proc in procs:
            _kill_unless_provider(proc, fault)
    service.proc.wait(timeout=30)
    return fault


def _kill_unless_provider(proc: psutil.Process, fault: Fault) -> None:
    try:
        if _provider_started(proc):
            if REAPER_MARK in " ".join(proc.cmdline()) and proc.pid not in fault.reapers:
                fault.reapers.append(proc.pid)
            return
        label = f"{proc.pid} {proc.name()}"
        proc.send_signal(signal.SIGKILL)
    except psutil.Error:
        return
    if label not in fault.killed:
        fault.killed.append(label)


def kill_under(ctx: Ctx, engine: dict[str, Any]) -> Fault:
    """SIGKILL the service that runs ``engine`` (its record's ROCKY_E2E_SERVICE); the engine must go."""
    pid, pgid = int(engine["pid"]), int(engine["pgid"])
    wait_until(lambda: ctx.record.grandchildren_of(pid), 30, interval=0.2)
    helpers = ctx.record.grandchildren_of(pid)  # quiet: a closed pipe does not end them
    if not helpers or not all(pid_alive(h) for h in helpers):
        raise CheckFailed(f"the engine's helper {helpers} is not running before the kill")
    time.sleep(1)  # mid-run: the key is claimed, tables are being copied
    began = time.monotonic()
    fault = sigkill_service(ctx, service_of(engine))
    wait_until(lambda: not _alive(pid, pgid, helpers), ENGINE_GONE_WITHIN + 15, interval=0.1)
    fault.engine_gone = time.monotonic() - began
    left = _alive(pid, pgid, helpers)
    if left or fault.engine_gone > ENGINE_GONE_WITHIN:
        raise CheckFailed(
            f"engine {pid} (group {pgid}): {left} alive {fault.engine_gone:.1f}s after the SIGKILL"
        )
    if not fault.reapers:
        raise CheckFailed(f"no reaper in {fault.service}'s process tree: nothing tied the engine to it")
    if not wait_until(lambda: not any(pid_alive(r) for r in fault.reapers), 30, interval=0.2):
        raise CheckFailed(f"reaper(s) {fault.reapers} of {fault.service} still running 30 s after its death")
    return fault


def runs_summary(ctx: Ctx, starts: list[dict[str, Any]]) -> tuple[str, int]:
    """``pid P on S: <end status>; ...`` for the starts, and how many ended ``Success``."""
    ends = _ends(ctx)
    done = [ends.get(int(s["pid"])) for s in starts]
    shown = "; ".join(
        f"pid {s['pid']} on {service_of(s)}: {(e or {}).get('status', 'no end')}"
        for s, e in zip(starts, done, strict=True)
    )
    return shown, sum(1 for e in done if e and e.get("status") == "Success")


def _tis(ctx: Ctx, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    return list(ctx.api.get(path, limit=100)["task_instances"])


def _ends(ctx: Ctx) -> dict[int, dict[str, Any]]:
    return {int(e["pid"]): e for e in ctx.record.events() if e.get("event") == "end"}


def _fanout_runs(ctx: Ctx, run_id: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Engine run starts of the fan-out, by (task, map index)."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for start in run_starts(ctx, f"{FANOUT}/{run_id}/"):
        _, _, task_id, index = str(start["env"]["ROCKY_SUBMISSION_ID"]).split("/")[-4:]
        runs.setdefault((task_id, int(index)), []).append(start)
    return runs


def _check_one_run_per_try(ctx: Ctx, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    runs, ends = _fanout_runs(ctx, run_id), _ends(ctx)
    want = {(task, index) for task in ("sync", "deferred") for index in range(10)}
    if set(runs) != want:
        raise CheckFailed(f"engine runs for {sorted(runs)} (want every sync/deferred 0..9)")
    doubled = {k: len(v) for k, v in runs.items() if len(v) != 1}
    if doubled:
        raise CheckFailed(f"more than one engine run for a try: {doubled}")
    for (task, index), (start,) in runs.items():
        end = ends.get(int(start["pid"]))
        if end is None or end.get("status") != "Success":
            raise CheckFailed(f"{task}[{index}] engine pid {start['pid']}: end {end}")
        key = key_of(start)
        if task == "deferred" and key != f"airflow:{FANOUT}:{run_id}:deferred:{index}:try1":
            raise CheckFailed(f"deferred[{index}] ran with idempotency key {key!r}")
    return {k: v[0] for k, v in runs.items()}


def _check_spread(runs: dict[tuple[str, int], dict[str, Any]]) -> str:
    """Sync engines on both workers, deferred ones under both triggerers (by ``ROCKY_E2E_SERVICE``)."""
    want = {"sync": {"worker-1", "worker-2"}, "deferred": {"triggerer-1", "triggerer-2"}}
    shown = []
    for mode, services in want.items():
        seen = Counter(service_of(start) for (task, _), start in runs.items() if task == mode)
        if set(seen) != services:
            raise CheckFailed(f"{mode} engines ran on {dict(seen)}, want both of {sorted(services)}")
        shown.append(f"{mode} on " + ", ".join(f"{name} x{n}" for name, n in sorted(seen.items())))
    return "; ".join(shown)


def _check_assets(ctx: Ctx, run_id: str, runs: dict[tuple[str, int], dict[str, Any]]) -> int:
    events = ctx.api.asset_events(source_dag_id=FANOUT, source_run_id=run_id)
    seen = Counter((e["source_task_id"], int(e["source_map_index"]), e["uri"]) for e in events)
    if any(count != 1 for count in seen.values()):
        raise CheckFailed(f"an asset event repeated: {[k for k, c in seen.items() if c != 1]}")
    for (task, index), start in runs.items():
        tenant = next(a for a in start["argv"] if str(a).startswith("--filter=")).split("=")[-1]
        uris = sorted(uri for t, i, uri in seen if (t, i) == (task, index))
        if len(uris) != 2 or not all(f"staging__{tenant}" in uri for uri in uris):
            raise CheckFailed(f"{task}[{index}] (tenant {tenant}): asset events {uris} (want its 2 tables)")
    return len(events)


def check_fanout(ctx: Ctx, run_id: str) -> str:
    state = ctx.api.wait_run(FANOUT, run_id, 300)
    tis = _tis(ctx, FANOUT, run_id)
    states = Counter(str(ti["state"]) for ti in tis)
    if state != "success" or states != Counter({"success": 20}):
        raise CheckFailed(f"run {state!r}, task instances {dict(states)} (want 20 success)")
    runs = _check_one_run_per_try(ctx, run_id)
    spread = _check_spread(runs)
    events = _check_assets(ctx, run_id, runs)
    return (
        f"20/20 mapped tasks success; {spread}; one engine run per try, each Success; "
        f"{events} asset events, 2 per tenant"
    )


def _wait_start(ctx: Ctx, found: Any, what: str, timeout: float = 90) -> dict[str, Any]:
    if not wait_until(lambda: found(), timeout, interval=0.3):
        raise CheckFailed(f"no engine start for {what} within {timeout:.0f}s")
    return dict(found()[-1])


def check_worker_sigkill(ctx: Ctx, run_id: str) -> str:
    dag_id, task_id = "rocky_e2e_worker_kill", "long_sync"
    if ctx.api.wait_ti(dag_id, run_id, task_id, {"running"}, timeout=120) != "running":
        raise CheckFailed("the task never ran", indent(ctx.service_tails("scheduler")))
    prefix = f"{dag_id}/{run_id}/{task_id}/"
    first = _wait_start(ctx, lambda: run_starts(ctx, prefix), prefix)
    fault = kill_under(ctx, first)
    final = ctx.api.wait_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=240)
    try_number = ctx.api.task_instance(dag_id, run_id, task_id).get("try_number")
    starts = run_starts(ctx, prefix)
    summary, successes = runs_summary(ctx, starts)
    if final != "success" or len(starts) != 2 or successes != 1:
        raise CheckFailed(f"task {final!r} (try {try_number}), engine runs: {summary} (want 2, one Success)")
    if service_of(starts[1]) == fault.service:
        raise CheckFailed(f"the retry ran on the killed {fault.service}: {summary}")
    return (
        f"{fault.shown(first)}; try {try_number} ran on {service_of(starts[1])} "
        f"{float(starts[1]['time']) - fault.at:.0f}s after the kill; engine runs: {summary}; task success"
    )


def stray_engines(marker_name: str, marker: str) -> list[str]:
    """Live engine processes (carrying the run token) of this e2e session."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            env = proc.environ()
            if env.get(marker_name) == marker and TOKEN_ENV in env and proc.info["status"] != "zombie":
                found.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            continue
    return found
