"""A screenshot of the Airflow UI's task log view (headless Debian chromium), for the README.

The deployment runs SimpleAuthManager with ``simple_auth_manager_all_admins``, so the React UI needs
no login. The task-instance page of Airflow 3.3's UI (``/dags/<dag>/runs/<run>/tasks/<task>``) opens
on its Logs tab.
"""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from system import E2EError, ensure_debian_packages, signal_group
from webdriver import FLAGS

CHROMIUM = "/usr/bin/chromium"
MAX_BYTES = 500 * 1024


def task_log_url(api_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    dag, run, task = (quote(part, safe="") for part in (dag_id, run_id, task_id))
    return f"{api_url}/dags/{dag}/runs/{run}/tasks/{task}"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise E2EError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def capture(url: str, target: Path, env: Mapping[str, str], timeout: float = 120) -> str:
    """Take the screenshot; returns a short description, raises E2EError when it cannot be taken."""
    try:
        ensure_debian_packages({"chromium": CHROMIUM})
    except E2EError as err:
        raise E2EError(f"chromium could not be installed: {err}") from err
    profile = Path(tempfile.mkdtemp(prefix="rocky-e2e-chromium-"))
    shot = profile / "shot.png"
    argv = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        "--virtual-time-budget=20000",
        f"--screenshot={shot}",
        url,
    ]
    proc = subprocess.Popen(
        argv,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        if proc.returncode != 0 or not shot.exists():
            tail = "\n".join(output.strip().splitlines()[-5:])
            raise E2EError(f"chromium exited {proc.returncode} without a screenshot: {tail}")
        size = shot.stat().st_size
        if size > MAX_BYTES:
            raise E2EError(f"screenshot is {size // 1024} KB (limit {MAX_BYTES // 1024} KB)")
        width, height = png_size(shot)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
        return f"{target.name}: {width}x{height}, {size // 1024} KB, {url}"
    except subprocess.TimeoutExpired as err:
        raise E2EError(f"chromium did not finish within {timeout:.0f}s") from err
    finally:
        # chromium's helpers share its process group: end them all, whatever happened
        signal_group(proc.pid, signal.SIGKILL, wait=5)
        proc.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)
