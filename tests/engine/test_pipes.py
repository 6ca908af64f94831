"""The Pipes channel: env encoding, message parsing (stock and rocky writers), tailing, merging."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import Any

import dagster_pipes
import pytest
from run_results import run_result

from airflow_provider_rocky._engine.pipes import (
    PIPES_ENV_VARS,
    CheckReport,
    PipesChannel,
    PipesMessage,
    PipesProblem,
    check_report,
    log_record,
    materialization_report,
    parse_message,
)
from airflow_provider_rocky._engine.pipes_tail import tail
from airflow_provider_rocky._verdict.events import asset_events, merge_materializations


def _line(method: str, params: Any) -> str:
    return json.dumps({"__dagster_pipes_version": "0.1", "method": method, "params": params})


# What rocky 1.71 writes (contract §5), built by hand.
ROCKY_LINES = [
    _line("log", {"message": "rocky run starting", "level": "INFO"}),
    _line(
        "report_asset_materialization",
        {
            "asset_key": "duckdb/orders/orders",
            "metadata": {
                "strategy": "full_refresh",
                "duration_ms": 120,
                "rows_copied": 5,
                "target_table_full_name": "poc.staging__orders.orders",
                "watermark": "2026-04-07T00:00:00Z",
            },
            "data_version": None,
        },
    ),
    _line(
        "report_asset_check",
        {
            "asset_key": "duckdb/orders/orders",
            "check_name": "null_rate_amount",
            "passed": False,
            "severity": "ERROR",
            "metadata": {"name": "null_rate:amount", "passed": False, "column": "amount", "null_rate": 0.2},
        },
    ),
    _line(
        "report_asset_check",
        {
            "asset_key": "poc.staging__orders.orders",
            "check_name": "drift",
            "passed": True,
            "severity": "WARN",
            "metadata": {"table": "poc.staging__orders.orders", "action": "drop_and_recreate", "reason": "x"},
        },
    ),
    _line(
        "log",
        {"message": "rocky drift on poc.staging__orders.orders: drop_and_recreate (x)", "level": "WARN"},
    ),
    _line("log", {"message": "rocky run complete: 1 copied, 0 failed in 130ms", "level": "INFO"}),
    _line("closed", None),
]


class _RockyParamsLoader(dagster_pipes.PipesMappingParamsLoader):
    """Reads the env exactly as rocky does: base64 JSON, no zlib."""

    def load_context_params(self) -> Any:
        return json.loads(base64.b64decode(self._mapping[dagster_pipes.DAGSTER_PIPES_CONTEXT_ENV_VAR]))

    def load_messages_params(self) -> Any:
        return json.loads(base64.b64decode(self._mapping[dagster_pipes.DAGSTER_PIPES_MESSAGES_ENV_VAR]))


def _read_all(path: Path) -> list[PipesMessage | PipesProblem]:
    return [parse_message(line) for line in path.read_text().splitlines() if line.strip()]


# -- channel ------------------------------------------------------------------------------------


def test_channel_env_is_base64_json_without_zlib(tmp_path: Path) -> None:
    with PipesChannel(tmp_path, context={"run_id": "manual__1", "job_name": "d.t"}) as channel:
        env = channel.env()
        assert set(env) == set(PIPES_ENV_VARS) == {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"}
        raw = base64.b64decode(env["DAGSTER_PIPES_MESSAGES"])
        assert json.loads(raw) == {"path": str(channel.path)}
        with pytest.raises(zlib.error):
            zlib.decompress(raw)
        context = json.loads(base64.b64decode(env["DAGSTER_PIPES_CONTEXT"]))["data"]
        assert (context["run_id"], context["job_name"], context["asset_keys"]) == ("manual__1", "d.t", None)
        assert channel.path.parent == tmp_path and channel.path.exists()
        assert stat.S_IMODE(channel.path.stat().st_mode) == 0o600
    assert not channel.path.exists()
    channel.close()  # idempotent


def decode_env_value(text: str) -> object:
    """A Pipes env value: rocky's base64 JSON, or stock dagster's base64(zlib(JSON))."""
    raw = base64.b64decode(text)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return json.loads(zlib.decompress(raw))


def test_decode_env_value_reads_both_rocky_and_stock_encodings() -> None:
    assert decode_env_value(base64.b64encode(b'{"path": "/x"}').decode()) == {"path": "/x"}
    assert decode_env_value(dagster_pipes.encode_param({"path": "/y"})) == {"path": "/y"}


def test_without_pipes_env_strips_inherited_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the engine is spawned with: inherited Pipes variables are dropped from its environment."""
    from airflow_provider_rocky._engine.command import RockyCommand

    monkeypatch.setenv("DAGSTER_PIPES_CONTEXT", "x")
    monkeypatch.setenv("DAGSTER_PIPES_MESSAGES", "y")
    env = RockyCommand(argv=("rocky",)).child_env()
    assert not set(PIPES_ENV_VARS) & set(env) and env["PATH"] == os.environ["PATH"]


