"""Checks about the engine's processes, observed from outside (the record's pids, /proc, process groups).

* marking a deferred task, or a running sync task, failed through the API ends the engine's whole
  process group within 10 s;
* a ``start_from_trigger`` task: its engine is a child of the triggerer (no worker ran it), with the
  ``filter`` the triggerer rendered, and the task succeeds with the engine lines in its log;
* stopping the triggerer mid-run and starting a new one: the task still succeeds and the work of that
  try completed exactly once (one ``end`` with a success status for the try's idempotency key).
"""

from __future__ import annotations

import os
import time
from typing import Any

from api import log_text
from checks_runs import EXPECTED_ENGINE_LINES, Ctx, engine_entries
from deployment import wait_until
from report import CheckFailed, indent, try_key
from system import group_members, pid_alive

KILL_BUDGET_SECONDS = 10.0
SUCCESS_STATUSES = frozenset({"Success"})


def _engine_start(
    ctx: Ctx, key: str, timeout: float, grandchild: bool = False, task: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    """Wait until the engine of this try has started (and spawned its grandchild, if asked).

    Found by its idempotency key (deferred runs pass one), or by ``task`` (dag, run, task) through
    the ``ROCKY_SUBMISSION_ID`` every run carries.
    """

    def starts() -> list[dict[str, Any]]:
        return ctx.record.starts_for_task(*task) if task else ctx.record.starts_for_key(key)

    def started() -> bool:
        found = starts()
        if not found:
            return False
        return not grandchild or bool(ctx.record.grandchildren_of(int(found[-1]["pid"])))

    if not wait_until(started, timeout, interval=0.3):
        raise CheckFailed(
            f"the engine never started for {task or key} within {timeout:.0f}s",
            indent(ctx.service_tails("triggerer", "scheduler")),
        )
    return starts()[-1]


def _alive(pid: int, pgid: int, extra: list[int]) -> list[int]:
    """Processes of the engine still alive: its group's members, plus known pids (checked via /proc)."""
    return sorted(set(group_members(pgid)) | {p for p in [pid, *extra] if pid_alive(p)})


def check_kill(ctx: Ctx, dag_id: str, run_id: str, deferred: bool) -> str:
    """Deferred: the triggerer ends the group (``grandchild`` scenario). Sync: the worker's supervisor
    SIGTERMs the task and SIGKILLs it 5 s later; ``on_kill`` must end an engine that ignores SIGTERM
    (``hang_ignore_term``, ``term_grace_seconds`` 15) before that.
    """
    task_id, waiting = ("never_ends", "deferred") if deferred else ("never_ends_sync", "running")
    state = ctx.api.wait_ti(dag_id, run_id, task_id, {waiting}, timeout=120)
    if state != waiting:
        raise CheckFailed(
            f"task reached {state!r} instead of {waiting}", indent(ctx.service_tails("scheduler"))
        )
    key, task = try_key(dag_id, run_id, task_id), (dag_id, run_id, task_id)
    start = _engine_start(ctx, key, timeout=60, grandchild=deferred, task=None if deferred else task)
    pid, pgid = int(start["pid"]), int(start["pgid"])
    grandchildren = ctx.record.grandchildren_of(pid)
    before = _alive(pid, pgid, grandchildren)
    if pid not in before:
        raise CheckFailed(f"the engine (pid {pid}) is not running before the kill")
    began = time.monotonic()
    ctx.api.mark(dag_id, run_id, task_id, "failed")
    left = before
    while left and time.monotonic() - began < KILL_BUDGET_SECONDS + 20:
        time.sleep(0.1)
        left = _alive(pid, pgid, grandchildren)
    took = time.monotonic() - began
    if left or took > KILL_BUDGET_SECONDS:
        raise CheckFailed(
            f"engine group {pgid} still had {left or before} {took:.1f}s after the PATCH (budget "
            f"{KILL_BUDGET_SECONDS:.0f}s)",
            indent(ctx.service_tails("triggerer" if deferred else "scheduler")),
        )
    time.sleep(3)  # a late trigger event must not resurrect the task
    ti = ctx.api.task_instance(dag_id, run_id, task_id)
    run_state = ctx.api.wait_run(dag_id, run_id, 60)
    if ti["state"] != "failed" or run_state != "failed":
        raise CheckFailed(f"after the kill: task {ti['state']!r}, run {run_state!r} (expected failed)")
    end = ctx.record.end_for(pid)
    how = f"engine exit {end['exit_code']} ({end['status']})" if end else "no end recorded"
    entries = ctx.api.log(dag_id, run_id, task_id)
    if not any(("on_kill" in str(e.get("event")) or "Task killed" in str(e.get("event"))) for e in entries):
        ctx.rep.note(f"kill: the task log does not mention on_kill:\n{indent(log_text(entries[-8:]))}")
    return (
        f"pid {pid} + grandchildren {grandchildren} (pgid {pgid}) gone {took:.1f}s after the PATCH; {how}; "
        "task and run failed"
    )


def check_triggerer_restart(ctx: Ctx, run_id: str) -> str:
    dag_id, task_id = "rocky_e2e_triggerer_restart", "long_run"
    state = ctx.api.wait_ti(dag_id, run_id, task_id, {"deferred"}, timeout=120)
    if state != "deferred":
        raise CheckFailed(
            f"task reached {state!r} instead of deferred", indent(ctx.service_tails("scheduler"))
        )
    key = try_key(dag_id, run_id, task_id)
    first = _engine_start(ctx, key, timeout=60)
    time.sleep(2)  # mid-run: the engine has claimed the key and started copying
    old_pid, old_pgid = int(first["pid"]), int(first["pgid"])
    stopped_at = time.monotonic()
    clean, took = ctx.dep.restart_triggerer(grace=60)
    if not clean:
        raise CheckFailed(
            f"the triggerer's group needed SIGKILL after {took:.0f}s", ctx.dep.log_tail("triggerer")
        )
    wait_until(lambda: not _alive(old_pid, old_pgid, []), 30, interval=0.2)
    old_gone = time.monotonic() - stopped_at
    old_left = _alive(old_pid, old_pgid, [])
    final = ctx.api.wait_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=240)
    starts = ctx.record.starts_for_key(key)
    ends = [ctx.record.end_for(int(s["pid"])) for s in starts]
    summary = "; ".join(
        f"pid {s['pid']}: " + (f"end {e['status']} exit {e['exit_code']}" if e else "no end")
        for s, e in zip(starts, ends, strict=True)
    )
    if final != "success":
        entries = ctx.api.log(dag_id, run_id, task_id)
        raise CheckFailed(
            f"task ended {final!r} after the restart; engine runs: {summary}", indent(log_text(entries))
        )
    successes = [e for e in ends if e is not None and e.get("status") in SUCCESS_STATUSES]
    if len(successes) != 1:
        raise CheckFailed(f"{len(successes)} successful engine runs for the try (want 1): {summary}")
    still = [int(s["pid"]) for s in starts if pid_alive(int(s["pid"]))]
    if still or old_left:
        raise CheckFailed(f"engine processes still running after the task ended: {still or old_left}")
    if ends[0] is None:
        entries = ctx.api.log(dag_id, run_id, task_id)
        shutdown = any("shutdown signal received" in str(e.get("event")) for e in entries)
        ctx.rep.note(
            f"triggerer restart: the engine interrupted by the triggerer's shutdown (pid {old_pid}) recorded "
            f"no end and was gone {old_gone:.1f}s after the SIGTERM; its graceful-shutdown line is "
            f"{'in' if shutdown else 'not in'} the task log: it was not given term_grace_seconds to stop"
        )
    summary_xcom = ctx.api.xcom(dag_id, run_id, task_id)
    return (
        f"triggerer stopped in {took:.1f}s; engine runs for the try: {summary}; task success "
        f"(status {summary_xcom.get('status')}, skipped_by_run_id {summary_xcom.get('skipped_by_run_id')})"
    )


