"""Shared plumbing of the benchmarks: the stand-in engine, the task logger, statistics, child processes.

Stdlib (+ psutil) at import time: Airflow, rocky-sdk and the provider are imported inside functions so
that ``AIRFLOW_HOME`` is set before Airflow reads its configuration, and a child process only pays for
what it measures.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
RUN_PY = HERE / "run.py"
#: argv after the binary, the same for both sides (rocky-sdk inserts these global flags itself).
RUN_ARGS = ("run", "--filter", "a=b")
GLOBAL_FLAGS = ("--config", "rocky.toml", "--state-path", ".rocky-state.redb", "--output", "json")
#: ROCKY_STANDIN_DELAY=0: no simulated per-table work, the engine only writes its output; the
#: benchmark directories hold no rocky.toml, which the stand-in refuses unless told otherwise.
BASE_ENV = {"ROCKY_STANDIN_DELAY": "0", "ROCKY_STANDIN_ALLOW_NO_CONFIG": "1"}


@dataclass(frozen=True)
class Ctx:
    """Where a benchmark runs: a scratch directory holding the stand-in ``rocky`` executable."""

    workdir: Path

    @property
    def rocky(self) -> Path:
        return self.workdir / "rocky"

    @property
    def argv(self) -> tuple[str, ...]:
        """What the provider spawns; byte-for-byte what ``RockyClient.run_cli(RUN_ARGS)`` spawns."""
        return (str(self.rocky), *GLOBAL_FLAGS, *RUN_ARGS)

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.task.log"


def prepare(workdir: Path) -> Ctx:
    """Install the stand-in into ``workdir`` and point Airflow at a private, empty ``AIRFLOW_HOME``."""
    from airflow_provider_rocky.testing import install_standin

    workdir.mkdir(parents=True, exist_ok=True)
    install_standin(workdir)
    enter(workdir)
    return Ctx(workdir)


def enter(workdir: Path) -> None:
    """Make ``workdir`` the cwd (rocky-sdk spawns in the cwd) and set ``AIRFLOW_HOME`` under it."""
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow_home"))
    os.chdir(workdir)


def scenario_env(scenario: str, **knobs: float | int) -> dict[str, str]:
    """``ROCKY_STANDIN_*`` variables for one scenario, e.g. ``scenario_env("many_lines", LINES=10)``."""
    env = {**BASE_ENV, "ROCKY_STANDIN_SCENARIO": scenario}
    env.update({f"ROCKY_STANDIN_{key}": str(value) for key, value in knobs.items()})
    return env


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """rocky-sdk gives the child ``os.environ``: set the scenario there for the duration of a call."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def task_logger(path: Path) -> Any:
    """The logger a ``RockyOperator``'s ``self.log`` is inside a running task, writing to ``path``.

    The task runner calls ``configure_logging(json_output=True, output=<fd>, sending_to_supervisor=True)``
    with an unbuffered binary stream to its supervisor; here the stream is a file. The logger is
    ``RockyOperator(task_id="bench").log``: structlog, Airflow's processors, one JSON object per record.
    """
    from airflow.sdk.log import configure_logging

    stream = path.open("ab", buffering=0)  # closed with the process, like the task runner's fd
    configure_logging(json_output=True, output=stream, sending_to_supervisor=True)
    from airflow_provider_rocky.operators.rocky import RockyOperator

    return RockyOperator(task_id="bench").log


def cpu_seconds() -> float:
    """User + system CPU of this process (all its threads; not its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``nan`` for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50) if len(values) % 2 else _even_median(values)


def _even_median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    return (ordered[mid - 1] + ordered[mid]) / 2


# -- processes ------------------------------------------------------------------------------------


def kill_tree(pid: int) -> int:
    """SIGKILL ``pid``, every descendant and every process group they lead; return how many were hit.

    The engines run in their own sessions (both supervisors use ``start_new_session``), so killing
    one group is not enough: collect the groups of all descendants while the tree still exists.
    """
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return 0
    own_group = os.getpgid(0)
    hit = 0
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
            pgid = os.getpgid(proc.pid)
            if pgid != own_group:
                os.killpg(pgid, signal.SIGKILL)
            if proc.pid != os.getpid():
                proc.kill()
            hit += 1
    return hit


def kill_own_children() -> int:
    """End everything this process spawned (engines and benchmark children) and reap it."""
    hit = 0
    for child in psutil.Process().children(recursive=False):
        hit += kill_tree(child.pid)
    with contextlib.suppress(psutil.Error):
        psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)
    return hit


def stray_engines(workdir: Path) -> list[int]:
    """pids of any process still running the stand-in of ``workdir`` (must be none at the end)."""
    marker = str(workdir)
    found: list[int] = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info["pid"] != os.getpid() and any(marker in part for part in cmdline):
            found.append(proc.info["pid"])
    return found


def run_child(ctx: Ctx, kind: str, params: Mapping[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run ``run.py --child kind`` in a fresh interpreter (own session); return the JSON it writes."""
    out = ctx.workdir / f"child-{kind}-{time.monotonic_ns()}.json"
    err = out.with_suffix(".stderr")
    argv = [sys.executable, str(RUN_PY), "--child", kind, "--params", json.dumps(params), "--out", str(out)]
    argv += ["--workdir", str(ctx.workdir)]
    with err.open("wb") as stderr:
        proc = subprocess.Popen(argv, stdout=stderr, stderr=stderr, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        finally:
            kill_tree(proc.pid)
            proc.wait()
    if code != 0 or not out.exists():
        tail = err.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"benchmark child {kind} {dict(params)} failed (exit {code}):\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    err.unlink()
    return result


def json_of(argv: Sequence[str], timeout: float, what: str) -> Any:
    """Run ``argv`` in its own session; its stdout as JSON, else the JSON on its last stdout line
    (``RuntimeError`` naming ``what`` and its stderr tail when it fails)."""
    done = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, start_new_session=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    try:
        return json.loads(done.stdout)
    except ValueError:  # other lines before it (an import's print)
        return json.loads(done.stdout.strip().splitlines()[-1])


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1))
