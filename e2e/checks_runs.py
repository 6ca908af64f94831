"""Checks of finished runs, read back through the REST API: task log, XCom, asset events, downstream.

Ground truth comes from outside Airflow: the stand-in's invocation record (what ran, how it ended),
the engine lines it is known to write for the ``success`` scenario, and the DuckDB warehouse it wrote.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
from api import AirflowAPI, APIError, log_text
from deployment import Deployment
from report import CheckFailed, Record, Reporter, indent
from system import run

#: Engine lines of the stand-in's ``success`` scenario for ``--filter source=orders --models models --all``,
#: as the provider must render them (prefix, target, message; the level is the record's), in this order.
#: All INFO in the stand-in.
EXPECTED_ENGINE_LINES = (
    "rocky: rocky::run loaded config",
    "rocky: rocky::run rocky run starting",
    "rocky: rocky::run discovering 1 sources",
    "rocky: rocky::run copying staging__orders.orders",
    "rocky: rocky::run copied staging__orders.orders",
    "rocky: rocky::run copying staging__orders.order_items",
    "rocky: rocky::run copied staging__orders.order_items",
    "rocky: rocky::run materialized marts.dim_customers",
    "rocky: rocky::run materialized marts.fct_daily_orders",
    "rocky: rocky::run run complete",
)
_LANDED = re.compile(r"rocky: rocky::run (?:copied|materialized) (\S+) \((\d+) rows\)")
#: The run id is logged once per run, on a line of its own (README, Live logs).
_RUN_ID = re.compile(r"^rocky: run id: (\S+)$")
#: The triggerer's "Trigger fired event" record must show a one-line digest of the event.
MAX_FIRED_EVENT_CHARS = 400


@dataclass
class Ctx:
    api: AirflowAPI
    dep: Deployment
    rep: Reporter
    record: Record
    #: asset event ids per source DAG, as found by check_assets
    events: dict[str, list[int]] = field(default_factory=dict)

    def service_tails(self, *names: str) -> str:
        return "\n".join(self.dep.log_tail(name) for name in names)


def run_check(ctx: Ctx, check: str, body: Any, *args: Any) -> Any:
    """Run one check body; PASS with the info it returns, FAIL with its reason (never raises)."""
    try:
        info = body(ctx, *args)
    except CheckFailed as err:
        ctx.rep.fail(check, err.why, err.detail)
        return None
    except (APIError, OSError, KeyError, ValueError, TypeError, duckdb.Error) as err:
        ctx.rep.fail(check, f"{type(err).__name__}: {err}", indent(ctx.service_tails("scheduler")))
        return None
    ctx.rep.ok(check, info if isinstance(info, str) else "")
    return info if info is not None else True


def wait_success(ctx: Ctx, dag_id: str, run_id: str, timeout: float) -> str:
    """Wait for a DAG run to end; the task logs of a failed run go into the FAIL message."""
    state = ctx.api.wait_run(dag_id, run_id, timeout)
    if state != "success":
        detail = [ctx.service_tails("scheduler")]
        for ti in ctx.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
            if ti["state"] != "success" and int(ti["try_number"]) > 0:
                try:
                    text = log_text(ctx.api.log(dag_id, run_id, ti["task_id"], int(ti["try_number"])))
                except APIError as err:
                    text = str(err)
                detail.append(f"  task {ti['task_id']} {ti['state']}:\n{indent(text)}")
        raise CheckFailed(f"{dag_id} run ended {state!r}", "\n".join(detail))
    return f"run {run_id}"


def engine_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("event", "")).startswith("rocky: ")]


def expected_level(event: str) -> str | None:
    """The level the provider must log an engine line at, where the text tells (README, Live logs).

    A tracing line no longer repeats its level word (the record carries it), so only plain
    ``Error:``/``warning:`` lines, the run id line and the stand-in's known INFO lines are checked.
    """
    rest = event.removeprefix("rocky: ").lower()
    if rest.startswith("error:"):
        return "error"
    if rest.startswith("warning:"):
        return "warning"
    if _RUN_ID.match(event) or any(event.startswith(line) for line in EXPECTED_ENGINE_LINES):
        return "info"
    return None


def check_levels(engine: list[dict[str, Any]]) -> str:
    """Every engine line whose level the text tells at that level; returns the count per level."""
    wrong = [
        f"{e.get('level')}: {e['event']}"
        for e in engine
        if expected_level(str(e["event"])) not in (None, e.get("level"))
    ]
    if wrong:
        raise CheckFailed("engine lines logged at the wrong level", indent("\n".join(wrong)))
    counts: dict[str, int] = {}
    for entry in engine:
        counts[str(entry["level"])] = counts.get(str(entry["level"]), 0) + 1
    return ", ".join(f"{n} {level}" for level, n in sorted(counts.items()))


def check_engine_log(ctx: Ctx, dag_id: str, run_id: str, deferrable: bool) -> str:
    """The engine's lines are in the task log, readable, in order, at INFO, from the right process."""
    entries = ctx.api.log(dag_id, run_id, "rocky_run")
    text = log_text(entries)
    engine = engine_entries(entries)
    events = [str(e["event"]) for e in engine]
    position = 0
    for expected in EXPECTED_ENGINE_LINES:
        found = next((i for i in range(position, len(events)) if events[i].startswith(expected)), None)
        if found is None:
            raise CheckFailed(f"engine line {expected!r} missing or out of order", indent(text))
        position = found + 1
    # A tracing line that escaped rendering would show up as JSON text in some record's message.
    raw = [
        str(e["event"])
        for e in entries
        if '"fields":' in str(e.get("event")) or '"target":"rocky' in str(e.get("event"))
    ]
    if raw:
        raise CheckFailed(f"{len(raw)} raw tracing JSON line(s) in the log", indent("\n".join(raw)))
    levels = check_levels(engine)
    stamps = [str(e.get("timestamp", "")) for e in engine]
    if stamps != sorted(stamps):
        raise CheckFailed("engine lines are not in time order", indent("\n".join(events)))
    source = "RockyRunTrigger" if deferrable else "RockyOperator"
    strangers = [f"{e.get('logger')}: {e['event']}" for e in engine if source not in str(e.get("logger"))]
    if strangers:
        raise CheckFailed(f"engine lines not logged by the {source}", indent("\n".join(strangers)))
    if deferrable:
        handed = [i for i, e in enumerate(entries) if "Running rocky in the triggerer" in str(e.get("event"))]
        resumed = [
            i for i, e in enumerate(entries) if "Rocky run summary: outcome=success" in str(e.get("event"))
        ]
        first = entries.index(engine[0])
        if not handed or not resumed or not handed[0] < first < resumed[0]:
            raise CheckFailed("trigger part (hand-off, engine lines, resume) not in order", indent(text))
    fired_note = ""
    if deferrable:  # the triggerer logs every event it fires: ours must show as a digest, not its payload
        fired = [e for e in entries if str(e.get("event")) == "Trigger fired event"]
        if len(fired) != 1:
            raise CheckFailed(f"{len(fired)} 'Trigger fired event' records (want 1)", indent(text))
        result = str(fired[0].get("result"))
        if len(result) > MAX_FIRED_EVENT_CHARS or not result.startswith("TriggerEvent<rocky exit "):
            raise CheckFailed(f"the fired event is logged as {len(result):,} characters: {result[:300]}")
        fired_note = f"; event logged as {len(result)} characters: {result}"
        held = [str(e.get("event")) for e in entries if str(e.get("event")).startswith("Holding the event")]
        fired_note += f"; {held[0].split(',')[0]}" if held else "; event not held (run outlasted the hold)"
    part = "trigger" if deferrable else "worker"
    return f"{len(engine)} engine lines ({levels}) in the {part} part of the log{fired_note}"


