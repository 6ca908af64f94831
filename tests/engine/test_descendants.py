"""Every process of a run ends with it: descendants that left the group (``setsid``), in both modes.

The engine stand-ins here daemonize a helper the classic way (``fork``, ``setsid``, ``fork``, the
middle process exits): the helper is in another session and process group, its parent is init, and
it holds the engine's stderr open. ``killpg`` on the engine's group cannot reach it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.descendants import TOKEN_ENV, RunProcesses
from airflow_provider_rocky._engine.process import ProcessRunner
from airflow_provider_rocky._engine.run import EngineRun, RunLimits
from airflow_provider_rocky._engine.stderr import LogLine
from airflow_provider_rocky._task import wire
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

#: Daemonizes a helper that reports its pid (on stderr and in ``{pidfile}``), then runs ``{after}``.
#: With ``{pipes}``, the helper appends to the Pipes messages file every 50 ms, as one that re-created
#: the deleted file did.
ESCAPER = """
import base64, json, os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        path = {pipes} and json.loads(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"]))["path"]
        while True:
            if path:
                open(path, "a").close()
            time.sleep(0.05)
    os._exit(0)
os.close(w)
daemon = int(os.read(r, 32))
with open({pidfile!r}, "w") as f:
    f.write(str(daemon))
print(f"escaped {{daemon}}", file=sys.stderr, flush=True)
{after}
"""


class Escaper:
    """An engine stand-in with a helper that left its group; ``pid`` is the helper's, once known."""

    def __init__(self, tmp_path: Path, after: str = "", *, pipes: bool = False) -> None:
        self.pidfile = tmp_path / "helper.pid"
        code = textwrap.dedent(ESCAPER).format(after=after, pipes=pipes, pidfile=str(self.pidfile))
        self.command = RockyCommand(argv=(sys.executable, "-c", code), cwd=str(tmp_path))

    @property
    def started(self) -> bool:
        return self.pidfile.exists() and bool(self.pidfile.read_text())

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_sync(command: RockyCommand, **kw: object) -> ProcessRunner:
    runner = ProcessRunner(command, on_line=lambda _: None, **kw)  # type: ignore[arg-type]
    asyncio.run(runner.run())
    return runner


def test_the_helper_escapes_the_group_but_carries_the_token(tmp_path: Path) -> None:
    """What the tests below rely on: the helper is outside the engine's group, with the run's token."""
    engine = Escaper(tmp_path, "import time; time.sleep(600)")
    runner = ProcessRunner(engine.command, on_line=lambda _: None)

    async def look() -> None:
        task = asyncio.ensure_future(runner.run())
        while not engine.started:
            await asyncio.sleep(0.05)
        assert runner.pid is not None and os.getpgid(engine.pid) != runner.pid
        assert (
            os.getsid(engine.pid) != os.getsid(runner.pid) and psutil.Process(engine.pid).ppid() != runner.pid
        )
        assert psutil.Process(engine.pid).environ()[TOKEN_ENV]
        runner.request_stop()
        await task

    asyncio.run(look())
    assert not alive(engine.pid)


def test_sync_a_normal_exit_ends_a_helper_that_left_the_group(tmp_path: Path) -> None:
    engine = Escaper(tmp_path)
    runner = run_sync(engine.command)
    assert runner.outcome is not None and runner.outcome.exit_code == 0
    assert not alive(engine.pid), "the setsid() helper outlived the run"


def test_sync_the_deadline_ends_a_helper_that_left_the_group(tmp_path: Path) -> None:
    engine = Escaper(tmp_path, "import time; time.sleep(600)")
    runner = run_sync(engine.command, deadline=time.time() + 1.5)
    assert runner.outcome is not None and runner.outcome.timed_out
    assert not alive(engine.pid), "the setsid() helper outlived the run"


def test_sync_end_now_ends_a_helper_that_left_the_group(tmp_path: Path) -> None:
    """``on_kill``'s path: ended synchronously from another thread."""
    engine = Escaper(tmp_path, "import time; time.sleep(600)")
    runner = ProcessRunner(engine.command, on_line=lambda _: None)

    def kill_when_started() -> None:
        while not engine.started:
            time.sleep(0.05)
        runner.end_now(2.0)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    asyncio.run(runner.run())
    killer.join()
    assert not alive(engine.pid), "the setsid() helper outlived the run"


def test_sync_a_pipes_run_leaves_no_helper_to_recreate_the_channel_file(tmp_path: Path) -> None:
    engine = Escaper(tmp_path, pipes=True)
    lines: list[LogLine] = []
    record = EngineRun(engine.command, RunLimits(pipes=True), lines.append).run_in_task()
    assert record.outcome.exit_code == 0 and record.pipes is not None
    assert not alive(engine.pid), "the setsid() helper outlived the run"


@pytest.mark.asyncio
async def test_trigger_a_normal_exit_ends_a_helper_that_left_the_group(tmp_path: Path) -> None:
    engine = Escaper(tmp_path)
    trigger = RockyRunTrigger(engine.command.serialize(), term_grace_seconds=2)
    (event,) = [event async for event in trigger.run()]
    assert wire.unpack(event.payload).outcome.exit_code == 0  # type: ignore[union-attr]
    assert not alive(engine.pid), "the setsid() helper outlived the run"


@pytest.mark.asyncio
async def test_trigger_cancellation_ends_a_helper_that_left_the_group(tmp_path: Path) -> None:
    engine = Escaper(tmp_path, "import time; time.sleep(600)")
    trigger = RockyRunTrigger(engine.command.serialize(), term_grace_seconds=2)
    task = asyncio.create_task(anext(trigger.run()))
    while not engine.started:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(engine.pid), "the setsid() helper outlived the run"


# -- gone means gone: waited for, not assumed ---------------------------------------------------

#: An engine whose 30 helpers ignore SIGTERM (SIG_IGN is inherited through exec): they only die of
#: the SIGKILL that follows, which takes CPU time a loaded host gives late.
SWARM = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kids = [subprocess.Popen(["sleep", "600"]) for _ in range(30)]
signal.signal(signal.SIGTERM, signal.SIG_DFL)
print("swarm " + " ".join(str(k.pid) for k in kids), file=sys.stderr, flush=True)
time.sleep(600)
"""


def swarm_pids(texts: list[str]) -> list[int]:
    return [int(pid) for pid in next(t for t in texts if "swarm" in t).split()[2:]]


@pytest.mark.asyncio
async def test_cancellation_returns_only_once_every_member_is_gone() -> None:
    texts: list[str] = []
    command = RockyCommand(argv=(sys.executable, "-c", textwrap.dedent(SWARM)))
    runner = ProcessRunner(command, on_line=lambda x: texts.append(x.text), term_grace_seconds=0.5)
    task = asyncio.create_task(runner.run())
    while not any("swarm" in text for text in texts):
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    left = [pid for pid in swarm_pids(texts) if alive(pid)]
    assert left == [], f"{len(left)} group members still running after the cancellation propagated"


def test_a_zombie_counts_as_gone() -> None:
    """An exited engine not reaped yet is a zombie: its group still "exists" for ``killpg``, but
    nothing of it runs, so it must not hold the end of the run."""
    import subprocess

    engine = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    try:
        while psutil.Process(engine.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        os.killpg(engine.pid, 0)  # the group is there...
        assert not RunProcesses(engine.pid, "unused").alive()  # ...but nothing of it is alive
    finally:
        engine.wait()


class _CountingLock:
    """The scans' lock, counting the threads that wait to take it (so a test can wait for them all)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self.waiting = 0

    def __enter__(self) -> None:
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        self._lock.acquire()
        with self._changed:
            self.waiting -= 1

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait_for(self, waiting: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.waiting >= waiting, timeout=60), self.waiting


def test_runs_ending_together_share_proc_scans_and_none_sees_an_older_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 runs ending at once used to read /proc 1,000 times; a shared scan must still be fresh.

    Deterministic: the first scan is held until the 39 other runs have asked and wait behind it. None
    of them may use that scan (it started before they asked); all of them share the next: two scans.
    """
    from airflow_provider_rocky._engine import descendants

    lock = _CountingLock()
    snapshots = descendants._Snapshots()
    snapshots._lock = lock  # type: ignore[assignment]
    monkeypatch.setattr(descendants, "_SNAPSHOTS", snapshots)
    real_init, first_started = descendants._Snapshot.__init__, threading.Event()
    scans = 0

    def held_first_scan(self: object, started: float) -> None:
        nonlocal scans
        scans += 1
        if scans == 1:
            first_started.set()
            lock.wait_for(39)
        real_init(self, started)  # type: ignore[arg-type]

    monkeypatch.setattr(descendants._Snapshot, "__init__", held_first_scan)
    runs = [RunProcesses(os.getpid(), f"token-{i}") for i in range(40)]
    first = threading.Thread(target=runs[0].scan)
    first.start()
    assert first_started.wait(60)
    threads = [threading.Thread(target=run.scan) for run in runs[1:]]
    for thread in [*threads]:
        thread.start()
    for thread in [first, *threads]:
        thread.join()
    assert scans == 2, scans

    # A process started after the last scan is seen by the next one: no scan older than the ask.
    token = "fresh-token"
    before = RunProcesses(None, token)
    assert before.scan() == (False, [])
    child = psutil.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={**os.environ, TOKEN_ENV: token}
    )
    try:
        assert RunProcesses(None, token).scan()[1] == [child.pid]
    finally:
        child.kill()
        child.wait()
