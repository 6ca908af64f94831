"""``RockyHook``'s command methods against the stand-in engine: results, errors, streaming, SIGTERM.

Real processes throughout: each call spawns the stand-in, the record file says what it was run with.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_rocky.exceptions import (
    RockyCompileError,
    RockyEngineVersionError,
    RockyHealthError,
    RockyTestFailure,
    RockyUsageError,
)
from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.testing import read_record

pytestmark = pytest.mark.usefixtures("airflow_db")


def hook_for(standin_bin: Path, project: Path) -> RockyHook:
    (project / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    return RockyHook(binary_path=str(standin_bin), project_dir=str(project))


def scenario(name: str, record: Path, **extra: str) -> dict[str, str]:
    return {"ROCKY_STANDIN_SCENARIO": name, "ROCKY_STANDIN_RECORD": str(record), **extra}


def started(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [r["argv"] for r in read_record(record) if r["event"] == "start" and "--version" not in r["argv"]]


def test_doctor_returns_the_parsed_result_and_streams_the_engine_lines(
    standin_bin: Path, tmp_path: Path
) -> None:
    lines: list[Any] = []
    result = hook_for(standin_bin, tmp_path).doctor(
        env_vars=scenario("success", tmp_path / "r.jsonl"), on_line=lines.append
    )
    assert str(getattr(result.overall, "value", result.overall)) == "healthy"
    assert {check.name for check in result.checks} >= {"config", "state", "auth"}
    assert lines and all(line.text for line in lines)


def test_a_critical_doctor_raises_the_health_error_naming_the_check(
    standin_bin: Path, tmp_path: Path
) -> None:
    with pytest.raises(RockyHealthError, match="auth"):
        hook_for(standin_bin, tmp_path).doctor(env_vars=scenario("adapter_auth", tmp_path / "r.jsonl"))


def test_one_doctor_check_is_passed_as_its_flag(standin_bin: Path, tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    hook_for(standin_bin, tmp_path).doctor(checks="state", env_vars=scenario("success", record))
    assert "--check=state" in started(record)[0]


def test_compile_errors_raise_with_the_diagnostic(standin_bin: Path, tmp_path: Path) -> None:
    with pytest.raises(RockyCompileError, match="E001"):
        hook_for(standin_bin, tmp_path).compile(env_vars=scenario("compile_error", tmp_path / "r.jsonl"))


def test_failed_tests_raise(standin_bin: Path, tmp_path: Path) -> None:
    with pytest.raises(RockyTestFailure):
        hook_for(standin_bin, tmp_path).test(env_vars=scenario("test_failure", tmp_path / "r.jsonl"))


def test_plan_then_apply_runs_the_plan(standin_bin: Path, tmp_path: Path) -> None:
    hook, env = hook_for(standin_bin, tmp_path), scenario("success", tmp_path / "r.jsonl")
    planned = hook.plan(filter="source=orders", env_vars=env)
    applied = hook.apply(planned.plan_id, env_vars=env)
    assert applied.status == "Success" and applied.tables_copied == 2
    assert started(tmp_path / "r.jsonl")[-1][-1] == planned.plan_id


def test_the_async_run_returns_the_run_result(standin_bin: Path, tmp_path: Path) -> None:
    hook = hook_for(standin_bin, tmp_path)
    result = asyncio.run(
        hook.arun(filter="source=orders", env_vars=scenario("success", tmp_path / "r.jsonl"))
    )
    assert result.status == "Success" and {tuple(m.asset_key)[-1] for m in result.materializations}


def test_the_async_doctor_raises_like_the_sync_one(standin_bin: Path, tmp_path: Path) -> None:
    hook = hook_for(standin_bin, tmp_path)
    with pytest.raises(RockyHealthError):
        asyncio.run(hook.adoctor(env_vars=scenario("adapter_auth", tmp_path / "r.jsonl")))


def test_an_unknown_argument_is_named_with_the_nearest_before_anything_runs(
    standin_bin: Path, tmp_path: Path
) -> None:
    record = tmp_path / "r.jsonl"
    with pytest.raises(RockyUsageError, match="'chekcs' \\(did you mean 'checks'\\?\\)"):
        hook_for(standin_bin, tmp_path).doctor(chekcs="auth", env_vars=scenario("success", record))
    assert started(record) == []


def test_an_unknown_command_is_refused(standin_bin: Path, tmp_path: Path) -> None:
    with pytest.raises(RockyUsageError, match="unknown rocky command 'lint'"):
        hook_for(standin_bin, tmp_path).run_command("lint")


def test_freshness_on_an_engine_older_than_it_is_refused_before_starting(
    standin_bin: Path, tmp_path: Path
) -> None:
    record = tmp_path / "r.jsonl"
    env = scenario("success", record, ROCKY_STANDIN_ENGINE_VERSION="1.71.0")
    with pytest.raises(RockyEngineVersionError, match=r"1\.74\.0"):
        hook_for(standin_bin, tmp_path).freshness(env_vars=env)
    assert started(record) == []


def test_a_timeout_ends_the_engine_and_says_which_budget(standin_bin: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="timeout_seconds=1"):
        hook_for(standin_bin, tmp_path).run(
            timeout_seconds=1, env_vars=scenario("hang", tmp_path / "r.jsonl")
        )


CALLER = textwrap.dedent(
    """
    import signal, sys
    from airflow_provider_rocky.hooks.rocky import RockyHook
    if sys.argv[3] == "handler":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
    RockyHook(binary_path=sys.argv[1], project_dir=sys.argv[2]).run(
        env_vars={"ROCKY_STANDIN_SCENARIO": "hang_ignore_term", "ROCKY_STANDIN_RECORD": sys.argv[4]}
    )
    """
)


@pytest.mark.parametrize(("previous", "exit_status"), [("default", -signal.SIGTERM), ("handler", 7)])
def test_sigterm_during_a_sync_call_ends_the_engine_then_the_caller_as_before(
    standin_bin: Path, tmp_path: Path, previous: str, exit_status: int
) -> None:
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    record = tmp_path / "r.jsonl"
    caller = subprocess.Popen(
        [sys.executable, "-c", CALLER, str(standin_bin), str(tmp_path), previous, str(record)],
        env={**os.environ, "ROCKY_STANDIN_DELAY": "0"},
    )
    try:
        deadline = time.monotonic() + 60
        while not started(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        engine = next(r for r in read_record(record) if r["event"] == "start" and "run" in r["argv"])
        caller.send_signal(signal.SIGTERM)
        assert caller.wait(timeout=30) == exit_status
        assert (
            not psutil.pid_exists(int(engine["pid"]))
            or psutil.Process(int(engine["pid"])).status() == "zombie"
        )
    finally:
        caller.kill()
        caller.wait()
