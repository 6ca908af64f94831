"""RockyRunTrigger under pytest-asyncio: event shape, serialize round trip, deadline, cancellation."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import psutil
import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._task import wire
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger


def standin(scenario: str, **env: str) -> dict:
    return RockyCommand(
        argv=(
            sys.executable,
            "-m",
            "airflow_provider_rocky.testing.engine",
            "--output",
            "json",
            "run",
            "--filter",
            "a=b",
        ),
        env={"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_DELAY": "0", **env},
        cwd=os.environ["ROCKY_TEST_WORKDIR"],
    ).serialize()


def test_serialize_round_trips_exactly() -> None:
    trigger = RockyRunTrigger(
        standin("success"), deadline=123.5, deadline_reason="timeout_seconds=5", carry={"a": 1}
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_rocky.triggers.rocky.RockyRunTrigger"
    again = RockyRunTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)


@pytest.mark.asyncio
async def test_one_event_with_everything_the_interpreter_needs() -> None:
    trigger = RockyRunTrigger(standin("partial"), carry={"asset_namespace": "rocky://x"})
    started = time.monotonic()
    events = [event async for event in trigger.run()]
    elapsed_ms = (time.monotonic() - started) * 1000
    assert len(events) == 1
    payload = events[0].payload
    assert set(payload) == {"outcome", "command", "carry", "pipes"}
    assert payload["carry"] == {"asset_namespace": "rocky://x"} and payload["pipes"] is None
    outcome = wire.unpack(payload).outcome  # type: ignore[union-attr]
    assert outcome.exit_code == 2 and outcome.stderr_tail
    assert 0 < outcome.duration_ms <= elapsed_ms, "the process's own wall time, within the trigger's"
    assert interpret(outcome).outcome == "partial"


@pytest.mark.asyncio
async def test_the_event_is_logged_as_a_digest_not_its_payload() -> None:
    """Airflow's triggerer logs ``result=event`` through structlog's JSON renderer into the task log."""
    import json

    import structlog
    from airflow.triggers.base import TriggerEvent

    trigger = RockyRunTrigger(standin("huge_stdout", ROCKY_STANDIN_TABLES="2000"))
    (event,) = [event async for event in trigger.run()]
    assert isinstance(event, TriggerEvent)
    packed = len(event.payload["outcome"]["stdout"])
    line = structlog.processors.JSONRenderer()(
        None, "info", {"event": "Trigger fired event", "result": event}
    )
    logged = json.loads(line)["result"]
    assert packed > 10_000 and len(logged) < 400, logged
    assert logged.startswith("TriggerEvent<rocky exit 0 after ") and f"({packed:,} packed)" in logged
    # the payload Airflow hands to execute_complete is the whole thing, untouched
    assert TriggerEvent(**event.model_dump()).payload == event.payload


@pytest.mark.asyncio
async def test_a_quick_run_holds_its_event_until_the_deferral_is_settled(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import time

    hold_until = time.time() + 2.0
    trigger = RockyRunTrigger(standin("success"), hold_until=hold_until)
    assert RockyRunTrigger(**trigger.serialize()[1]).hold_until == hold_until
    (event,) = [event async for event in trigger.run()]
    fired_at = time.time()
    assert fired_at >= hold_until, "the event must not fire before hold_until"
    assert "Holding the event" in capfd.readouterr().out
    assert wire.unpack(event.payload).outcome.exit_code == 0  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_deadline_ends_the_group_and_reports_a_timeout() -> None:
    import time

    trigger = RockyRunTrigger(
        standin("grandchild"),
        deadline=time.time() + 2,
        deadline_reason="execution_timeout=0:00:02",
        term_grace_seconds=2,
    )
    event = await anext(trigger.run())
    outcome = wire.unpack(event.payload).outcome  # type: ignore[union-attr]
    assert outcome.timed_out and outcome.deadline_reason == "execution_timeout=0:00:02"
    verdict = interpret(outcome)
    assert verdict.error is not None and verdict.error.category == "timeout"
    assert "execution_timeout=0:00:02" in str(verdict.error)


@pytest.mark.asyncio
async def test_cancellation_ends_the_process_group() -> None:
    trigger = RockyRunTrigger(standin("hang"), term_grace_seconds=5)
    task = asyncio.create_task(anext(trigger.run()))
    while trigger._run is None or trigger._run.pid is None:
        await asyncio.sleep(0.05)
    pid = trigger._run.pid
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert trigger._run.outcome is not None and trigger._run.outcome.killed


@pytest.mark.asyncio
async def test_a_second_copy_of_a_running_try_meets_its_lock_and_fails_retryable(tmp_path) -> None:
    """Two copies with one idempotency key while the first runs: the second's claim meets the state
    file's lock (the engine's claim opens the store) and reports it at once, retryable; the work runs once."""
    record = tmp_path / "record.jsonl"

    def copy() -> RockyRunTrigger:
        command = standin("slow", ROCKY_STANDIN_RECORD=str(record))
        command["argv"] += ["--idempotency-key", "airflow:d:r:t:-1:try1"]
        command["cwd"] = str(tmp_path)
        return RockyRunTrigger(command, in_flight_poll_seconds=0.5)

    first = asyncio.create_task(anext(copy().run()))
    await asyncio.sleep(1.0)  # the first holds the key and the state file now
    second = await anext(copy().run())
    verdict = interpret(wire.unpack(second.payload).outcome)  # type: ignore[union-attr]
    assert verdict.error is not None and verdict.error.category == "state" and verdict.error.retryable
    assert "locked by another process" in verdict.error.reason
    assert interpret(wire.unpack((await first).payload).outcome).outcome == "success"  # type: ignore[union-attr]
    from airflow_provider_rocky.testing import read_record

    ran = [r for r in read_record(record) if r.get("event") == "end" and r.get("status") == "Success"]
    assert len(ran) == 1, "the work ran once"


@pytest.mark.asyncio
async def test_an_engine_that_never_started_is_reported_at_once_as_failed_to_start(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """0.1.0 held the event anyway (10 s by default) and logged ``rocky exited None``."""
    import time

    command = RockyCommand(argv=("/nonexistent/rocky", "run"), cwd=os.environ["ROCKY_TEST_WORKDIR"])
    trigger = RockyRunTrigger(command.serialize(), hold_until=time.time() + 600)
    event = await asyncio.wait_for(anext(trigger.run()), 120)  # a bound, not a measurement
    log = capfd.readouterr().out
    assert "rocky failed to start: FileNotFoundError" in log
    assert "exited None" not in log and "Holding the event" not in log
    assert wire.digest(event.payload).startswith("rocky failed to start: FileNotFoundError")
    verdict = interpret(wire.unpack(event.payload).outcome)  # type: ignore[union-attr]
    assert verdict.error is not None and verdict.error.category == "binary_missing"


def _leaky(secret: str) -> RockyCommand:
    """An engine that prints its secret to stderr and into its stdout."""
    script = 'echo "connect failed for $TOKEN" >&2; echo "{\\"leak\\": \\"$TOKEN\\"}"'
    return RockyCommand(
        argv=("/bin/sh", "-c", script),
        env={"TOKEN": secret, "ROCKY_RUN_TRIGGER": "manual"},
        cwd=os.environ["ROCKY_TEST_WORKDIR"],
        secret_keys=("TOKEN",),
    )


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> str:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    return key


@pytest.mark.asyncio
@pytest.mark.usefixtures("fernet_key")
async def test_secrets_travel_sealed_and_the_event_carries_none_in_clear() -> None:
    """0.1.0 stored the engine's secret environment in the trigger row, and the stderr tail in clear."""
    from airflow_provider_rocky._task import secrets

    secret = "tok-sealed-5be0c2"
    kwargs, sealed = secrets.seal_command(_leaky(secret))
    assert sealed and secret not in json.dumps(kwargs) and kwargs["env"] == {"ROCKY_RUN_TRIGGER": "manual"}
    trigger = RockyRunTrigger(kwargs)
    assert RockyRunTrigger(**trigger.serialize()[1]).serialize() == trigger.serialize()
    event = await anext(trigger.run())
    assert secret not in json.dumps(event.payload) and event.payload["sealed"] is True
    finished = wire.unpack(event.payload)
    assert isinstance(finished, wire.Finished)
    assert finished.outcome.stderr_tail == ["connect failed for ***"]
    assert json.loads(finished.outcome.stdout) == {"leak": secret}, "the worker reads what the engine printed"


@pytest.mark.asyncio
async def test_a_triggerer_without_the_workers_key_refuses_naming_the_key(
    fernet_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from airflow_provider_rocky._task import secrets

    kwargs, _ = secrets.seal_command(_leaky("tok-other-key-9f"))
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    secrets.forget_fernet()  # the triggerer is another process: it reads its own key
    event = await anext(RockyRunTrigger(kwargs).run())
    refused = wire.unpack(event.payload)
    assert isinstance(refused, wire.Refused) and refused.error.category == "usage"
    assert "same fernet_key" in refused.error.reason
