"""Where secrets can and cannot appear: the metadata DB holds none of them in clear, in either mode.

The engine here leaks on purpose (tests/dags/rocky_face.py): it prints its secrets to stderr, plain
and inside tracing JSON (escaped), and into its result's error messages, with a NUL byte. The secrets
come from a templated ``env_vars`` value (an Airflow Variable) and the connection's ``secret_env``;
neither is written in the DAG file, so any copy in the metadata DB was made by the run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import sys
import zlib
from pathlib import Path

import pytest
from airflow_helpers import run_dag

from airflow_provider_rocky._engine.command import secret_forms

pytestmark = pytest.mark.usefixtures("airflow_db")

#: Unique to this module (the masker of a dag.test() process is shared by every test in it).
CREDS = 'creds-"ünique"-4f1c9a'
PASSWORD = "pw\\face-8d2e7b"

_ENGINE = """#!{python}
import json, os, sys
creds, password = os.environ["WAREHOUSE_ACCESS_TOKEN"], os.environ["WAREHOUSE_PASSWORD"]
line = {{"timestamp": "2026-01-01T00:00:00Z", "level": "ERROR", "target": "rocky::adapter",
         "fields": {{"message": "auth failed", "dsn": "user:" + password + "@host", "creds": creds}}}}
sys.stderr.write(json.dumps(line) + "\\n")
sys.stderr.write("Error: login refused for " + password + " and " + creds + " \\x00 end\\n")
result = {{
    "version": "1.71.0", "command": "run", "status": "Failure", "filter": "source=orders",
    "duration_ms": 1, "tables_copied": 0, "tables_failed": 1, "materializations": [],
    "errors": [{{"asset_key": ["", "raw", "orders"], "failure_kind": "auth-failed",
                 "error": "auth failed: password=" + password + " creds=" + creds + " nul=\\x00"}}],
    "check_results": [],
    "permissions": {{"grants_added": 0, "grants_revoked": 0, "catalogs_created": 0, "schemas_created": 0}},
    "drift": {{"tables_checked": 0, "tables_drifted": 0, "actions_taken": []}},
}}
print(json.dumps(result))
sys.exit(1)
"""


@pytest.fixture(params=["secret_env", "env"])
def leaky_deployment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaky engine, the Variable, a Fernet key, and the password in the connection's ``env`` or
    ``secret_env`` (both are secrets; ``secret_env`` is also hidden in the UI and the REST API)."""
    from cryptography.fernet import Fernet

    engine = Path(os.environ["ROCKY_TEST_WORKDIR"]) / "face_leaky_engine"
    engine.write_text(_ENGINE.format(python=sys.executable))
    engine.chmod(0o755)
    monkeypatch.setenv("AIRFLOW_VAR_FACE_CREDS", CREDS)
    env = {"WAREHOUSE_PASSWORD": PASSWORD}
    extra = {"secret_env": json.dumps(env)} if request.param == "secret_env" else {"env": env}
    conn = {"conn_type": "rocky", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ROCKY_FACE", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())


def metadata_db_text() -> dict[str, str]:
    """Every row of every table of the metadata DB, as text, by table."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        tables = list(session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        return {
            table: "\n".join(_text(row) for row in session.execute(text(f'SELECT * FROM "{table}"')))
            for table in tables
        }


def _text(row: object) -> str:
    cells = [cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell) for cell in row]
    return " | ".join(cells)


#: Base64 (standard or URL-safe) long enough to hide a secret.
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def decoded(text: str) -> str:
    """``text`` plus everything base64 in it decodes to, each decoded blob also zlib-inflated."""
    found = [text]
    for token in _BASE64.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            found.append(raw.decode("utf-8", "replace"))
            with contextlib.suppress(zlib.error):
                found.append(zlib.decompress(raw).decode("utf-8", "replace"))
    return "\n".join(found)


def leaks(tables: dict[str, str]) -> list[tuple[str, str]]:
    """(table, form) for every form of a secret found in a table, also once base64 and zlib undone."""
    forms = {form for secret in (CREDS, PASSWORD) for form in secret_forms(secret)}
    readable = {table: decoded(text) for table, text in tables.items()}
    return sorted((table, form) for table, text in readable.items() for form in forms if form in text)


def test_the_scan_sees_through_base64_and_zlib() -> None:
    packed = base64.b64encode(zlib.compress(f"password={PASSWORD}".encode())).decode()
    assert leaks({"task_instance": f'{{"stdout": "{packed}"}}'}) != []


@pytest.mark.usefixtures("leaky_deployment")
@pytest.mark.parametrize("mode", ["sync", "deferrable", "start_from_trigger"])
def test_no_secret_reaches_the_metadata_db_in_clear(mode: str) -> None:
    """Trigger kwargs, the event in next_kwargs, XCom (summary and full result), rendered fields.

    ``start_from_trigger``: the command is built in the triggerer, whose event 0.1.0 did not seal
    (stdout zlib-compressed and base64-encoded, the engine's echo of the password readable in it).
    """
    run = run_dag("rocky_face", f"face__leaky__{mode}")
    found = leaks(metadata_db_text())
    assert not found, f"secrets in clear in the metadata DB: {found}"
    assert run.task_state == "failed" and run.summary["category"] == "adapter"
    (error,) = run.summary["errors"]
    assert error["message"].startswith("auth failed: password=*** creds=***")
    assert error["message"].endswith("nul=\\x00"), "a NUL is shown, not stored (JSONB refuses it)"
    assert "***" in run.xcoms["rocky_result"]["errors"][0]["error"]


@pytest.mark.usefixtures("leaky_deployment")
def test_a_start_from_trigger_event_holds_nothing_decodable() -> None:
    """The event as the triggerer fires it (what Airflow stores in ``next_kwargs`` until the task
    resumes; ``dag.test()`` clears it after, so the DB scan above cannot see it). 0.1.0 sent the engine's
    stdout zlib-compressed and base64-encoded only: the password it echoed was one decode away."""
    import asyncio
    import importlib

    from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

    dag = importlib.import_module("rocky_face").face__leaky__start_from_trigger
    args = dag.get_task("rocky_run").start_trigger_args
    event = asyncio.run(anext(RockyRunTrigger(**args.trigger_kwargs).run()))
    assert not leaks({"task_instance.next_kwargs": json.dumps(event.payload)})
    assert event.payload.get("sealed") is True


def _run_record_leaking(secret: str) -> object:
    from run_results import run_result

    from airflow_provider_rocky._engine.process import ProcessOutcome
    from airflow_provider_rocky._engine.run import RunRecord

    result = run_result([]).model_dump(mode="json")
    result.update(status="Failure", tables_failed=1)
    error = {"asset_key": ["s", "t"], "error": f"login refused: {secret}", "failure_kind": "auth-failed"}
    result["errors"] = [error]
    return RunRecord(ProcessOutcome(exit_code=1, stdout=json.dumps(result).encode(), stderr_tail=["x"]))


_RESUME = """
import json, sys
from airflow_provider_rocky.operators.rocky import RockyOperator

class TI:
    xcom = {}
    def xcom_push(self, key, value):
        self.xcom[key] = value

ti = TI()
op = RockyOperator(task_id="t", deferrable=True, push_full_result=True)
try:
    op.execute_complete({"ti": ti}, json.loads(sys.stdin.read()))
except Exception as err:
    print("ERROR", type(err).__name__)
print("XCOM", json.dumps(ti.xcom))
"""


def test_a_resumed_task_redacts_the_connection_secrets_it_never_looked_up(tmp_path: Path) -> None:
    """After a deferral the task resumes in a new process, whose masker knows no secret yet."""
    import subprocess

    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._task import wire

    secret = "resume-s3cret-77aa"
    event = wire.pack(_run_record_leaking(secret), RockyCommand(argv=("rocky", "run")), {})  # type: ignore[arg-type]
    conn = {"conn_type": "rocky", "extra": {"env": {"WAREHOUSE_PASSWORD": secret}}}
    env = {**os.environ, "AIRFLOW_CONN_ROCKY_DEFAULT": json.dumps(conn)}
    done = subprocess.run(
        [sys.executable, "-c", _RESUME],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    (xcom,) = [line[5:] for line in done.stdout.splitlines() if line.startswith("XCOM ")]
    assert "ERROR RockyAdapterError" in done.stdout
    pushed = json.loads(xcom)
    assert pushed["return_value"]["errors"][0]["message"] == "login refused: ***"
    assert secret not in xcom


def test_without_a_fernet_key_the_task_log_says_the_secrets_are_stored_unencrypted(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """No ``[core] fernet_key``: Airflow itself stores connections unencrypted; so does the deferral."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_rocky.operators.rocky import RockyOperator

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")

    class TI:
        dag_id, run_id, task_id, map_index, try_number = "d", "r", "t", -1, 1

    op = RockyOperator(task_id="t", deferrable=True, env_vars={"WAREHOUSE_ACCESS_TOKEN": "no-key-creds-31"})
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": TI()})  # type: ignore[arg-type]
    assert deferred.value.trigger.command["env"]["WAREHOUSE_ACCESS_TOKEN"] == "no-key-creds-31"  # type: ignore[attr-defined]
    assert "fernet_key is not set: the engine's 1 secret environment value(s) are stored unencrypted" in (
        capfd.readouterr().out
    )
