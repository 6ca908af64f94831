"""Host plumbing for the e2e run: Debian packages, the e2e venv, free ports, processes in their own group.

Everything here is stdlib (plus psutil, which the project venv has); nothing imports Airflow.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "e2e"
UV = ROOT / ".tools" / "bin" / "uv"
#: The deployment's own venv: the locked project environment (no dev group) plus a PostgreSQL driver,
#: which the project lock does not carry. Built here so uv.lock and .venv stay untouched.
VENV = E2E / ".venv"
EXTRA_REQUIREMENTS = ("psycopg2-binary", "asyncpg", "apache-airflow-providers-celery")


class E2EError(RuntimeError):
    """A setup step failed; the message says which and why."""


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    """Run a setup command; raise with its output's tail when it fails."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise E2EError(f"`{' '.join(argv)}` did not finish within {timeout:.0f}s") from err
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise E2EError(f"`{' '.join(argv)}` exited {done.returncode}:\n{tail}")
    return str(done.stdout)


def ensure_debian_packages(wanted: Mapping[str, str]) -> list[str]:
    """Install the Debian packages (name -> a file it provides) that are missing; returns what was added."""
    missing = [name for name, provided in wanted.items() if not Path(provided).exists()]
    if not missing:
        return []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env, timeout=300)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, timeout=900)
    return missing


def ensure_venv() -> Path:
    """The e2e venv (built once, rebuilt when uv.lock or pyproject.toml change); returns its bin dir."""
    if not UV.exists():
        raise E2EError(f"{UV} is missing: run `make .venv/.synced` first (the e2e target depends on it)")
    stamp = hashlib.sha256()
    for name in ("uv.lock", "pyproject.toml"):
        stamp.update((ROOT / name).read_bytes())
    stamp.update(" ".join(EXTRA_REQUIREMENTS).encode())
    marker = VENV / ".e2e-synced"
    if marker.exists() and marker.read_text() == stamp.hexdigest():
        return VENV / "bin"
    env = {
        **os.environ,
        "UV_COMPILE_BYTECODE": "1",  # PYTHONDONTWRITEBYTECODE is set here: uncompiled Airflow is slow
        "UV_PYTHON": "python3.11",
        "VIRTUAL_ENV": str(VENV),
    }
    requirements = VENV.parent / ".e2e-requirements.txt"
    run(
        [
            *(str(UV), "export", "--project", str(ROOT), "--frozen", "--all-extras", "--no-dev"),
            *("--no-emit-project", "--no-hashes", "--format", "requirements-txt", "--quiet"),
            *("--output-file", str(requirements)),
        ],
        env=env,
    )
    run([str(UV), "venv", "--quiet", "--allow-existing", str(VENV), "--python", "python3.11"], env=env)
    run(
        [
            *(str(UV), "pip", "install", "--quiet", "--python", str(VENV / "bin" / "python")),
            *("-r", str(requirements), "-e", str(ROOT), *EXTRA_REQUIREMENTS),
        ],
        env=env,
    )
    requirements.unlink()
    marker.write_text(stamp.hexdigest())
    return VENV / "bin"


def api_server_argv(airflow: Path | str, port: int) -> list[str]:
    """``airflow api-server`` on loopback, one worker (the Rocky view's checks start their own)."""
    return [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 12) -> str:
    """The last lines of a log file, indented, for FAIL messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"    ({path} unreadable)"
    picked = text.strip().splitlines()[-lines:]
    return "\n".join(f"    | {line[:300]}" for line in picked) or f"    ({path} is empty)"


class Service:
    """One long-running process in its own session (so its process group is its pid), logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 20.0) -> bool:
        """SIGTERM the whole group, SIGKILL it after ``grace`` s; True when the group was gone in time."""
        if self.proc is None:
            return True
        pgid = self.proc.pid
        clean = signal_group(pgid, signal.SIGTERM, wait=grace)
        if not clean:
            signal_group(pgid, signal.SIGKILL, wait=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        return clean

    def describe(self) -> str:
        state = "running" if self.running() else f"exited {self.proc.returncode if self.proc else '-'}"
        return f"{self.name} ({state}), log {self.log}:\n{tail(self.log)}"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def signal_group(pgid: int, sig: signal.Signals, wait: float) -> bool:
    """Send ``sig`` to a process group and wait until no member is left; True if it emptied in time."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        time.sleep(0.2)
    return not group_members(pgid)


def marked_processes(marker_name: str, marker: str) -> list[psutil.Process]:
    """Live processes (other than this one) whose environment carries ``marker_name=marker``."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.pid == me or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if proc.environ().get(marker_name) == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (checked from outside, via /proc)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def which_or(path: str, name: str) -> str:
    """``path`` when it exists, else ``name`` on PATH, else ``path`` (the caller reports it)."""
    return path if Path(path).exists() else (shutil.which(name) or path)