def check_start_from_trigger(ctx: Ctx, run_id: str) -> str:
    dag_id, task_id = "rocky_e2e_start_from_trigger", "from_triggerer"
    final = ctx.api.wait_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=180)
    entries = ctx.api.log(dag_id, run_id, task_id)
    if final != "success":
        raise CheckFailed(f"task ended {final!r}", indent(log_text(entries)))
    starts = ctx.record.starts_for_key(try_key(dag_id, run_id, task_id))
    if len(starts) != 1:
        raise CheckFailed(f"{len(starts)} engine runs for the try (want 1)")
    start = starts[0]
    argv = [str(a) for a in start["argv"]]
    if "--filter=source=orders" not in argv or any("{{" in a for a in argv):
        raise CheckFailed(f"the triggerer did not render the filter: argv {argv}")
    triggerer = ctx.dep.services["triggerer"].pgid
    try:
        parent_group = os.getpgid(int(start["ppid"]))
    except ProcessLookupError as err:
        raise CheckFailed(
            f"the engine's parent (pid {start['ppid']}) is gone: cannot tell who ran it"
        ) from err
    if parent_group != triggerer:
        raise CheckFailed(
            f"the engine's parent (pid {start['ppid']}, group {parent_group}) is not in the triggerer's "
            f"group {triggerer}: a worker ran it"
        )
    lines = [str(e.get("event")) for e in engine_entries(entries)]
    missing = [line for line in EXPECTED_ENGINE_LINES if not any(seen.startswith(line) for seen in lines)]
    if missing:
        raise CheckFailed(f"engine lines missing from the task log: {missing}", indent(log_text(entries)))
    summary = ctx.api.xcom(dag_id, run_id, task_id)
    if summary.get("status") != "Success":
        raise CheckFailed(f"XCom summary status {summary.get('status')!r}")
    return (
        f"engine pid {start['pid']} child of pid {start['ppid']} in the triggerer's group {triggerer}; "
        f"argv filter source=orders; {len(lines)} engine lines in the task log; status Success"
    )
