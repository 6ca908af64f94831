"""Operator behaviour outside the scenario matrix: parse time, on_kill, provider registration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_rocky.exceptions import RockyInterruptedError
from airflow_provider_rocky.operators.rocky import RockyOperator

ROOT = Path(__file__).resolve().parent.parent


def test_invalid_static_combinations_fail_at_parse_time_naming_them() -> None:
    with pytest.raises(ValueError, match=r"partition.*partition_from"):
        RockyOperator(
            task_id="t", partition="{{ ds }}", partition_from="2026-01-01", partition_to="2026-01-02"
        )
    with pytest.raises(ValueError, match="partition_to"):
        RockyOperator(task_id="t", partition_from="{{ ds }}")


def test_init_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: Any, **__: Any) -> None:
        raise AssertionError("I/O at parse time")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", forbidden)
    op = RockyOperator(
        task_id="t", filter="tenant={{ params.t }}", partition="{{ ds }}", rocky_conn_id="nope"
    )
    assert op.filter == "tenant={{ params.t }}"
    assert any(getattr(o, "name", "") == "rocky____t" for o in op.outlets)


class RecordingTI:
    """The one piece of task context the sync path writes to (XCom); everything else is real."""

    dag_id, run_id, task_id, map_index, try_number, start_date = "d", "r", "t", -1, 1, None

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def test_on_kill_ends_the_group_and_the_task_fails(standin_bin: Path) -> None:
    op = RockyOperator(
        task_id="t",
        binary_path=str(standin_bin),
        project_dir=os.environ["ROCKY_TEST_WORKDIR"],
        env_vars={"ROCKY_STANDIN_SCENARIO": "hang_ignore_term", "ROCKY_STANDIN_DELAY": "0"},
        term_grace_seconds=1,
    )
    ti = RecordingTI()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute({"ti": ti})  # type: ignore[arg-type]
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    while op._run is None or op._run.pid is None:
        time.sleep(0.05)
    pid = op._run.pid
    time.sleep(0.5)
    op.on_kill()
    worker.join(30)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], RockyInterruptedError)
    assert ti.xcom["return_value"]["category"] == "interrupted"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_deferring_holds_the_event_past_the_workers_heartbeat_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from airflow.providers.common.compat.sdk import TaskDeferred

    monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "7")
    # default: the heartbeat interval (7) + 5 s; 0: no hold; an explicit value as given.
    for hold, seconds in ((None, 12.0), (0, None), (2.0, 2.0)):
        op = RockyOperator(task_id="t", deferrable=True, binary_path="rocky", event_hold_seconds=hold)
        before = time.time()
        with pytest.raises(TaskDeferred) as deferred:
            op.execute({"ti": RecordingTI()})  # type: ignore[arg-type]
        after = time.time()
        until = deferred.value.trigger.hold_until  # type: ignore[attr-defined]
        if seconds is None:
            assert until is None, hold
        else:  # counted from inside execute(), however long it took on a loaded machine
            assert before + seconds <= until <= after + seconds, (hold, until - before)


@pytest.mark.parametrize("rendered", [None, "", "   "])
def test_a_blank_idempotency_key_gets_the_automatic_per_try_key(rendered: str | None) -> None:
    """A template that renders blank (``"{{ params.key }}"`` with no key) means "not given", in both paths.

    Release 0.1.0 gave such a deferrable task no key at all in ``execute()`` and the automatic key
    when it started from the triggerer.
    """
    from airflow.providers.common.compat.sdk import TaskDeferred

    op = RockyOperator(task_id="t", deferrable=True, binary_path="rocky", idempotency_key=rendered)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": RecordingTI()})  # type: ignore[arg-type]
    argv = deferred.value.trigger.command["argv"]  # type: ignore[attr-defined]
    assert "--idempotency-key=airflow:d:r:t:-1:try1" in argv


#: A task process as Airflow's task runner sets it up: SIGTERM calls ``on_kill`` from a signal handler.
_TASK_PROCESS = """
import json, os, signal, sys, threading, time
from tests.operators.test_operator import RecordingTI
from airflow_provider_rocky.operators.rocky import RockyOperator