# -- parsing ------------------------------------------------------------------------------------


def test_stock_dagster_pipes_context_writes_parseable_messages(tmp_path: Path) -> None:
    with PipesChannel(tmp_path) as channel:
        context = dagster_pipes.PipesContext(
            _RockyParamsLoader(channel.env()),
            dagster_pipes.PipesDefaultContextLoader(),
            dagster_pipes.PipesDefaultMessageWriter(),
        )
        context.log.warning("half way")
        context.report_asset_materialization(
            asset_key="/marts/fct",
            metadata={
                "strategy": "time_interval",
                "rows_copied": {"raw_value": 7, "type": "int"},
                "target_table_full_name": ".marts.fct",
                "partition_key": "2026-04-04",
            },
            data_version="v1",
        )
        context.report_asset_check(
            check_name="row_count", passed=True, asset_key="/marts/fct", metadata={"target_count": 7}
        )
        context.close()
        items = _read_all(channel.path)
    assert all(isinstance(i, PipesMessage) for i in items), items
    msgs = [i for i in items if isinstance(i, PipesMessage)]
    assert [m.method for m in msgs] == [
        "opened",
        "log",
        "report_asset_materialization",
        "report_asset_check",
        "closed",
    ]
    assert log_record(msgs[1]) == (logging.WARNING, "half way")
    mat = materialization_report(msgs[2])
    # stock writers wrap every value as {"raw_value", "type"}; parsing makes them plain again
    assert mat.metadata == {
        "strategy": "time_interval",
        "rows_copied": 7,
        "target_table_full_name": ".marts.fct",
        "partition_key": "2026-04-04",
    }
    assert (mat.asset_key_parts, mat.partition_key, mat.data_version) == (
        ["", "marts", "fct"],
        "2026-04-04",
        "v1",
    )
    check = check_report(msgs[3])
    assert (check.check_name, check.passed, check.severity, check.metadata) == (
        "row_count",
        True,
        "ERROR",
        {"target_count": 7},
    )


def test_stock_file_writer_channel_lines_parse(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    writer = dagster_pipes.PipesFileMessageWriterChannel(str(path))
    writer.write_message(
        {"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "m", "level": "ERROR"}}
    )
    writer.write_message({"__dagster_pipes_version": "0.1", "method": "closed", "params": {}})
    first, last = _read_all(path)
    assert isinstance(first, PipesMessage) and log_record(first) == (logging.ERROR, "m")
    assert isinstance(last, PipesMessage) and last.method == "closed"


def test_rocky_style_lines_translate() -> None:
    items = [parse_message(line) for line in ROCKY_LINES]
    assert all(isinstance(i, PipesMessage) for i in items)
    msgs = [i for i in items if isinstance(i, PipesMessage)]
    assert log_record(msgs[0]) == (logging.INFO, "rocky run starting")
    mat = materialization_report(msgs[1])
    assert mat.target_table == "poc.staging__orders.orders"
    assert mat.partition_key is None and mat.data_version is None
    assert mat.metadata["rows_copied"] == 5
    failed = check_report(msgs[2])
    assert (failed.passed, failed.severity, failed.is_drift) == (False, "ERROR", False)
    assert failed.asset_key_parts == ["duckdb", "orders", "orders"]
    assert failed.metadata["null_rate"] == 0.2  # plain metadata stays plain
    drift = check_report(msgs[3])
    assert drift.is_drift and drift.asset_key_parts == ["poc", "staging__orders", "orders"]
    assert log_record(msgs[4])[0] == logging.WARNING
    assert msgs[-1] == PipesMessage("closed", {})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"method": "log", "params": {"message": "x"}}), "missing"),
        (
            json.dumps({"__dagster_pipes_version": "0.2", "method": "log", "params": {"message": "x"}}),
            "version",
        ),
        (_line("report_everything", {}), "unknown Pipes method"),
        (_line("log", ["x"]), "must be an object"),
        (_line("log", {"level": "INFO"}), "message"),
        (_line("report_asset_check", {"asset_key": "a", "check_name": "c", "passed": "yes"}), "passed"),
        (_line("report_asset_materialization", {"metadata": {}}), "asset_key"),
    ],
)
def test_bad_lines_become_problems_not_exceptions(line: str, reason: str) -> None:
    item = parse_message(line)
    assert isinstance(item, PipesProblem)
    assert reason in item.reason
    assert item.line == line[:200]


