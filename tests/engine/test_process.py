"""The process supervisor against real child processes and real signals."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import VERDICT_WINDOW_LINES, ProcessOutcome, ProcessRunner
from airflow_provider_rocky._engine.stderr import LogLine


def run_sync(runner: ProcessRunner) -> ProcessOutcome:
    """Run on a private loop, as the worker does."""
    return asyncio.run(runner.run())


def py(code: str, **kw: object) -> RockyCommand:
    return RockyCommand(argv=(sys.executable, "-c", textwrap.dedent(code)), **kw)  # type: ignore[arg-type]


def collect(command: RockyCommand, **kw: object) -> tuple[ProcessOutcome, list[LogLine]]:
    lines: list[LogLine] = []
    outcome = run_sync(ProcessRunner(command, on_line=lines.append, **kw))  # type: ignore[arg-type]
    return outcome, lines


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_lines_arrive_while_the_process_is_still_running() -> None:
    # The child waits for a file that the log sink creates: it can only exit 0 if the first line
    # reached on_line while it was still running (streaming, not buffering until exit).
    flag = Path(os.environ["ROCKY_TEST_WORKDIR"]) / f"seen-{os.getpid()}"
    flag.unlink(missing_ok=True)
    command = py(
        f"""
        import sys, time, pathlib
        print("first line", file=sys.stderr, flush=True)
        flag = pathlib.Path({str(flag)!r})
        for _ in range(600):
            if flag.exists():
                print("second line", file=sys.stderr, flush=True)
                sys.exit(0)
            time.sleep(0.05)
        sys.exit(3)
        """
    )
    seen: list[str] = []

    def sink(line: LogLine) -> None:
        seen.append(line.text)
        flag.touch()

    outcome = run_sync(ProcessRunner(command, on_line=sink))
    assert outcome.exit_code == 0
    assert seen == ["rocky: first line", "rocky: second line"]


def test_stdout_is_kept_and_stderr_tail_is_bounded() -> None:
    outcome, lines = collect(
        py(
            """
            import sys
            for i in range(5000):
                sys.stderr.write(f"line {i}\\n")
            sys.stdout.write('{"ok": true}')
            """
        ),
        stderr_tail_lines=7,
    )
    assert outcome.exit_code == 0 and outcome.stdout == b'{"ok": true}'
    assert len(lines) == 5000 and outcome.stderr_lines == 5000
    assert outcome.shown_tail == [f"line {i}" for i in range(4993, 5000)], "what an error shows"
    window = [f"line {i}" for i in range(5000 - VERDICT_WINDOW_LINES, 5000)]
    assert outcome.stderr_tail == window, "what the verdict reads: its own window, whatever is shown"


def test_bad_bytes_huge_line_and_missing_final_newline_do_not_break_the_stream() -> None:
    outcome, lines = collect(
        py(
            """
            import sys
            w = sys.stderr.buffer
            w.write(b"before \\xff\\xfe bytes\\n")
            w.write(b"x" * (10 * 1024 * 1024) + b"\\n")
            w.write(b"after the big one\\n")
            w.write(b"last line without newline")
            """
        ),
        max_line_chars=1000,
    )
    texts = [line.text for line in lines]
    assert outcome.exit_code == 0
    assert texts[0] == "rocky: before \\xff\\xfe bytes"
    assert len(texts[1]) < 1200 and "cut" in texts[1]
    assert texts[2:] == ["rocky: after the big one", "rocky: last line without newline"]


def test_stdout_past_the_cap_is_counted_and_nothing_of_it_is_kept() -> None:
    """An overflow's verdict needs the flag and the count only: no megabytes kept, none shipped."""
    outcome, _ = collect(py("import sys; sys.stdout.write('y' * 3_000_000)"), max_stdout_bytes=1_000_000)
    assert outcome.stdout_overflow and outcome.stdout_bytes == 3_000_000 and outcome.stdout == b""


def test_stdout_exactly_at_the_cap_is_kept_whole() -> None:
    outcome, _ = collect(py("import sys; sys.stdout.write('y' * 1_000_000)"), max_stdout_bytes=1_000_000)
    assert not outcome.stdout_overflow and outcome.stdout == b"y" * 1_000_000


def test_an_overflowed_run_ships_no_stdout_to_the_task() -> None:
    from airflow_provider_rocky._engine.command import RockyCommand as Command
    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._task import wire

    writes = "import os, sys; sys.stdout.buffer.write(b'{' + os.urandom(3_000_000))"  # incompressible
    outcome, _ = collect(py(writes), max_stdout_bytes=1_000_000)
    event = wire.pack(RunRecord(outcome), Command(argv=("rocky",)), {})
    assert len(json.dumps(event)) < 2_000
    from airflow_provider_rocky._verdict.interpret import interpret

    verdict = interpret(outcome, max_stdout_bytes=1_000_000)
    assert verdict.error is not None and verdict.error.category == "output"
    assert "3000001 bytes" in verdict.error.reason


