"""The trigger → task wire format: packed once, checked before anything is interpreted."""

from __future__ import annotations

import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._engine.run import RunRecord
from airflow_provider_rocky._task import wire
from airflow_provider_rocky.exceptions import RockyEngineError, RockyGovernanceError, RockyUsageError

COMMAND = RockyCommand(argv=("rocky", "run", "--idempotency-key", "k-1"))


def test_outcome_round_trips_through_a_trigger_event() -> None:
    outcome = ProcessOutcome(
        exit_code=2, stdout=b'{"a": 1}' * 1000, stderr_tail=["x"], run_id="run-1", timed_out=True
    )
    event = wire.pack(RunRecord(outcome), COMMAND, {"asset_namespace": "rocky://x"})
    assert len(event["outcome"]["stdout"]) < 200
    unpacked = wire.unpack(event)
    assert isinstance(unpacked, wire.Finished) and unpacked.outcome == outcome
    assert unpacked.command == ["rocky", "run", "--idempotency-key", "***"], "argv travels redacted"
    assert unpacked.carry == {"asset_namespace": "rocky://x"} and unpacked.pipes is None
    empty = wire.unpack(wire.pack(RunRecord(ProcessOutcome(exit_code=0)), COMMAND, {}))
    assert isinstance(empty, wire.Finished) and empty.outcome.stdout == b""


def test_a_pipes_record_round_trips() -> None:
    record = PipesRecord(messages=[{"method": "report_asset_check", "params": {"a": 1}}], problems=2)
    unpacked = wire.unpack(wire.pack(RunRecord(ProcessOutcome(exit_code=0), record), COMMAND, {}))
    assert isinstance(unpacked, wire.Finished) and unpacked.pipes == record


def test_a_refusal_travels_as_its_registered_error() -> None:
    error = RockyGovernanceError("workspace_ids is empty")
    unpacked = wire.unpack(wire.pack_refusal(error, {"k": 1}))
    assert isinstance(unpacked, wire.Refused) and type(unpacked.error) is RockyGovernanceError
    assert unpacked.error.reason == "workspace_ids is empty" and unpacked.carry == {"k": 1}


@pytest.mark.parametrize("name", ["RockyUsageErrorX", "AirflowFailException", "object", "__class__", ""])
def test_a_refusal_naming_anything_but_a_registered_error_is_refused(name: str) -> None:
    with pytest.raises(RockyEngineError, match="unknown error"):
        wire.unpack({"refused": {"class": name, "message": "m"}})


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (None, "no event payload"),
        ("text", "no event payload"),
        ({}, "no outcome"),
        ({"outcome": None}, "no outcome"),
        ({"outcome": {"exit_code": "two"}}, "malformed"),
        ({"outcome": {"exit_code": 0, "stdout": "not base64 !"}}, "malformed"),
        ({"outcome": {"exit_code": 0, "stderr_tail": "not a list"}}, "malformed"),
        ({"outcome": {"exit_code": 0}, "pipes": "bm90IHpsaWI="}, "malformed"),
        ({"outcome": {"exit_code": 0}, "carry": ["x"]}, "carry"),
        ({"refused": "x"}, "malformed refusal"),
    ],
)
def test_a_malformed_event_fails_as_engine_naming_the_problem(event: object, says: str) -> None:
    with pytest.raises(RockyEngineError, match=says) as caught:
        wire.unpack(event)
    # Retryable since issue 20 (not known to be permanent: a triggerer of another release, mid-upgrade).
    assert caught.value.category == "engine" and caught.value.retryable


def test_a_usage_refusal_keeps_its_category() -> None:
    unpacked = wire.unpack({"refused": {"class": "RockyUsageError", "message": "filter='x' is invalid"}})
    assert isinstance(unpacked, wire.Refused) and isinstance(unpacked.error, RockyUsageError)
    assert unpacked.error.category == "usage"