def test_log_levels() -> None:
    def level(value: Any) -> int:
        msg = parse_message(_line("log", {"message": "m", "level": value}))
        assert isinstance(msg, PipesMessage)
        return log_record(msg)[0]

    assert [level(v) for v in ("WARN", "info", "ERROR", "TRACE", "NOPE", None)] == [
        logging.WARNING,
        logging.INFO,
        logging.ERROR,
        logging.DEBUG,
        logging.INFO,
        logging.INFO,
    ]


# -- merging with stdout ------------------------------------------------------------------------


def _report(asset_key: str, **metadata: Any) -> Any:
    msg = parse_message(
        _line(
            "report_asset_materialization",
            {"asset_key": asset_key, "metadata": metadata, "data_version": "dv"},
        )
    )
    assert isinstance(msg, PipesMessage)
    return materialization_report(msg)


def test_merge_enriches_adds_pipes_only_and_never_duplicates() -> None:
    ns = "duckdb:///data/wh.duckdb"
    part = {"key": "2026-04-04", "start": "2026-04-04T00:00:00Z", "end": "2026-04-05T00:00:00Z"}
    stdout = asset_events(
        run_result(
            [
                {
                    "asset_key": ["duckdb", "o", "o"],
                    "duration_ms": 9,
                    "rows_copied": None,
                    "metadata": {"strategy": "full_refresh", "target_table_full_name": "wh.raw.o"},
                },
                {
                    "asset_key": ["", "marts", "f"],
                    "duration_ms": 3,
                    "partition": part,
                    "metadata": {"strategy": "time_interval", "target_table_full_name": ".marts.f"},
                },
            ]
        ),
        namespace=ns,
    )
    reports = [
        _report(
            "duckdb/o/o", strategy="WRONG", duration_ms=9, rows_copied=11, target_table_full_name="wh.raw.o"
        ),
        _report(
            "/marts/f",
            strategy="time_interval",
            duration_ms=3,
            target_table_full_name=".marts.f",
            partition_key="2026-04-04",
        ),
        _report(
            "/marts/f",
            strategy="time_interval",
            duration_ms=4,
            target_table_full_name=".marts.f",
            partition_key="2026-04-05",
        ),
        _report("/marts/g", strategy="full_refresh", duration_ms=5),  # no target name: key is the table
    ]
    merged = merge_materializations(stdout, reports, namespace=ns, run_status="Success")
    assert [(s.extra["target_table"], s.partition_key) for s in merged] == [
        ("wh.raw.o", None),
        (".marts.f", "2026-04-04"),
        (".marts.f", "2026-04-05"),
        (".marts.g", None),
    ]
    enriched = merged[0].extra
    assert enriched["strategy"] == "full_refresh"  # stdout wins
    assert (enriched["rows_copied"], enriched["data_version"]) == (11, "dv")  # pipes fills gaps
    assert "reported_by" not in enriched and "reported_by" not in merged[1].extra
    assert merged[2].extra["reported_by"] == "pipes" and merged[2].extra["run_status"] == "Success"
    assert merged[2].uri == merged[1].uri == "duckdb:/data/wh.duckdb/wh/marts/f"
    assert merged[3].extra["asset_key"] == ["", "marts", "g"]
    assert merge_materializations(merged, reports, namespace=ns) == merged  # idempotent: no duplicates


# -- tailing ------------------------------------------------------------------------------------