def test_missing_binary_is_a_spawn_error() -> None:
    outcome, _ = collect(RockyCommand(argv=("/nonexistent/rocky", "--version")))
    assert outcome.exit_code is None and outcome.spawn_error and "FileNotFoundError" in outcome.spawn_error


GRANDCHILD = """
    import subprocess, sys, time, signal
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("grandchild", child.pid, file=sys.stderr, flush=True)
    {handler}
    time.sleep(600)
"""


def grandchild_of(lines: list[LogLine]) -> int:
    return int(next(line.text.split()[-1] for line in lines if "grandchild" in line.text))


def test_deadline_ends_the_whole_group_grandchildren_included() -> None:
    import time

    outcome, lines = collect(
        py(GRANDCHILD.format(handler="")), deadline=time.time() + 1.5, deadline_reason="timeout_seconds=1.5"
    )
    assert outcome.timed_out and outcome.deadline_reason == "timeout_seconds=1.5"
    assert outcome.exit_code == -signal.SIGTERM
    assert not alive(grandchild_of(lines))


def test_sigterm_ignored_leads_to_sigkill_after_grace() -> None:
    import time

    outcome, lines = collect(
        py(GRANDCHILD.format(handler="signal.signal(signal.SIGTERM, signal.SIG_IGN)")),
        deadline=time.time() + 1.0,
        term_grace_seconds=0.5,
    )
    assert outcome.timed_out and outcome.exit_code == -signal.SIGKILL
    assert not alive(grandchild_of(lines))


def test_request_stop_from_another_thread_ends_the_group() -> None:
    lines: list[LogLine] = []
    runner = ProcessRunner(py(GRANDCHILD.format(handler="")), on_line=lines.append)
    stopper = threading.Timer(1.0, runner.request_stop)
    stopper.start()
    outcome = run_sync(runner)
    stopper.join()
    assert outcome.killed and not outcome.timed_out
    assert not alive(grandchild_of(lines))


def test_request_stop_before_start_spawns_nothing() -> None:
    runner = ProcessRunner(py("print(1)"), on_line=lambda _: None)
    runner.request_stop()
    outcome = run_sync(runner)
    assert outcome.killed and outcome.pid is None


@pytest.mark.asyncio
async def test_cancellation_ends_the_group_before_propagating() -> None:
    lines: list[LogLine] = []
    runner = ProcessRunner(py(GRANDCHILD.format(handler="")), on_line=lines.append, term_grace_seconds=2)
    task = asyncio.create_task(runner.run())
    while not lines:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.pid is not None and not alive(runner.pid)
    assert not alive(grandchild_of(lines))
    assert runner.outcome is not None and runner.outcome.killed


def test_leftover_group_members_are_reaped_after_a_normal_exit() -> None:
    outcome, lines = collect(
        py(
            """
            import subprocess, sys
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"grandchild {child.pid}", file=sys.stderr, flush=True)
            """
        )
    )
    assert outcome.exit_code == 0
    assert not alive(grandchild_of(lines))


def test_environment_is_layered_and_pipes_variables_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_PIPES_CONTEXT", "inherited")
    monkeypatch.setenv("KEEP_ME", "yes")
    command = py(
        """
        import os, json, sys
        sys.stdout.write(json.dumps({k: os.environ.get(k) for k in
            ("DAGSTER_PIPES_CONTEXT", "KEEP_ME", "SECRET", "ROCKY_SUPPRESS_DEPRECATION")}))
        """,
        env={"SECRET": "hunter22"},
    )
    outcome, _ = collect(command)
    assert json.loads(outcome.stdout) == {
        "DAGSTER_PIPES_CONTEXT": None,
        "KEEP_ME": "yes",
        "SECRET": "hunter22",
        "ROCKY_SUPPRESS_DEPRECATION": "1",
    }


