"""Checks of `make e2e-distributed` that hand a deferred try from a SIGKILLed triggerer to another.

Against the faithful stand-in (contract §3.6): a killed engine leaves its idempotency claim InFlight,
and the engine never checks whether the holder lives. What the engine did is read from the stand-in's
record (every start, every table it wrote, every end) and the DuckDB file, not from the provider.

* ``triggerer_sigkill_handoff``: SIGKILL the triggerer under a transformation run before it writes.
  The copy that takes over meets ``SkippedInFlight`` and asks for ``in_flight_wait_seconds`` (30 s in
  the DAG), then try 1 fails as ``state`` (retryable); try 2 runs with its own key. Every table is
  written exactly once across the tries.
* ``event_loss_handoff``: SIGKILL the triggerer that holds a finished run's event (its 45 s hold).
  The copy that takes over meets ``SkippedIdempotent`` and reports that run from its record; the
  task's asset events arrive exactly once, one per table the engine wrote.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import duckdb
from checks_distributed import _wait_start, kill_under, service_of, sigkill_service
from checks_runs import Ctx
from deployment import wait_until
from report import CheckFailed, indent, try_key

#: The DAG's ``in_flight_wait_seconds``: the bound the check holds try 1 to.
WAIT_BOUND = 30.0


def _ends(ctx: Ctx, starts: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    return [ctx.record.end_for(int(start["pid"])) for start in starts]


def _writes(ctx: Ctx, starts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pids = {int(start["pid"]) for start in starts}
    return [e for e in ctx.record.events() if e.get("event") == "materialized" and int(e["pid"]) in pids]


def check_triggerer_sigkill_handoff(ctx: Ctx, run_id: str) -> str:
    dag_id, task_id = "rocky_e2e_triggerer_kill", "long_deferred"
    if ctx.api.wait_ti(dag_id, run_id, task_id, {"deferred"}, timeout=120) != "deferred":
        raise CheckFailed("the task never deferred", indent(ctx.service_tails("scheduler")))
    key1, key2 = try_key(dag_id, run_id, task_id, 1), try_key(dag_id, run_id, task_id, 2)
    first = _wait_start(ctx, lambda: ctx.record.starts_for_key(key1), key1)
    fault = kill_under(ctx, first)
    asks_seen = _wait_start(ctx, lambda: ctx.record.starts_for_key(key1)[1:], f"the adopted {key1}", 120)
    final = ctx.api.wait_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=360)
    ended = time.time() - fault.at
    tries = int(ctx.api.task_instance(dag_id, run_id, task_id).get("try_number") or 0)
    asks = ctx.record.starts_for_key(key1)[1:]
    ask_ends = _ends(ctx, asks)
    if any(e is None or e.get("status") != "SkippedInFlight" for e in ask_ends):
        raise CheckFailed(f"the adopting copy's engine runs ended {ask_ends} (want SkippedInFlight each)")
    held_for = float(asks[-1]["time"]) - float(asks_seen["time"])
    if held_for > WAIT_BOUND + 5:
        raise CheckFailed(f"the copy kept asking {held_for:.0f}s (bound {WAIT_BOUND:.0f}s): {len(asks)} runs")
    second = ctx.record.starts_for_key(key2)
    second_ends = _ends(ctx, second)
    if final != "success" or tries != 2 or [e and e.get("status") for e in second_ends] != ["Success"]:
        raise CheckFailed(f"task {final!r} on try {tries}; try 2 engine runs ended {second_ends}")
    writes = _writes(ctx, [first, *asks, *second])
    counted = Counter(str(e["table"]) for e in writes)
    if not counted or any(n != 1 for n in counted.values()) or _writes(ctx, [first]):
        raise CheckFailed(f"tables written {dict(counted)} (want each once, none by the killed engine)")
    in_file = _duckdb_tables(writes)
    return (
        f"{fault.shown(first)}; {service_of(asks_seen)} adopted it "
        f"{float(asks_seen['time']) - fault.at:.0f}s after the kill and asked {len(asks)}x over "
        f"{held_for:.0f}s (SkippedInFlight: the dead engine's claim), then try 1 failed as state; try 2 "
        f"started on {service_of(second[0])} {float(second[0]['time']) - fault.at:.0f}s after the kill and "
        f"ran once; task success seen {ended:.0f}s after the kill; tables written once each across tries: "
        f"{', '.join(sorted(counted))} ({in_file})"
    )


def _duckdb_tables(writes: list[dict[str, Any]]) -> str:
    """The written tables as the DuckDB file holds them (row counts), read after the engines ended."""
    files = {str(e["warehouse"]) for e in writes if e.get("warehouse")}
    if len(files) != 1:
        raise CheckFailed(f"writes went to warehouse files {sorted(files)} (want one DuckDB file)")
    (path,) = files
    with duckdb.connect(path, read_only=True) as conn:
        names = {f"{schema}.{table}" for schema, table in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()}  # fmt: skip
    wanted = {".".join(str(e["table"]).split(".")[-2:]) for e in writes}
    if not wanted <= names:
        raise CheckFailed(f"DuckDB file {path} holds {sorted(names)}, want {sorted(wanted)}")
    return f"present in {path.rsplit('/', 2)[-2]}/warehouse.duckdb"


def check_event_loss_handoff(ctx: Ctx, run_id: str) -> str:
    dag_id, task_id = "rocky_e2e_event_loss", "held_event"
    if ctx.api.wait_ti(dag_id, run_id, task_id, {"deferred"}, timeout=120) != "deferred":
        raise CheckFailed("the task never deferred", indent(ctx.service_tails("scheduler")))
    key = try_key(dag_id, run_id, task_id)
    first = _wait_start(ctx, lambda: ctx.record.starts_for_key(key), key)
    if not wait_until(lambda: ctx.record.end_for(int(first["pid"])), 60, interval=0.2):
        raise CheckFailed(f"engine {first['pid']} did not end")
    done = ctx.record.end_for(int(first["pid"])) or {}
    if done.get("status") != "Success":
        raise CheckFailed(f"the first engine ended {done}")
    time.sleep(2)  # the trigger records the run, then holds its event (45 s)
    if ctx.api.task_instance(dag_id, run_id, task_id).get("state") != "deferred":
        raise CheckFailed("the event was not held: the task left deferred before the kill")
    fault = sigkill_service(ctx, service_of(first))
    adopted = _wait_start(ctx, lambda: ctx.record.starts_for_key(key)[1:], f"the adopted {key}", 120)
    final = ctx.api.wait_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=240)
    ended = time.time() - fault.at
    again = ctx.record.end_for(int(adopted["pid"])) or {}
    writes = _writes(ctx, [first, adopted])
    written = [str(e["table"]) for e in writes]
    ran = {str(e["run_id"]) for e in writes}
    events = ctx.api.asset_events(source_dag_id=dag_id, source_run_id=run_id)
    uris = Counter(str(e["uri"]) for e in events)
    matched = sorted(t for t in written if sum(u.endswith("/" + t.replace(".", "/")) for u in uris) == 1)
    summary = ctx.api.xcom(dag_id, run_id, task_id) or {}
    if final != "success" or again.get("status") != "SkippedIdempotent":
        raise CheckFailed(f"task {final!r}; the adopting copy's engine ended {again}")
    if any(n != 1 for n in uris.values()) or len(uris) != len(written) or matched != sorted(written):
        raise CheckFailed(f"asset events {dict(uris)} for tables written {written} (want one each)")
    if ran != {summary.get("run_id")}:
        raise CheckFailed(
            f"the summary names run {summary.get('run_id')!r}, the tables were written by {ran}"
        )
    return (
        f"engine pid {first['pid']} Success, then SIGKILLed {fault.service} holding its event; "
        f"{service_of(adopted)} adopted {float(adopted['time']) - fault.at:.0f}s later, its engine "
        f"answered SkippedIdempotent; task success seen {ended:.0f}s after the kill, with {len(events)} "
        "asset events, one per table "
        f"written ({', '.join(written)}), from run {summary.get('run_id')}"
    )
