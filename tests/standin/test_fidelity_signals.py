"""Conformance: signals per command path, and the state file's single-writer lock (contract §3.1, §3.5).

Rows of docs/engine-fidelity.md's *Signals* and *The state lock* sections; the stand-in runs as a
real process and gets real signals.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from standin_process import SHUTDOWN_LINE, Live, base_env, error_line, rocky_run

from airflow_provider_rocky.testing import standin_command

SECOND_SIGINT = "[rocky] second SIGINT — terminating"
REPLICATION = ("--output", "json", "run", "--filter", "source=orders")


def test_replication_is_killed_by_sigterm_before_its_fan_out(spawn: Callable[..., Live]) -> None:
    """The SIGTERM stream is created where the fan-out starts (``run.rs`` ~3789): discovery has none."""
    live = spawn(*REPLICATION, scenario="success", env={"ROCKY_STANDIN_DELAY": "30"})
    live.wait_for(lambda line: "rocky run starting" in line)
    live.proc.send_signal(signal.SIGTERM)
    done = live.finish()
    assert done.returncode == -signal.SIGTERM and done.json is None
    assert SHUTDOWN_LINE not in done.stderr_lines


def test_replication_fan_out_finishes_interrupted_on_the_first_sigterm(spawn: Callable[..., Live]) -> None:
    live = spawn(*REPLICATION, scenario="hang")
    live.wait_for(lambda line: "copying" in line)
    live.proc.send_signal(signal.SIGTERM)
    done = live.finish()
    assert done.returncode == 130 and done.json is not None and done.json["interrupted"] is True
    assert SHUTDOWN_LINE in done.stderr_lines


def test_after_the_first_signal_only_a_second_sigint_exits_at_once(spawn: Callable[..., Live]) -> None:
    """``arm_hard_exit_on_second_signal`` watches SIGINT only; a second SIGTERM is swallowed."""
    # the in-flight statements take 30 s to finish: the second signals reach a draining engine however
    # slowly this test reads (without it, a loaded host could send them after the run had ended)
    env = {"ROCKY_STANDIN_SECONDS": "60", "ROCKY_STANDIN_DRAIN": "30"}
    live = spawn(*REPLICATION, "--parallel", "1", scenario="interruptible", env=env)
    live.wait_for(lambda line: "copying" in line)
    live.proc.send_signal(signal.SIGTERM)
    live.wait_for(lambda line: line == SHUTDOWN_LINE)
    live.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # a swallowed SIGTERM leaves the engine draining: it is still alive
    assert live.proc.poll() is None
    live.proc.send_signal(signal.SIGINT)
    done = live.finish()
    assert done.returncode == 130 and SECOND_SIGINT in done.stderr_lines


def test_a_signal_after_the_fan_out_is_swallowed(spawn: Callable[..., Live], tmp_path: Path) -> None:
    """tokio's handlers outlive the fan-out: with ``--all``, SIGTERM while models build changes nothing."""
    live = spawn(
        "--output", "json", "run", "--filter", "source=orders", "--models", "models", "--all",
        scenario="success", env={"ROCKY_STANDIN_DELAY": "0.3"},
    )  # fmt: skip
    live.wait_for(lambda line: "executing model" in line)
    live.proc.send_signal(signal.SIGTERM)
    done = live.finish()
    assert done.returncode == 0 and done.json is not None and done.json["status"] == "Success"
    assert done.json["interrupted"] is False and SHUTDOWN_LINE not in done.stderr_lines


def test_the_transformation_path_is_killed_by_sigterm(spawn: Callable[..., Live]) -> None:
    live = spawn("--output", "json", "run", "--models", "models", scenario="hang")
    live.wait_for(lambda line: "executing model" in line)
    live.proc.send_signal(signal.SIGTERM)
    done = live.finish()
    assert done.returncode == -signal.SIGTERM and done.json is None


def test_a_second_writer_on_one_state_file_fails_fast(spawn: Callable[..., Live], tmp_path: Path) -> None:
    """``StateStore::open``: the writer lock is tried 5 times 50 ms apart, then ``LockHeldByOther``."""
    holder = spawn(*REPLICATION, scenario="hang")
    holder.wait_for(lambda line: "copying" in line)
    second = rocky_run("--filter", "source=orders", cwd=tmp_path)
    assert second.returncode == 1 and second.json is None
    assert error_line(second) == (
        "Error: state store at models/.rocky-state.redb is locked by another process; only one rocky "
        "writer can run at a time against the same state file"
    )


def test_a_keyed_copy_meets_the_lock_while_the_holder_runs(
    spawn: Callable[..., Live], tmp_path: Path
) -> None:
    """``try_claim_idempotency`` opens the store for the claim: a live holder's lock refuses it, so a
    second copy of the same key sees ``locked``, not ``SkippedInFlight``."""
    key = ("--idempotency-key", "shared")
    holder = spawn(*REPLICATION, *key, scenario="hang")
    holder.wait_for(lambda line: "copying" in line)
    second = rocky_run("--filter", "source=orders", *key, cwd=tmp_path)
    assert second.returncode == 1 and second.json is None
    assert error_line(second) == (
        "Error: failed to open state store at models/.rocky-state.redb for idempotency claim"
    )
    assert "0: state store at models/.rocky-state.redb is locked by another process" in second.stderr


def test_a_closed_stderr_kills_the_engine_at_its_next_line(tmp_path: Path) -> None:
    """``reset_sigpipe``: SIGPIPE keeps its default, so an engine whose supervisor died (its pipes
    closed) dies at its next write, whatever its path, and finalizes nothing."""
    env = base_env(ROCKY_STANDIN_DELAY="0.5")
    proc = subprocess.Popen(
        [*standin_command(), *REPLICATION],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:  # no other reader: closing it closes the pipe's only read end
            if b"rocky run starting" in raw:
                break
        proc.stderr.close()
        assert proc.wait(timeout=60) == -signal.SIGPIPE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
