"""A deferred try handed from one triggerer to another, against the faithful stand-in (contract §3.6).

Copies of one try are real ``RockyRunTrigger`` runs of real engines sharing one state file; the
metadata DB is the real one, reached the way a trigger reaches it (Airflow's supervisor comms, here
the in-process ones ``dag.test()`` uses). What the engine did is read from the stand-in's record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_helpers import run_dag

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._task import wire
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

pytestmark = pytest.mark.usefixtures("airflow_db")


def keyed(cwd: Path, key: str, record: Path, scenario: str = "success", **env: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--output", "json", "run"]
    argv += ["--filter", "source=orders", f"--idempotency-key={key}"]
    env = {"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_RECORD": str(record), **env}
    return RockyCommand(argv=tuple(argv), env=env, cwd=str(cwd)).serialize()


def holder_killed(cwd: Path, key: str, record: Path) -> str:
    """A copy of the try whose engine claimed ``key`` and died without a handler: its run id."""
    import subprocess

    argv = RockyCommand.deserialize(keyed(cwd, key, record, ROCKY_STANDIN_DELAY="30")).argv
    env = {**os.environ, "ROCKY_STANDIN_DELAY": "30", "ROCKY_STANDIN_RECORD": str(record)}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    for raw in proc.stderr:
        if b"idempotency key claimed" in raw:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return str(json.loads(raw)["span"]["run_id"])
    raise AssertionError("the holder never claimed the key")


def test_a_dead_holders_claim_ends_the_copy_within_its_bound_as_retryable_state(tmp_path: Path) -> None:
    """0.1.0 asked again every 10 s, starting an engine each time, until the task's deadline (or 24 h)."""
    record, key = tmp_path / "record.jsonl", "airflow:d:r:t:-1:try1"
    holder = holder_killed(tmp_path, key, record)
    trigger = RockyRunTrigger(
        keyed(tmp_path, key, record), in_flight_poll_seconds=0.2, in_flight_wait_seconds=2.0
    )
    event = asyncio.run(asyncio.wait_for(anext(trigger.run()), 120))  # a bound on the test, not a measure
    verdict = interpret(wire.unpack(event.payload).outcome)  # type: ignore[union-attr]
    assert verdict.error is not None and verdict.error.category == "state" and verdict.error.retryable
    assert key in verdict.error.reason and holder in verdict.error.reason
    assert "in_flight_ttl_hours" in verdict.error.reason and "A retry runs under a key of its own" in (
        verdict.error.reason
    )
    asked = [e for e in read_record(record) if e["event"] == "end" and e["status"] == "SkippedInFlight"]
    assert 2 <= len(asked) <= 6, f"{len(asked)} engine runs: asks back off (0.2, 0.4, 0.8 s...) within 2 s"
    retry = asyncio.run(anext(RockyRunTrigger(keyed(tmp_path, key.replace("try1", "try2"), record)).run()))
    assert interpret(wire.unpack(retry.payload).outcome).outcome == "success"  # type: ignore[union-attr]


def test_the_bound_is_a_kwarg_written_only_when_set() -> None:
    """A previous triggerer refuses kwargs it does not know: the default bound is not written."""
    command = RockyCommand(argv=("rocky", "run")).serialize()
    assert "in_flight_wait_seconds" not in RockyRunTrigger(command).serialize()[1]
    kwargs = RockyRunTrigger(command, in_flight_wait_seconds=30).serialize()[1]
    assert kwargs["in_flight_wait_seconds"] == 30
    assert RockyRunTrigger(**kwargs).in_flight_wait_seconds == 30
    op = RockyOperator(task_id="t", deferrable=True, start_from_trigger=True, in_flight_wait_seconds=45)
    assert op.start_trigger_args is not None
    assert op.start_trigger_args.trigger_kwargs["in_flight_wait_seconds"] == 45


@contextlib.contextmanager
def triggerer_comms(ti_id: Any) -> Iterator[None]:
    """Airflow's supervisor comms for a trigger of task instance ``ti_id`` (the in-process kind)."""
    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
        set_supervisor_comms,
    )

    supervisor = InProcessTestSupervisor(
        id=ti_id,
        pid=os.getpid(),
        process=psutil.Process(),
        process_log=structlog.get_logger(logger_name="task").bind(),
        client=InProcessTestSupervisor._api_client(),
    )
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    with set_supervisor_comms(supervisor.comms):
        yield


