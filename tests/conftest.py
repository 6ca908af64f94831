"""Test session set-up: a throwaway AIRFLOW_HOME with a real SQLite metadata DB, and an orphan check.

Airflow reads its configuration at first import, so the environment is set here, at module import,
before any test module imports airflow.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DAGS = ROOT / "tests" / "dags"
CORPUS = ROOT.parent / "shared" / "corpus"

_HOME = Path(tempfile.mkdtemp(prefix="rocky-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(TEST_DAGS)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ.setdefault("ROCKY_STANDIN_DELAY", "0")
#: The engine-version cache (``_engine/version.py``) lives under the session's home, not the user's.
os.environ["XDG_CACHE_HOME"] = str(_HOME / "cache")
#: Most tests run the stand-in in a bare directory; the real engine (and by default the stand-in)
#: refuses a project without rocky.toml (tests/standin/test_config.py checks that).
os.environ["ROCKY_STANDIN_ALLOW_NO_CONFIG"] = "1"
#: Every process this test session starts inherits this marker, so orphans can be found even after
#: they were re-parented to init (they are no longer our children then).
SESSION_MARKER = f"rocky-test-{uuid.uuid4().hex}"
os.environ["ROCKY_TEST_SESSION"] = SESSION_MARKER
#: Where test DAGs find the stand-in binary and write their invocation records.
os.environ["ROCKY_TEST_WORKDIR"] = str(_HOME / "work")
(_HOME / "work").mkdir()
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(TEST_DAGS))


def marked_processes() -> list[int]:
    """Pids of live processes (other than this one and its engine reaper) that carry this session's marker.

    The reaper (``_engine/reaper.py``) lives as long as the process whose engines it watches: this one.
    """
    import psutil

    from airflow_provider_rocky._engine.reaper import reaper_pid

    found = []
    mine = {os.getpid(), reaper_pid()}
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in mine:
            continue
        try:
            if proc.environ().get("ROCKY_TEST_SESSION") == SESSION_MARKER and proc.status() != "zombie":
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _after_reapers_exit(left: list[int], seconds: float = 10.0) -> list[int]:
    """Give the reapers of supervisors that just exited (a subprocess that ran an engine) time to exit,
    and the engine's ``--version`` probes time to end.

    A reaper notices its supervisor's exit by EOF and leaves at once when nothing is registered, but it
    may still be starting (Python, ~50 ms) when a short-lived supervisor is already gone. A probe is
    shared by every run that waits for it (``_engine/version.py``), so a cancelled run leaves it to
    finish under its own supervisor and deadline: on a loaded host it can outlive the test by a
    moment. Anything else left is reported at once; a reaper or probe still there after ``seconds``
    is reported too.
    """
    import psutil

    def ending_on_their_own(pids: list[int]) -> bool:
        try:
            lines = [psutil.Process(pid).cmdline() for pid in pids]
        except psutil.Error:
            return True  # one just exited: look again
        return all("reaper_main" in " ".join(line) or line[-1:] == ["--version"] for line in lines)

    until = time.monotonic() + seconds
    while left and ending_on_their_own(left) and time.monotonic() < until:
        time.sleep(0.05)
        left = marked_processes()
    return left


def _share_the_in_process_execution_api() -> None:
    """One in-process execution API per test process on Airflow 3.1, as 3.2+ effectively have.

    Airflow 3.1's ``dag.test()`` builds a new ``InProcessExecutionAPI`` for every task it runs, and
    Cadwyn generates the API's versioned routers again on each one's first request: 3 to 4 s of CPU
    per task here (measured: 3.5-4.0 s per new app on 3.1.8, 0.01 s on 3.3.2), most of the 3.1 suite's
    time. Sharing one changes no request's handling (every task still gets its own DBDagBag override).
    """
    from airflow.sdk.execution_time import supervisor

    from airflow_provider_rocky.version_compat import AIRFLOW_V_3_2_PLUS

    if AIRFLOW_V_3_2_PLUS:
        return
    shared = supervisor.in_process_api_server()
    supervisor.in_process_api_server = lambda: shared  # type: ignore[assignment]


@pytest.fixture(scope="session", autouse=True)
def shared_execution_api() -> None:
    _share_the_in_process_execution_api()


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """After every test, no process started by the test run may still be alive."""
    yield
    import psutil

    left = _after_reapers_exit(marked_processes())
    if left:
        for pid in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        pytest.fail(f"processes left alive after the test: {left}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs a DAG through the metadata DB (``airflow_db``): ``-m "not dag_test"``
    is the inner loop (``make test-fast``), everything else still runs real engine processes."""
    for item in items:
        if "airflow_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dag_test)


@pytest.fixture(scope="session")
def standin_bin() -> Path:
    """The stand-in engine installed as an executable named ``rocky``."""
    from airflow_provider_rocky.testing import install_standin

    bindir = _HOME / "bin"
    bindir.mkdir(exist_ok=True)
    return install_standin(bindir)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A freshly migrated SQLite metadata DB for the whole session."""
    from airflow.utils import db

    db.resetdb()
    yield _HOME


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A per-test project directory for the engine (its cwd)."""
    return tmp_path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start stand-ins in their own process group (``standin_process.Live``); SIGKILLed at teardown."""
    from standin_process import Live, spawn_live

    started: list[Live] = []

    def _spawn(*args: str, scenario: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Live:
        live = spawn_live(*args, scenario=scenario, cwd=cwd or tmp_path, env=env)
        started.append(live)
        return live

    try:
        yield _spawn
    finally:
        for live in started:
            live.killpg()
            with contextlib.suppress(Exception):
                live.proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def fresh_fernet_key() -> Iterator[None]:
    """Each test is a fresh process as far as the cached Fernet key goes (tests change the key)."""
    from airflow_provider_rocky._task.secrets import forget_fernet

    forget_fernet()
    yield
    forget_fernet()