op = RockyOperator(
    task_id="t",
    binary_path=sys.argv[1],
    project_dir=os.environ["ROCKY_TEST_WORKDIR"],
    env_vars={"ROCKY_STANDIN_SCENARIO": "hang_ignore_term", "ROCKY_STANDIN_DELAY": "0"},
    term_grace_seconds=15,
)
signal.signal(signal.SIGTERM, lambda *_: op.on_kill())

def announce():
    while op._run is None or op._run.pid is None:
        time.sleep(0.02)
    print("ENGINE", op._run.pid, flush=True)

threading.Thread(target=announce, daemon=True).start()
ti = RecordingTI()
try:
    op.execute({"ti": ti})
except Exception as err:
    report = {"error": type(err).__name__, "summary": ti.xcom.get("return_value")}
    print("REPORT", json.dumps(report), flush=True)
"""


def test_a_killed_sync_task_leaves_no_engine_even_when_airflow_sigkills_it(standin_bin: Path) -> None:
    """The real path: SIGTERM to the task process, then SIGKILL 5 s later, as Airflow's supervisor does.

    The engine ignores SIGTERM and ``term_grace_seconds`` is 15: without ``on_kill`` ending the group
    itself, the SIGKILL would leave the engine running with no parent watching it.
    """
    task = subprocess.Popen(
        [sys.executable, "-c", _TASK_PROCESS, str(standin_bin)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert task.stdout is not None
        engine = next(int(line.split()[1]) for line in task.stdout if line.startswith("ENGINE "))
        time.sleep(0.5)  # the engine is running and has set SIGTERM to be ignored
        task.send_signal(signal.SIGTERM)
        try:
            task.wait(5)  # Airflow's supervisor escalates after 5 s
        except subprocess.TimeoutExpired:
            task.kill()
            task.wait()
        left = [p.pid for p in psutil.process_iter() if _in_group(p, engine) and _running(p)]
        assert not left, f"engine processes outlived the task: {left}"
        report = [line for line in task.stdout.read().splitlines() if line.startswith("REPORT ")]
        if task.returncode != -signal.SIGKILL:  # it ended on its own, so it must have said why
            assert report, "the task process ended without reporting"
            assert json.loads(report[0][7:])["summary"]["category"] == "interrupted"
    finally:
        if task.poll() is None:
            task.kill()
            task.wait()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _in_group(proc: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(proc.pid) == pgid
    except (ProcessLookupError, psutil.Error):
        return False


def test_airflow_lists_the_provider() -> None:
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "airflow"),
            "providers",
            "get",
            "airflow-provider-rocky",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-500:]
    assert "airflow-provider-rocky" in out.stdout


def test_provider_info_declares_connection_types_and_classes() -> None:
    from airflow_provider_rocky.get_provider_info import get_provider_info

    info = get_provider_info()
    types = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert types["rocky"] == "airflow_provider_rocky.hooks.rocky.RockyHook"
    assert types["rocky_duckdb"] == "airflow_provider_rocky.hooks.duckdb.RockyDuckDBHook"
    modules = [
        m
        for key in ("hooks", "operators", "triggers")
        for entry in info[key]
        for m in entry["python-modules"]
    ]
    import importlib

    for module in modules:
        importlib.import_module(module)


def test_parsing_a_rocky_dag_does_not_import_rocky_sdk() -> None:
    """DAG parse cost: rocky-sdk's models load on first use, never when a DAG file is parsed."""
    code = (
        "import sys; from airflow_provider_rocky.operators.rocky import RockyOperator; "
        "[RockyOperator(task_id=f't{i}', filter='a=b', partition='{{ ds }}') for i in range(3)]; "
        "print(sorted(m for m in sys.modules if m.startswith('rocky_sdk')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_only_user_values_become_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """env_vars and the connection's env are masked; the audit values (e.g. "manual") are not."""
    from airflow_provider_rocky._engine.args.run import RunArgs
    from airflow_provider_rocky.hooks import rocky as hook_module

    masked: list[str] = []
    monkeypatch.setattr(hook_module, "mask_secret", masked.append)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ROCKY_DEFAULT", '{"conn_type": "rocky", "extra": {"env": {"TOKEN": "conn-s3cret"}}}'
    )
    command = hook_module.RockyHook().build_command(
        RunArgs(filter="a=b"), {"API_KEY": "user-s3cret"}, {"ROCKY_RUN_TRIGGER": "manual"}
    )
    assert sorted(masked) == ["conn-s3cret", "user-s3cret"]
    assert command.env == {"TOKEN": "conn-s3cret", "ROCKY_RUN_TRIGGER": "manual", "API_KEY": "user-s3cret"}
    assert command.secret_keys == ("API_KEY", "TOKEN")  # what the triggerer masks again
    from airflow_provider_rocky.triggers import rocky as trigger_module

    masked.clear()
    trigger_module._mask_env(type(command).deserialize(command.serialize()))
    assert sorted(masked) == ["conn-s3cret", "user-s3cret"]


