"""RockyDuckDBHook beside a real stand-in run writing the same real DuckDB file (issue 20, item 8).

DuckDB lets one process write a file, and a reader's shared lock refuses the writer as much as the
writer's refuses readers. The hook holds the file only while a call runs, and a call made while a
run writes waits for it instead of failing the check.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from airflow_provider_rocky.hooks.duckdb import RockyDuckDBHook
from airflow_provider_rocky.testing import read_record

ROCKY_TOML = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
ORDERS = '"staging__orders"."orders"'


@pytest.fixture
def project(tmp_path: Path, standin_bin: Path) -> Path:
    (tmp_path / "rocky.toml").write_text(ROCKY_TOML)
    with running(engine(standin_bin, tmp_path, delay="0")) as done:
        done.communicate(timeout=60)
    assert done.returncode == 0  # the warehouse file exists, with the orders table
    return tmp_path


def engine(binary: Path, project: Path, *, delay: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKY_STANDIN_")}
    env |= {"ROCKY_STANDIN_DELAY": delay, "ROCKY_STANDIN_RECORD": str(project / "record.jsonl")}
    argv = [str(binary), "--output", "json", "run", "--filter=source=orders"]
    return subprocess.Popen(
        argv,
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@contextlib.contextmanager
def running(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def writer_holds(proc: subprocess.Popen[bytes]) -> None:
    """Return once the run writes its warehouse: it opens the file before its first ``copying`` line.

    (Polling with a read-only open of our own would take the shared lock and refuse the writer.)
    """
    assert proc.stderr is not None
    for raw in proc.stderr:
        if b"copying" in raw:
            return
    raise AssertionError(f"the run ended (exit {proc.wait()}) before writing its warehouse")


def exit_codes(project: Path) -> list[int]:
    return [r["exit_code"] for r in read_record(project / "record.jsonl") if r["event"] == "end"]


def test_a_check_made_while_a_run_writes_waits_for_it(project: Path, standin_bin: Path) -> None:
    """Before: ``IO Error: Could not set lock on file`` at once, the check task failed."""
    hook = RockyDuckDBHook(database_path=project / "warehouse.duckdb", lock_wait_seconds=60)
    with running(engine(standin_bin, project, delay="0.3")) as run:
        writer_holds(run)
        (count,) = hook.get_first(f"SELECT count(*) FROM {ORDERS}")  # waits: the run holds the file
        run.communicate(timeout=60)
    assert count > 0 and run.returncode == 0
    assert exit_codes(project) == [0, 0]


def test_a_check_that_cannot_wait_says_which_file(project: Path, standin_bin: Path) -> None:
    hook = RockyDuckDBHook(database_path=project / "warehouse.duckdb", lock_wait_seconds=0)
    with running(engine(standin_bin, project, delay="0.3")) as run:
        writer_holds(run)
        with pytest.raises(duckdb.IOException, match=r"warehouse\.duckdb"):
            hook.get_first(f"SELECT count(*) FROM {ORDERS}")
        run.communicate(timeout=60)
    assert run.returncode == 0


def test_runs_between_the_hooks_calls_are_never_refused(project: Path, standin_bin: Path) -> None:
    """Each call connects, runs and closes: a run started after any call opens the file."""
    hook = RockyDuckDBHook(database_path=project / "warehouse.duckdb")
    for call in (
        lambda: hook.get_first(f"SELECT count(*) FROM {ORDERS}"),
        lambda: hook.get_records(f"SELECT * FROM {ORDERS} LIMIT 2"),
        lambda: hook.run(f"SELECT 1 FROM {ORDERS} LIMIT 1"),
        lambda: hook.test_connection(),
    ):
        call()
        with running(engine(standin_bin, project, delay="0")) as run:
            run.communicate(timeout=60)
        assert run.returncode == 0
    assert exit_codes(project) == [0] * 5
