"""What the task face stores is storable in PostgreSQL's JSONB, which refuses ``\\u0000`` (issue 13.2).

SQLite and JSON columns take a NUL; a PostgreSQL metadata DB's JSONB columns do not, so a NUL in an
engine's stderr or error message left a deferred task queued (its event could not be stored) and
lost a failed task's XCom summary. These tests start a throwaway PostgreSQL cluster (Debian's
``postgresql`` package: ``apt-get install postgresql``) and skip when it is not installed.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._engine.run import RunRecord
from airflow_provider_rocky._task import secrets, wire
from airflow_provider_rocky.exceptions import RockyUsageError


def _pg(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def jsonb() -> Iterator[Callable[[str], None]]:
    """``check(text)``: PostgreSQL casts ``text`` to ``jsonb`` or the test fails with its error."""
    initdb, pg_ctl, psql = _pg("initdb"), _pg("pg_ctl"), _pg("psql")
    if not (initdb and pg_ctl and psql):
        pytest.skip("PostgreSQL (initdb, pg_ctl, psql) is not installed")
    # initdb refuses root: run the server as `postgres` then, as e2e/deployment.py does.
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="rocky-pg-"))  # not pytest's tmp: its parents are 0700
    data, sock, log = base / "data", base / "sock", base / "server.log"
    for path in (data, sock):
        path.mkdir(mode=0o700)
    log.touch()
    if prefix:
        for path in (data, sock, log):
            os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(base, 0o755)
    # The server is stopped below; it must not carry the test session's orphan marker meanwhile.
    env = {key: value for key, value in os.environ.items() if key != "ROCKY_TEST_SESSION"}
    port = _free_port()

    def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *argv], env=env, capture_output=True, text=True, timeout=120, check=False, **kw
        )  # type: ignore[call-overload, no-any-return]

    def check(text: str) -> None:
        sql = f"SELECT $rocky${text}$rocky$::jsonb IS NOT NULL"
        out = run([psql, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-At", "-c", sql])
        assert out.returncode == 0 and out.stdout.strip() == "t", out.stderr.strip()

    try:
        done = run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        assert done.returncode == 0, done.stderr
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sock}"
        done = run([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"])
        assert done.returncode == 0, done.stderr + log.read_text()
        yield check
    finally:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _record_with_nul() -> RunRecord:
    outcome = ProcessOutcome(
        exit_code=1,
        stdout=b'{"error": "x\\u0000y"}',
        stderr_tail=["Error: bad row \x00 here", '{"fields": {"message": "nul \x00"}}'],
        run_id="run-\x00",
    )
    return RunRecord(outcome)


def test_this_postgresql_refuses_a_nul_in_jsonb(jsonb: Callable[[str], None]) -> None:
    """The constraint is real: what 0.1.0 stored for such a run is refused."""
    with pytest.raises(AssertionError, match=r"\\u0000"):
        jsonb(json.dumps({"stderr_tail": ["bad row \x00 here"]}))


def test_a_finished_event_with_nul_bytes_is_storable(jsonb: Callable[[str], None]) -> None:
    payload = wire.pack(_record_with_nul(), RockyCommand(argv=("rocky", "run")), {"asset_namespace": None})
    jsonb(json.dumps(payload))
    finished = wire.unpack(payload)
    assert isinstance(finished, wire.Finished)
    assert finished.outcome.stderr_tail[0] == "Error: bad row \\x00 here", "shown, not dropped"


def test_a_refusal_and_an_xcom_summary_with_nul_bytes_are_storable(jsonb: Callable[[str], None]) -> None:
    jsonb(json.dumps(wire.pack_refusal(RockyUsageError("filter='a\x00=b' is invalid"), {})))
    summary = {"outcome": "failed", "errors": [{"table": "s.t", "message": "row \x00 refused"}]}
    stored = secrets.for_the_db(summary)
    jsonb(json.dumps(stored))
    assert stored["errors"][0]["message"] == "row \\x00 refused"