def _truth(ctx: Ctx, dag_id: str, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stand-in's start and end events for this task instance."""
    starts = ctx.record.starts_for_task(dag_id, run_id, "rocky_run")
    if len(starts) != 1:
        raise CheckFailed(f"expected 1 engine invocation for {dag_id}/{run_id}, the record has {len(starts)}")
    end = ctx.record.end_for(int(starts[0]["pid"]))
    if end is None:
        raise CheckFailed(f"the engine (pid {starts[0]['pid']}) recorded no end")
    return starts[0], end


def warehouse_rows(ctx: Ctx, table: str) -> int:
    """Row count of ``table`` (``catalog.schema.table``) in the DuckDB file the engine wrote."""
    schema, name = table.split(".")[-2:]
    for attempt in range(10):
        try:
            with duckdb.connect(str(ctx.dep.warehouse), read_only=True) as con:
                row = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()  # noqa: S608
                return int(row[0]) if row else -1
        except duckdb.IOException:  # a writer holds the file for a moment
            if attempt == 9:
                raise
            time.sleep(0.5)
    return -1


def check_xcom(ctx: Ctx, dag_id: str, run_id: str, deferrable: bool) -> str:
    """The XCom summary matches the run: the record's status and exit code, the log, the warehouse."""
    summary = ctx.api.xcom(dag_id, run_id, "rocky_run")
    if not isinstance(summary, dict):
        raise CheckFailed(f"return_value is not a JSON object: {summary!r}")
    start, end = _truth(ctx, dag_id, run_id)
    problems = []
    for key, want in (("status", end["status"]), ("exit_code", end["exit_code"]), ("outcome", "success")):
        if summary.get(key) != want:
            problems.append(f"{key}={summary.get(key)!r}, the run says {want!r}")
    entries = engine_entries(ctx.api.log(dag_id, run_id, "rocky_run"))
    landed = [m.groups() for e in entries if (m := _LANDED.match(str(e["event"])))]
    n_copied = sum(1 for e in entries if str(e["event"]).startswith("rocky: rocky::run copied "))
    if summary.get("tables_copied") != n_copied:
        problems.append(f"tables_copied={summary.get('tables_copied')}, the log shows {n_copied} copies")
    mats = summary.get("materializations") or []
    got = sorted((str(m["table"]).lstrip("."), int(m["rows_copied"])) for m in mats)
    if len(got) != len(landed) or summary.get("materializations_total") != len(landed):
        problems.append(f"{len(got)} materializations in XCom, the log shows {len(landed)}: {landed}")
    for (table, rows), (log_table, log_rows) in zip(got, sorted(landed, key=lambda x: x[0]), strict=False):
        if not table.endswith(log_table.split(".", 1)[-1]) or rows != int(log_rows):
            problems.append(f"XCom {table} ({rows} rows) vs log {log_table} ({log_rows} rows)")
    for table, rows in got:
        in_warehouse = warehouse_rows(ctx, table)
        if in_warehouse != rows:
            problems.append(f"{table}: XCom says {rows} rows, the warehouse has {in_warehouse}")
    run_ids = [m.group(1) for e in entries if (m := _RUN_ID.match(str(e["event"])))]
    if run_ids != [summary.get("run_id")]:
        problems.append(f"run_id={summary.get('run_id')!r}, the log's run id lines: {run_ids} (want it once)")
    key = "--idempotency-key="
    argv = [str(token) for token in start.get("argv") or []]
    passed_key = next((token[len(key) :] for token in argv if token.startswith(key)), None)
    if summary.get("idempotency_key") != passed_key:
        problems.append(f"idempotency_key={summary.get('idempotency_key')!r}, argv had {passed_key!r}")
    if problems:
        raise CheckFailed("; ".join(problems), indent(json.dumps(summary, indent=1)))
    return (
        f"status={summary['status']} tables_copied={summary['tables_copied']} "
        f"materializations={len(got)}, rows match the warehouse"
    )


def expected_assets(ctx: Ctx, tables: list[str], namespace: str) -> dict[str, tuple[str, str]]:
    """table -> (name, uri) of ``rocky_asset(table, namespace=...)``, computed by the deployed provider."""
    code = (
        "import json, sys\n"
        "from airflow_provider_rocky.assets import rocky_asset\n"
        "ns = sys.argv[1]\n"
        "print(json.dumps({t: [rocky_asset(t, namespace=ns).name, rocky_asset(t, namespace=ns).uri]"
        " for t in sys.argv[2:]}))\n"
    )
    out = run([str(ctx.dep.bindir / "python"), "-c", code, namespace, *tables], env=ctx.dep.env, timeout=120)
    return {table: (pair[0], pair[1]) for table, pair in json.loads(out.strip().splitlines()[-1]).items()}


def check_assets(ctx: Ctx, dag_id: str, run_id: str) -> str:
    """Asset events of the run carry the documented URIs (``rocky_asset``) and ``extra``."""
    summary = ctx.api.xcom(dag_id, run_id, "rocky_run")
    mats = {str(m["table"]): m for m in summary["materializations"]}
    expected = expected_assets(ctx, sorted(mats), f"duckdb://{ctx.dep.warehouse}")
    events = ctx.api.asset_events(source_dag_id=dag_id, source_run_id=run_id)
    by_uri = {str(e["uri"]): e for e in events}
    problems = []
    if len(events) != len(mats):
        problems.append(f"{len(events)} asset events for {len(mats)} materializations")
    for table, (name, uri) in expected.items():
        event = by_uri.get(uri)
        if event is None:
            problems.append(f"no event with uri {uri}")
            continue
        extra = dict(event.get("extra") or {})
        # The extra keeps the engine's own name (it round-trips through rocky_asset); the summary
        # shows it readable, without DuckDB's empty catalog.
        extra["target_table"] = str(extra.get("target_table", "")).removeprefix(".")
        want = {
            "target_table": table,
            "rows_copied": mats[table]["rows_copied"],
            "strategy": mats[table]["strategy"],
            "run_status": summary["status"],
            "engine_version": summary["engine_version"],
        }
        for key, value in want.items():
            if extra.get(key) != value:
                problems.append(f"{uri}: extra[{key}]={extra.get(key)!r}, expected {value!r}")
        for key in ("asset_key", "duration_ms", "started_at"):
            if key not in extra:
                problems.append(f"{uri}: extra has no {key!r}")
        if event.get("name") != name:
            problems.append(f"{uri}: name {event.get('name')!r}, rocky_asset says {name!r}")
    if problems:
        raise CheckFailed("; ".join(problems), indent(json.dumps(events, indent=1)))
    ctx.events[dag_id] = [int(e["id"]) for e in events]
    example = expected.get("marts.fct_daily_orders", ("", "?"))[1]
    return f"{len(events)} events, e.g. {example}"


def check_downstream(ctx: Ctx, source_event_ids: list[int], timeout: float) -> str:
    """The scheduler starts ``rocky_downstream`` from those events, and that run succeeds."""
    deadline = time.monotonic() + timeout
    found: dict[str, Any] | None = None
    while found is None and time.monotonic() < deadline:
        for dag_run in ctx.api.dag_runs("rocky_downstream"):
            upstream = ctx.api.upstream_asset_events("rocky_downstream", dag_run["dag_run_id"])
            if {int(e["id"]) for e in upstream} & set(source_event_ids):
                found = dag_run
                break
        else:
            time.sleep(2)
    if found is None:
        raise CheckFailed(
            f"no rocky_downstream run consumed events {source_event_ids} within {timeout:.0f}s",
            indent(ctx.service_tails("scheduler")),
        )
    run_id = str(found["dag_run_id"])
    if found.get("run_type") != "asset_triggered":
        raise CheckFailed(f"rocky_downstream run {run_id} has run_type {found.get('run_type')!r}")
    wait_success(ctx, "rocky_downstream", run_id, max(deadline - time.monotonic(), 60))
    return f"run {run_id}, SQL checks on the warehouse passed"


def check_failure(ctx: Ctx, run_id: str, task_id: str, category: str, stderr_marker: str) -> str:
    """A failing scenario ends failed, not retried, with ``[rocky:<category>]`` and the stderr tail."""
    dag_id = "rocky_e2e_failures"
    run_state = ctx.api.wait_run(dag_id, run_id, 240)
    if run_state != "failed":
        raise CheckFailed(f"{dag_id} run ended {run_state!r}, expected failed")
    ti = ctx.api.task_instance(dag_id, run_id, task_id)
    entries = ctx.api.log(dag_id, run_id, task_id, max(int(ti["try_number"]), 1))
    text = log_text(entries)
    if ti["state"] != "failed" or int(ti["try_number"]) != 1:
        raise CheckFailed(
            f"state {ti['state']!r} try {ti['try_number']}, expected failed on try 1", indent(text)
        )
    errors = [e for e in entries if e.get("level") in ("error", "critical")]
    tagged = [e for e in errors if f"[rocky:{category}]" in json.dumps(e)]
    if not tagged:
        raise CheckFailed(f"no error-level entry carries [rocky:{category}]", indent(text))
    if stderr_marker not in json.dumps(tagged[-1]):
        raise CheckFailed(f"the error does not end with the stderr tail ({stderr_marker!r})", indent(text))
    engine_errors = [e for e in engine_entries(errors) if stderr_marker in str(e["event"])]
    if not engine_errors:
        raise CheckFailed(f"the engine's {stderr_marker!r} line is not logged at ERROR", indent(text))
    levels = check_levels(engine_entries(entries))
    summary = ctx.api.xcom(dag_id, run_id, task_id)
    if summary.get("category") != category:
        raise CheckFailed(f"XCom category {summary.get('category')!r}, expected {category!r}")
    return f"[rocky:{category}] and {stderr_marker!r} in the log, category in XCom; engine lines: {levels}"


def note_masking(ctx: Ctx, dag_id: str, run_id: str) -> None:
    """Report (not fail) run ids the secret masker redacted in the task log."""
    entries = ctx.api.log(dag_id, run_id, "rocky_run")
    run_type = run_id.split("__", 1)[0]
    masked = [e for e in entries if str(e.get("run_id", "")).startswith("***__")]
    if masked:
        ctx.rep.note(
            f"{dag_id}: {len(masked)} log entries show run_id as '***__...': the non-secret "
            f"ROCKY_RUN_TRIGGER value {run_type!r} was registered with a secret masker (worker or triggerer)"
        )