def test_execution_timeout_counts_from_execute_not_from_the_task_start_date() -> None:
    """0.1.0 counted from ``ti.start_date``: under ``dags test`` the engine was ended 4 ms in."""
    from datetime import UTC, datetime, timedelta

    from airflow.providers.common.compat.sdk import TaskDeferred

    ti = RecordingTI()
    ti.start_date = datetime.now(UTC) - timedelta(hours=1)  # type: ignore[assignment]
    op = RockyOperator(task_id="t", deferrable=True, execution_timeout=timedelta(minutes=10))
    entered = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    limits = deferred.value.trigger.limits  # type: ignore[attr-defined]
    assert limits.deadline_reason == "execution_timeout=0:10:00"
    assert entered + 600 <= limits.deadline <= time.time() + 600


def test_the_logged_command_is_one_quoted_line_whatever_a_value_holds(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A newline in a templated value forged a log line at column 0 (argv was logged unquoted)."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    op = RockyOperator(
        task_id="t", deferrable=True, filter="a=b\nMarking task as SUCCESS", pipeline="my pipe"
    )
    with pytest.raises(TaskDeferred):
        op.execute({"ti": RecordingTI()})  # type: ignore[arg-type]
    lines = capfd.readouterr().out.splitlines()
    (logged,) = [line for line in lines if "rocky command:" in line]
    assert "$'--filter=a=b\\nMarking task as SUCCESS'" in logged and "'--pipeline=my pipe'" in logged
    assert not any(line.startswith("Marking task") for line in lines)


@pytest.mark.usefixtures("airflow_db", "standin_bin")
def test_under_dag_test_a_deferred_run_is_not_held(capfd: pytest.CaptureFixture[str]) -> None:
    """``dag.test()`` runs the trigger inline after the deferral is recorded: no race, no 10 s hold."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow_helpers import run_dag
    from sqlalchemy import select

    run = run_dag("rocky_face", "face__default_hold")
    assert run.task_state == "success"
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        ).one()
        trigger = session.get(Trigger, ti.trigger_id)
        assert trigger is not None and trigger.kwargs["hold_until"] is None
    assert "Holding the event" not in capfd.readouterr().out


def test_the_providers_page_links_to_the_documentation() -> None:
    """Airflow reads ``documentation-url`` from the Project-URL metadata; 0.1.0 had none (null)."""
    from airflow.providers_manager import ProvidersManager

    provider = ProvidersManager().providers["airflow-provider-rocky"]
    # Airflow 3.1.8 keeps the space after the comma of "Documentation, <url>"; 3.3 strips it.
    assert (
        str(provider.data["documentation-url"]).strip() == "https://pypi.org/project/airflow-provider-rocky/"
    )