async def _append(path: Path, *pieces: str) -> None:
    for piece in pieces:
        with path.open("a", encoding="utf-8") as f:
            f.write(piece)
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_tail_follows_a_concurrent_writer_with_split_lines_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.touch()
    seen: list[PipesMessage | PipesProblem] = []
    stop = asyncio.Event()
    first, second = ROCKY_LINES[0], ROCKY_LINES[1]
    writer = asyncio.create_task(
        _append(
            path,
            first[:10],  # a line cut mid-way: must wait for its newline
            first[10:] + "\n" + second[:30],
            second[30:] + "\n{broken\n",
            "".join(line + "\n" for line in ROCKY_LINES[2:]),
            _line("log", {"message": "after closed", "level": "INFO"}) + "\n",
        )
    )
    stats = await asyncio.wait_for(tail(path, seen.append, stop, poll_interval=0.01), timeout=30)
    await writer
    assert stats.closed and (stats.messages, stats.problems) == (len(ROCKY_LINES), 1)
    methods = [i.method if isinstance(i, PipesMessage) else "problem" for i in seen]
    assert methods == [
        "log",
        "report_asset_materialization",
        "problem",
        "report_asset_check",
        "report_asset_check",
        "log",
        "log",
        "closed",
    ]
    assert not stop.is_set()  # it stopped on `closed`, not on the event


@pytest.mark.asyncio
async def test_tail_drains_after_stop_including_an_unterminated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    seen: list[PipesMessage | PipesProblem] = []
    stop = asyncio.Event()

    async def engine() -> None:
        await asyncio.sleep(0.05)  # the file does not exist yet when tail starts
        await _append(path, ROCKY_LINES[0] + "\n", ROCKY_LINES[1] + "\n" + ROCKY_LINES[5])  # no final newline
        stop.set()  # the process exited

    async def record(item: PipesMessage | PipesProblem) -> None:  # async callbacks are awaited
        await asyncio.sleep(0)
        seen.append(item)

    task = asyncio.create_task(engine())
    stats = await asyncio.wait_for(tail(path, record, stop, poll_interval=0.01), timeout=30)
    await task
    assert not stats.closed and stats.messages == 3 and stats.problems == 0
    assert [m.params.get("message") for m in seen if isinstance(m, PipesMessage) and m.method == "log"] == [
        "rocky run starting",
        "rocky run complete: 1 copied, 0 failed in 130ms",
    ]


@pytest.mark.asyncio
async def test_tail_drops_an_over_long_line_and_continues(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text("x" * 5000 + "\n" + ROCKY_LINES[0] + "\n")
    seen: list[PipesMessage | PipesProblem] = []
    stop = asyncio.Event()
    stop.set()
    stats = await tail(path, seen.append, stop, chunk_bytes=512, max_line_bytes=1024)
    assert stats.problems == 1 and isinstance(seen[0], PipesProblem) and "longer than 1024" in seen[0].reason
    assert isinstance(seen[1], PipesMessage) and seen[1].method == "log" and len(seen) == 2


@pytest.mark.asyncio
async def test_tail_reads_a_subprocess_that_finds_the_file_through_the_env(tmp_path: Path) -> None:
    """A child process decodes DAGSTER_PIPES_MESSAGES the way rocky does and appends as it runs."""
    script = (
        "import base64, json, os, sys, time\n"
        "path = json.loads(base64.b64decode(os.environ['DAGSTER_PIPES_MESSAGES']))['path']\n"
        "assert os.environ['DAGSTER_PIPES_CONTEXT']\n"
        "for line in sys.stdin.read().splitlines():\n"
        "    with open(path, 'a') as f:\n"
        "        f.write(line + '\\n'); f.flush()\n"
        "    time.sleep(0.01)\n"
    )
    with PipesChannel(tmp_path) as channel:
        stop = asyncio.Event()
        seen: list[PipesMessage | PipesProblem] = []
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdin=asyncio.subprocess.PIPE, env={**os.environ, **channel.env()}
        )
        tailer = asyncio.create_task(tail(channel.path, seen.append, stop, poll_interval=0.01))
        await proc.communicate(
            "\n".join(ROCKY_LINES[:-1]).encode()
        )  # rocky's transformation path: no `closed`
        assert proc.returncode == 0
        stop.set()
        stats = await asyncio.wait_for(tailer, timeout=30)
    assert stats.messages == len(ROCKY_LINES) - 1 and stats.problems == 0
    reports = [
        check_report(m) for m in seen if isinstance(m, PipesMessage) and m.method == "report_asset_check"
    ]
    assert [r.check_name for r in reports] == ["null_rate_amount", "drift"]
    assert isinstance(reports[0], CheckReport)


# -- hostile and huge channels --------------------------------------------------------------------

DEEP_PIPES_LINE = (
    '{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "x", "deep": '
    + "[" * 5000
    + "]" * 5000
    + "}}"
)


def test_a_deeply_nested_message_is_a_problem_not_an_exception() -> None:
    item = parse_message(DEEP_PIPES_LINE)
    assert isinstance(item, PipesProblem) and "nested deeper" in item.reason


