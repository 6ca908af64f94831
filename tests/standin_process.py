"""Running the stand-in as a real process: the helpers the stand-in's test modules share."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocky_sdk.types import RunResult
from run_results import read_run

from airflow_provider_rocky.testing import STANDIN_VERSION, standin_command

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
RUN_SCHEMA = CORPUS / "schemas" / "run.schema.json"
DOCTOR_SCHEMA = CORPUS / "schemas" / "doctor.schema.json"
COMPILE_SCHEMA = CORPUS / "schemas" / "compile.schema.json"
RUN_ID_RE = re.compile(r"^run-\d{8}-\d{6}-\d{3}$")
LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}
SHUTDOWN_LINE = (
    "[rocky] shutdown signal received — finishing in-flight statements; press Ctrl-C again to terminate"
)


def base_env(**overrides: str) -> dict[str, str]:
    """The test process env minus anything that steers the stand-in, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ROCKY_", "DAGSTER_PIPES_")) and key != "RUST_LOG"
    }
    env["ROCKY_STANDIN_DELAY"] = "0"
    env["ROCKY_STANDIN_ALLOW_NO_CONFIG"] = "1"  # bare tmp dirs; test_config.py checks the refusal
    env.update(overrides)
    return env


def validate_schema(document: dict[str, Any], schema_path: Path) -> None:
    """Validate against a corpus schema; silently skipped when the shared corpus is absent."""
    if not schema_path.exists():
        return
    import jsonschema

    jsonschema.validate(document, json.loads(schema_path.read_text()))


def check_run_output(document: dict[str, Any]) -> RunResult:
    """Schema + SDK parse; returns the SDK model."""
    validate_schema(document, RUN_SCHEMA)
    result = read_run(json.dumps(document))
    assert document["version"] == STANDIN_VERSION
    assert document["command"] == "run"
    return result


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr_bytes: bytes
    json: dict[str, Any] | None = None

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def tracing(self) -> list[dict[str, Any]]:
        """The JSON tracing lines of stderr (plain lines such as ``Error: ...`` are skipped)."""
        return [json.loads(line) for line in self.stderr_lines if line.startswith('{"timestamp"')]

    def run_id(self) -> str:
        ids = {str(event["span"]["run_id"]) for event in self.tracing()}
        assert len(ids) == 1, ids
        return ids.pop()


def run_standin(
    *args: str,
    cwd: Path,
    scenario: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Completed:
    """Run the stand-in to completion; parse and check stdout when it is JSON."""
    full_env = base_env(**(env or {}))
    if scenario is not None:
        full_env["ROCKY_STANDIN_SCENARIO"] = scenario
    proc = subprocess.run(
        [*standin_command(), *args], cwd=cwd, env=full_env, capture_output=True, timeout=timeout
    )
    stdout = proc.stdout.decode("utf-8")
    document = None
    if stdout.lstrip().startswith("{"):
        document = json.loads(stdout)
        if document.get("command") == "run":
            check_run_output(document)
    return Completed(proc.returncode, stdout, proc.stderr, document)


def rocky_run(*run_args: str, cwd: Path, **kwargs: Any) -> Completed:
    """``rocky --output json run <run_args>`` like the SDK/provider invoke it."""
    return run_standin("--output", "json", "run", *run_args, cwd=cwd, **kwargs)


@dataclass
class Live:
    """A stand-in running in its own session, its stderr streamed into ``lines`` by a thread."""

    proc: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    stdout: bytearray = field(default_factory=bytearray)
    threads: list[threading.Thread] = field(default_factory=list)

    def start_readers(self) -> None:
        def read_err() -> None:
            assert self.proc.stderr is not None
            for raw in self.proc.stderr:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

        def read_out() -> None:
            assert self.proc.stdout is not None
            self.stdout.extend(self.proc.stdout.read())

        self.threads = [
            threading.Thread(target=read_err, daemon=True),
            threading.Thread(target=read_out, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60) -> str:
        """First stderr line matching ``predicate``; fails if the process ends or time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            finished = self.proc.poll() is not None and not self.threads[0].is_alive()
            for line in list(self.lines):
                if predicate(line):
                    return line
            if finished:
                raise AssertionError(f"exited ({self.proc.returncode}) before the line: {self.lines[-5:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"line not seen within {timeout}s: {self.lines[-5:]}")
            time.sleep(0.01)

    def finish(self, timeout: float = 60) -> Completed:
        returncode = self.proc.wait(timeout=timeout)
        for thread in self.threads:
            thread.join(timeout=10)
        stdout = self.stdout.decode("utf-8")
        document = json.loads(stdout) if stdout.strip() else None
        if document is not None:
            check_run_output(document)
        return Completed(returncode, stdout, "\n".join(self.lines).encode(), document)

    def killpg(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def spawn_live(*args: str, scenario: str, cwd: Path, env: dict[str, str] | None = None) -> Live:
    """Start a stand-in in its own session (the caller ends its group)."""
    full_env = base_env(ROCKY_STANDIN_SCENARIO=scenario, **(env or {}))
    proc = subprocess.Popen(
        [*standin_command(), *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    live = Live(proc)
    live.start_readers()
    return live


def error_line(result: Completed) -> str:
    return [line for line in result.stderr_lines if line.startswith("Error: ")][-1]


def wait_until_caught(pid: int, sig: signal.Signals, timeout: float = 60) -> None:
    """Until process ``pid`` has a handler for ``sig`` (``SigCgt`` in ``/proc/<pid>/status``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (sig - 1)):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} installed no {sig.name} handler within {timeout}s")
