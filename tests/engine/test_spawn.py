"""Spawn errors are truthful: the working directory, a missing binary and an unusable one differ.

Real spawns (nothing mocked): the directory check runs in the spawning thread, on the host that runs
the engine, and ``Popen``'s own errors are classified. The interpreter maps a working-directory problem
to a usage error naming the directory, and keeps binary problems as ``binary_missing``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from airflow_provider_rocky._engine import spawn
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessOutcome, ProcessRunner
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky.exceptions import INSTALL_HINT


def started(argv: tuple[str, ...], cwd: str | None = None) -> ProcessOutcome:
    runner = ProcessRunner(RockyCommand(argv=argv, cwd=cwd), on_line=lambda _: None)
    return asyncio.run(runner.run())


def executable(path: Path, content: bytes, mode: int = 0o755) -> str:
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


def test_a_missing_project_dir_is_a_usage_error_naming_it_and_the_host(tmp_path: Path) -> None:
    missing = str(tmp_path / "no" / "such" / "project")
    outcome = started((sys.executable, "-c", "pass"), cwd=missing)
    assert outcome.exit_code is None and outcome.spawn_error_kind == spawn.WORKING_DIR_MISSING
    error = interpret(outcome, binary=sys.executable).error
    assert error is not None and error.category == "usage" and not error.retryable
    assert repr(missing) in error.reason and "does not exist" in error.reason
    assert repr(socket.gethostname()) in error.reason and "project_dir" in error.reason
    assert "Install the rocky binary" not in error.reason


def test_a_project_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    afile = tmp_path / "rocky.toml"
    afile.write_text("")
    outcome = started((sys.executable, "-c", "pass"), cwd=str(afile))
    assert outcome.spawn_error_kind == spawn.WORKING_DIR_UNUSABLE
    error = interpret(outcome).error
    assert error is not None and error.category == "usage" and "is not a directory" in error.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root enters any directory")
def test_a_project_dir_this_user_cannot_enter_is_a_usage_error(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o600)
    outcome = started((sys.executable, "-c", "pass"), cwd=str(closed))
    assert outcome.spawn_error_kind == spawn.WORKING_DIR_UNUSABLE
    error = interpret(outcome).error
    assert error is not None and error.category == "usage" and "permission denied" in error.reason


def test_a_binary_missing_from_path_keeps_the_install_advice() -> None:
    outcome = started(("rocky-not-installed-here", "--version"))
    assert outcome.spawn_error_kind == spawn.BINARY_MISSING
    error = interpret(outcome, binary="rocky-not-installed-here").error
    assert error is not None and error.category == "binary_missing"
    assert "'rocky-not-installed-here' not found on the engine's PATH" in error.reason
    assert INSTALL_HINT in error.reason


@pytest.mark.parametrize(
    ("content", "mode", "says"),
    [
        (b"#!/bin/sh\necho hi\n", 0o644, "is not executable by this user"),
        (b"\x7fELF garbage, not a program", 0o755, "is not a program this machine can run"),
        (b"#!/nonexistent/interpreter\n", 0o755, "the interpreter it names"),
    ],
    ids=["not-executable", "exec-format", "missing-interpreter"],
)
def test_a_binary_that_exists_but_cannot_run_says_why(
    tmp_path: Path, content: bytes, mode: int, says: str
) -> None:
    binary = executable(tmp_path / "rocky", content, mode)
    outcome = started((binary, "--version"), cwd=str(tmp_path))
    assert outcome.exit_code is None and outcome.spawn_error_kind == spawn.BINARY_NOT_EXECUTABLE
    error = interpret(outcome, binary=binary).error
    assert error is not None and error.category == "binary_missing"
    assert says in error.reason and repr(binary) in error.reason
    assert INSTALL_HINT not in error.reason  # it is installed: installing it is not the fix
    assert stat.S_IMODE(os.stat(binary).st_mode) == mode


def test_an_event_of_0_1_0_without_a_kind_still_reads_as_a_missing_binary() -> None:
    outcome = ProcessOutcome(exit_code=None, spawn_error="FileNotFoundError: [Errno 2] rocky")
    error = interpret(outcome).error
    assert error is not None and error.category == "binary_missing" and INSTALL_HINT in error.reason