def _engine_writing(tmp_path: Path, lines: list[str], stdout: str = "") -> Any:
    """An engine stand-in that writes ``lines`` to its Pipes channel, then ``stdout``."""
    from airflow_provider_rocky._engine.command import RockyCommand

    source = tmp_path / "messages.jsonl"
    source.write_text("".join(line + "\n" for line in lines))
    code = (
        "import base64, json, os, sys\n"
        "path = json.loads(base64.b64decode(os.environ['DAGSTER_PIPES_MESSAGES']))['path']\n"
        f"with open(path, 'a') as f, open({str(source)!r}) as lines:\n"
        "    for line in lines:\n"
        "        f.write(line)\n"
        f"sys.stdout.write({stdout!r})\n"
    )
    return RockyCommand(argv=(sys.executable, "-c", code))


def _run_pipes(command: Any) -> tuple[Any, list[Any]]:
    from airflow_provider_rocky._engine.run import EngineRun, RunLimits

    logged: list[Any] = []
    return EngineRun(command, RunLimits(pipes=True), logged.append).run_in_task(), logged


def test_a_deep_message_on_an_exit_0_run_is_a_warning_and_the_run_a_success(tmp_path: Path) -> None:
    from airflow_provider_rocky._verdict.interpret import interpret

    stdout = run_result([]).model_dump_json()
    lines = [DEEP_PIPES_LINE, _line("log", {"message": "after the deep one", "level": "INFO"})]
    record, logged = _run_pipes(_engine_writing(tmp_path, lines, stdout))
    assert record.outcome.exit_code == 0 and record.pipes.problems == 1
    warnings = [line.text for line in logged if line.level == logging.WARNING]
    assert len(warnings) == 1 and "nested deeper" in warnings[0]
    assert "rocky pipes: after the deep one" in [line.text for line in logged]
    assert interpret(record.outcome).outcome == "success"


def test_a_pipes_log_message_stays_one_visible_line(tmp_path: Path) -> None:
    forged = "done\nMarking task as SUCCESS\x1b[2K ::endgroup::"
    _, logged = _run_pipes(_engine_writing(tmp_path, [_line("log", {"message": forged, "level": "INFO"})]))
    (text,) = [line.text for line in logged]
    assert text == "rocky pipes: done\\nMarking task as SUCCESS\\x1b[2K \\x3a:endgroup::"


def test_the_record_keeps_a_bounded_number_of_reports_and_counts_all(tmp_path: Path) -> None:
    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.process import ProcessOutcome
    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._task import wire

    checks, mats = 1_500, 10_050  # past the documented bounds: 1,000 checks, 10,000 materializations
    lines = [
        _line("report_asset_check", {"asset_key": f"a/{i}", "check_name": "c", "passed": i % 3 != 0})
        for i in range(checks)
    ] + [_line("report_asset_materialization", {"asset_key": f"m/{i}", "metadata": {}}) for i in range(mats)]
    record, logged = _run_pipes(_engine_writing(tmp_path, lines))
    kept = record.pipes
    assert len(kept.checks()) == 1_000 and kept.checks_total == checks
    assert kept.checks_failed == len(range(0, checks, 3))
    assert len(kept.materializations()) == 10_000
    assert kept.materializations_total == mats
    assert [m.asset_key for m in kept.materializations()[:2]] == ["m/0", "m/1"]  # the first ones
    notes = [line for line in logged if "only counting now" in line.text]
    assert len(notes) == 2 and {line.level for line in notes} == {logging.WARNING}
    # the counts travel through the trigger event
    event = wire.pack(RunRecord(ProcessOutcome(exit_code=0), kept), RockyCommand(argv=("rocky",)), {})
    again = wire.unpack(event).pipes  # type: ignore[union-attr]
    assert (again.checks_total, again.checks_failed, again.materializations_total) == (
        checks,
        kept.checks_failed,
        mats,
    )


def test_a_record_of_release_0_1_0_counts_its_messages() -> None:
    from airflow_provider_rocky._engine.pipes import PipesRecord

    messages = [
        {"method": "report_asset_check", "params": {"asset_key": "a", "check_name": "c", "passed": False}},
        {"method": "report_asset_materialization", "params": {"asset_key": "m", "metadata": {}}},
    ]
    old = PipesRecord.from_wire({"messages": messages, "problems": 2})
    assert (old.checks_total, old.checks_failed, old.materializations_total, old.problems) == (1, 1, 1, 2)