def a_task_instance() -> Any:
    """A real task instance row (``dag.test()`` of a deferrable task), its XComs the trigger's to write."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = run_dag("rocky_face", "face__default_hold")
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        ).one()
        return SimpleNamespace(
            id=ti.id, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=-1, try_number=1
        )


class RecordingTI(SimpleNamespace):
    def xcom_push(self, key: str, value: Any) -> None:
        self.__dict__.setdefault("xcom", {})[key] = value


def test_a_copy_that_meets_skipped_idempotent_reports_the_run_whose_event_was_lost(tmp_path: Path) -> None:
    """0.1.0: the adopting copy's engine answered SkippedIdempotent and the task went green with zero
    asset events. Copy A's engine succeeds; A dies while holding its event (the ~10 s hold); copy B
    meets SkippedIdempotent and reports A's run, whose tables get their events once."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    ti = a_task_instance()
    record, key = tmp_path / "record.jsonl", f"airflow:{ti.dag_id}:{ti.run_id}:{ti.task_id}:-1:try1"
    command = keyed(tmp_path, key, record)

    async def handoff_between_triggerers() -> Any:
        import time

        from airflow_provider_rocky._task import handoff

        first = RockyRunTrigger(command, hold_until=time.time() + 600)
        first.task_instance = ti  # type: ignore[assignment]
        held = asyncio.ensure_future(anext(first.run()))
        for _ in range(1200):  # until A's engine ended and its run was recorded; A is then holding
            if _stored(ti, handoff.LANDED_XCOM_KEY):
                break
            await asyncio.sleep(0.05)
        held.cancel()  # the triggerer holding A dies: its event is never fired
        with contextlib.suppress(asyncio.CancelledError):
            await held
        second = RockyRunTrigger(command)
        second.task_instance = ti  # type: ignore[assignment]
        return await anext(second.run())

    with triggerer_comms(ti.id):
        event = asyncio.run(handoff_between_triggerers())
    ends = [e for e in read_record(record) if e["event"] == "end"]
    assert [e["status"] for e in ends] == ["Success", "SkippedIdempotent"], "the work ran once"
    written = sorted(e["table"] for e in read_record(record) if e["event"] == "materialized")
    op = RockyOperator(task_id=ti.task_id, deferrable=True, asset_namespace="rocky://handoff")
    summary = op.execute_complete(
        {"ti": RecordingTI(), "outlet_events": OutletEventAccessors()}, event.payload
    )  # type: ignore[arg-type]
    assert summary["outcome"] == "success" and summary["run_id"] == _run_id(record)
    tables = sorted(str(spec.extra["target_table"]) for spec in op._asset_specs)
    assert tables == written and len(set(tables)) == len(tables) == 2, "each landed table, one event"


def test_skipped_idempotent_with_no_record_says_which_run_at_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """No record of the run that did the work (the sync path, a key given by hand): never a silent green."""
    key = "nightly-2026-12-01"
    done = asyncio.run(anext(RockyRunTrigger(keyed(tmp_path, key, tmp_path / "r.jsonl")).run()))
    again = asyncio.run(anext(RockyRunTrigger(keyed(tmp_path, key, tmp_path / "r.jsonl")).run()))
    from airflow.sdk.execution_time.context import OutletEventAccessors

    op = RockyOperator(task_id="t", deferrable=True)
    capfd.readouterr()
    summary = op.execute_complete(
        {"ti": RecordingTI(), "outlet_events": OutletEventAccessors()}, again.payload
    )  # type: ignore[arg-type]
    assert summary["outcome"] == "skipped" and op._asset_specs == []
    run_id = wire.unpack(done.payload).outcome.run_id  # type: ignore[union-attr]
    log = capfd.readouterr().out
    assert (
        f"was done by rocky run {run_id} (SkippedIdempotent)" in log and "no asset event is recorded" in log
    )


def _stored(ti: Any, key: str) -> bool:
    """Whether the metadata DB holds the task instance's XCom ``key`` (read directly, not through comms)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(XComModel.key).where(
            XComModel.dag_id == ti.dag_id,
            XComModel.run_id == ti.run_id,
            XComModel.task_id == ti.task_id,
            XComModel.key == key,
        )
        return session.scalar(query) is not None


def _run_id(record: Path) -> str | None:
    """The run id of the first engine run that succeeded, from the stand-in's record."""
    pids = {e["pid"] for e in read_record(record) if e["event"] == "end" and e["status"] == "Success"}
    found = [e["run_id"] for e in read_record(record) if e["event"] == "materialized" and e["pid"] in pids]
    return found[0] if found else None
