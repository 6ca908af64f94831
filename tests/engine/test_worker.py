"""EngineRun.run_in_task and Airflow's execution_timeout alarm (a real SIGALRM, Airflow's own handler)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout
from airflow.sdk.execution_time.timeout import timeout

from airflow_provider_rocky._engine import worker
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.run import EngineRun, RunLimits
from airflow_provider_rocky._engine.stderr import LogLine

#: pytest-timeout's default method uses SIGALRM too: keep it off the signal these tests are about.
pytestmark = pytest.mark.timeout(120, method="thread")


@pytest.fixture(autouse=True)
def _no_alarm_left() -> Iterator[None]:
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def _runner(code: str, **kw: object) -> tuple[EngineRun, list[LogLine]]:
    lines: list[LogLine] = []
    command = RockyCommand(argv=(sys.executable, "-c", code))
    return EngineRun(command, RunLimits(**kw), lines.append), lines  # type: ignore[arg-type]


def test_an_alarm_due_right_after_the_run_no_longer_cuts_the_bookkeeping() -> None:
    runner, _ = _runner("pass")
    with timeout(3):
        record = runner.run_in_task(execution_timeout="0:00:03")
        outcome = record.outcome
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert left > 3, "the bookkeeping must get its own budget once the engine has ended"
        time.sleep(3.5)  # where the original alarm would have raised AirflowTaskTimeout
    assert outcome.exit_code == 0 and not outcome.timed_out
    assert record.pipes is None


def test_an_alarm_already_pending_is_dropped_not_raised() -> None:
    with timeout(60):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        signal.raise_signal(signal.SIGALRM)
        assert signal.SIGALRM in signal.sigpending()
        worker.settle_alarm(armed=True)
        assert signal.SIGALRM not in signal.sigpending()
        assert signal.SIGALRM in signal.pthread_sigmask(signal.SIG_BLOCK, set()), "mask restored"
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})  # would raise if still pending
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert left > worker.FINISH_BUDGET_SECONDS - 5


def test_a_long_remaining_budget_is_left_alone() -> None:
    with timeout(600):
        worker.settle_alarm(armed=True)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert left > 500


def test_no_alarm_is_armed_when_the_task_has_no_execution_timeout() -> None:
    worker.settle_alarm(armed=False)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_alarm_firing_mid_run_ends_the_process_and_reports_a_timeout() -> None:
    runner, _ = _runner(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('started', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n",
        term_grace_seconds=0.5,
    )
    with timeout(1):
        outcome = runner.run_in_task(execution_timeout="0:00:01").outcome
    assert outcome.timed_out and not outcome.killed
    assert outcome.deadline_reason == "execution_timeout=0:00:01"
    assert runner.outcome is not None and runner.outcome.exit_code == -signal.SIGKILL
    assert runner.pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(runner.pid, 0)  # the whole group is gone


def test_bookkeeping_that_hangs_still_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "FINISH_BUDGET_SECONDS", 0.3)
    runner, _ = _runner("pass")
    with pytest.raises(AirflowTaskTimeout), timeout(1):
        runner.run_in_task(execution_timeout="0:00:01")
        time.sleep(5)  # a hung XCom push, say: Airflow's own handler must still end it
