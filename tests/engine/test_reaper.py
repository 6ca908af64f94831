"""A SIGKILLed supervisor takes its engines with it: the reaper (``_engine/reaper.py``), real processes.

``reaper_parent.py`` is a supervising process (a worker's task, a triggerer) that runs engines through
the provider's real spawn path. Each engine leaves a child in its group and a ``setsid`` escapee that
ignores SIGTERM. The tests SIGKILL the supervisor (it cleans nothing up) and watch ``/proc``: every
process of the engine must be gone within a generous bound (the reaper's grace is 5 s). Nothing is
mocked; no assertion is about timing beyond that bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_rocky._engine import reaper
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessRunner

PARENT = Path(__file__).with_name("reaper_parent.py")
#: Generous: the reaper's SIGTERM grace (5 s) plus SIGKILL on a loaded 2-core machine.
GONE_WITHIN = 30.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and signals: Linux")


def running(pid: int) -> bool:
    """Exists and is not a zombie (a zombie runs nothing; init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_for(path: Path, timeout: float = 60.0) -> str:
    until = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < until, f"{path.name} never written"
        time.sleep(0.05)
    return path.read_text()


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def pids(path: Path) -> list[int]:
    return [int(word) for word in wait_for(path).split()]


def gone_within(wanted: list[int], seconds: float = GONE_WITHIN) -> list[int]:
    """Poll ``/proc`` until none of ``wanted`` runs; returns those still running at the bound."""
    until = time.monotonic() + seconds
    while (left := [pid for pid in wanted if running(pid)]) and time.monotonic() < until:
        time.sleep(0.1)
    return left


def start_parent(mode: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(PARENT), mode, str(out)], stdin=subprocess.DEVNULL)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_sigkilled_supervisor_takes_the_engine_its_group_and_its_escapee(tmp_path: Path) -> None:
    parent = start_parent("run", tmp_path / "o")
    try:
        engine = pids(tmp_path / "o.a")  # engine, group child, setsid escapee (ignores SIGTERM)
        the_reaper = int(wait_for(tmp_path / "o.a.reaper"))
        assert all(running(pid) for pid in [*engine, the_reaper])
        assert os.getpgid(engine[2]) != os.getpgid(engine[0])  # the escapee left the engine's group
    finally:
        kill(parent)
    assert gone_within(engine) == []
    assert gone_within([the_reaper]) == []  # it exits once its work is done


def test_a_forked_child_drops_its_parents_reaper_and_starts_its_own(tmp_path: Path) -> None:
    parent = start_parent("fork", tmp_path / "o")
    child_pid = 0
    try:
        first = pids(tmp_path / "o.a")
        first_reaper = int(wait_for(tmp_path / "o.a.reaper"))
        inherited = json.loads(wait_for(tmp_path / "o.child"))
        second = pids(tmp_path / "o.b")
        second_reaper = int(wait_for(tmp_path / "o.b.reaper"))
        child_pid = parent_of(second[0])  # the forked child supervises the second engine
        assert inherited == {"registered": {}, "reaper": None}
        assert second_reaper != first_reaper and running(first_reaper) and running(second_reaper)
        kill(parent)
        # The child still lives: had it kept the parent's write end, the parent's reaper saw no EOF.
        assert running(child_pid)
        assert gone_within(first) == []
        assert all(running(pid) for pid in second)  # the child's engine is the child's business
    finally:
        if parent.poll() is None:
            kill(parent)
        if child_pid and running(child_pid):
            os.kill(child_pid, signal.SIGKILL)
    assert gone_within(second) == []
    assert gone_within([first_reaper, second_reaper]) == []


def test_a_normal_run_leaves_no_registration_and_the_reaper_runs_on() -> None:
    command = RockyCommand(argv=(sys.executable, "-c", "print('{}')"))
    outcome = asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    assert outcome.exit_code == 0
    assert reaper.registered() == {}
    the_reaper = reaper.reaper_pid()
    assert the_reaper is not None and running(the_reaper)
    asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    assert reaper.reaper_pid() == the_reaper  # one per supervising process, not one per run


def test_a_spawn_that_fails_leaves_no_registration(tmp_path: Path) -> None:
    command = RockyCommand(argv=(str(tmp_path / "no-such-rocky"),))
    outcome = asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    assert outcome.spawn_error_kind == "binary_missing"
    assert reaper.registered() == {}


def test_a_killed_reaper_is_replaced_at_the_next_spawn_and_no_run_fails() -> None:
    command = RockyCommand(argv=(sys.executable, "-c", "print('{}')"))
    asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    old = reaper.reaper_pid()
    assert old is not None
    os.kill(old, signal.SIGKILL)
    assert gone_within([old]) == []
    outcome = asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    assert outcome.exit_code == 0  # the run did not fail for it
    new = reaper.reaper_pid()
    assert new is not None and new != old and running(new)
    assert reaper.registered() == {}


def test_a_reaper_that_cannot_run_costs_one_warning_never_a_run() -> None:
    """A reaper program that exits at once (as one whose Python cannot import the package would)."""
    code = textwrap.dedent(
        """
        import asyncio, logging, sys
        from airflow_provider_rocky._engine import reaper
        from airflow_provider_rocky._engine.command import RockyCommand
        from airflow_provider_rocky._engine.process import ProcessRunner
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="WARNING %(message)s")
        reaper._BOOT = "import sys; sys.exit(3)"
        command = RockyCommand(argv=(sys.executable, "-c", "print('{}')"))
        runs = [asyncio.run(ProcessRunner(command, on_line=lambda _: None).run()) for _ in range(8)]
        print("codes", [run.exit_code for run in runs], "registered", reaper.registered())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "codes [0, 0, 0, 0, 0, 0, 0, 0] registered {}" in done.stdout
    warnings = [line for line in done.stdout.splitlines() if line.startswith("WARNING")]
    assert len(warnings) <= 1 and all("reaper could not be started" in w for w in warnings)