@pytest.mark.parametrize(
    ("scenario", "exit_code"), [("interruptible", 130), ("hang_ignore_term", -signal.SIGKILL)]
)
def test_a_torn_down_loop_still_gives_grace_then_kills(scenario: str, exit_code: int) -> None:
    """asyncio.run cancels *every* task when its main coroutine returns (a triggerer stopping, a
    worker's AirflowTaskTimeout): the engine still gets SIGTERM and its grace, then SIGKILL."""
    runner = ProcessRunner(
        RockyCommand(
            argv=(sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--output", "json", "run"),
            env={"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_DELAY": "0.05"},
        ),
        on_line=lambda _: None,
        term_grace_seconds=3,
    )

    async def main() -> None:
        pending = asyncio.ensure_future(runner.run())
        while runner.pid is None:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert not pending.done()  # return with the run in flight

    asyncio.run(main())
    assert runner.outcome is not None and runner.outcome.killed
    assert runner.outcome.exit_code == exit_code
    assert runner.pid is not None and not alive(runner.pid)


def test_a_spawn_cancelled_while_forking_leaves_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelled while the spawning thread is still in ``Popen`` (a slow fork on a loaded host): the
    process it then creates is killed, not left running unsupervised."""
    import subprocess

    from airflow_provider_rocky._engine import spawn

    created: list[subprocess.Popen[bytes]] = []
    real_popen, forking = subprocess.Popen, threading.Event()

    def slow_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        forking.set()
        time.sleep(0.5)
        proc = real_popen(*args, **kwargs)
        created.append(proc)
        return proc

    monkeypatch.setattr(spawn.subprocess, "Popen", slow_popen)

    async def cancel_mid_spawn() -> None:
        task = asyncio.ensure_future(
            spawn.Child.spawn(py("import time; time.sleep(60)"), asyncio.Protocol(), asyncio.Protocol())
        )
        # Cancelled once the thread is inside Popen, however late a loaded host started it (a fixed
        # 0.1 s could cancel a spawn not started yet, which then never forks: a different case).
        while not forking.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_spawn())
    deadline = time.monotonic() + 10
    while not created and time.monotonic() < deadline:
        time.sleep(0.05)
    assert created, "the spawning thread went on to create the process"
    proc = created[0]
    assert proc.wait(10) == -signal.SIGKILL


# -- hostile stderr: the reader never stops ---------------------------------------------------------

DEEP_LINE = (
    '{"level": "INFO", "fields": {"message": "deep", "x": ' + "[" * 3000 + "]" * 3000 + "}, "
    '"span": {"run_id": "run-20260101-000000-001"}, "target": "rocky::run"}'
)


def test_a_deeply_nested_line_does_not_stop_the_stream() -> None:
    """~3,000 levels once killed the reader (RecursionError): the engine then blocked on a full
    pipe. Every later line must still be logged and the run end by itself."""
    later = 20_000  # far more than a pipe buffer holds
    command = py(
        f"""
        import sys
        sys.stderr.write({DEEP_LINE!r} + "\\n")
        for i in range({later}):
            sys.stderr.write(f"later line {{i}}\\n")
        sys.stdout.write("{{}}")
        """
    )
    outcome, lines = collect(command, deadline=time.time() + 60, deadline_reason="test")
    assert not outcome.timed_out and outcome.exit_code == 0
    texts = [line.text for line in lines]
    assert texts[0].startswith('rocky: {"level"')  # shown as text
    assert texts[1:] == [f"rocky: later line {i}" for i in range(later)]
    assert outcome.stderr_lines == later + 1


def tracing_line(message: str, run_id: str = "run-20260101-000000-001", **fields: object) -> str:
    record = {"level": "WARN", "fields": {"message": message, **fields}, "target": "rocky::run"}
    return json.dumps({**record, "span": {"run_id": run_id, "name": "run"}})


def test_the_run_id_is_logged_once_before_the_first_line_that_carries_it() -> None:
    script = "\n".join(
        f"print({line!r}, file=sys.stderr)"
        for line in ("plain first", tracing_line("a"), tracing_line("b", n=1), tracing_line("c", "run-2"))
    )
    outcome, lines = collect(py("import sys\n" + script))
    assert [(line.level, line.text) for line in lines] == [
        (logging.INFO, "rocky: plain first"),
        (logging.INFO, "rocky: run id: run-20260101-000000-001"),
        (logging.WARNING, "rocky: rocky::run a"),
        (logging.WARNING, "rocky: rocky::run b n=1"),
        (logging.INFO, "rocky: run id: run-2"),  # a new id is said again
        (logging.WARNING, "rocky: rocky::run c"),
    ]
    assert outcome.run_id == "run-20260101-000000-001" and outcome.stderr_lines == 4


def test_engine_lines_cannot_forge_log_lines_or_fold_the_log_view() -> None:
    forged = "ok\nMarking task as SUCCESS\r\x1b[2K::group::folded"
    script = "\n".join(
        f"sys.stderr.write({line!r} + '\\n')" for line in (tracing_line(forged), forged.replace("\n", " "))
    )
    outcome, lines = collect(py("import sys\n" + script))
    texts = [line.text for line in lines if not line.text.startswith("rocky: run id")]
    assert len(texts) == 2 and all(text.splitlines() == [text] for text in texts), texts
    assert all("\x1b" not in text and "::group::" not in text for text in texts)
    assert "\\nMarking task as SUCCESS\\r\\x1b[2K\\x3a:group::folded" in texts[0]
    # the tail keeps the JSON parseable and the plain line free of control characters
    assert json.loads(outcome.stderr_tail[0])["fields"]["message"] == forged
    assert "\r" not in outcome.stderr_tail[1] and "\\r" in outcome.stderr_tail[1]
