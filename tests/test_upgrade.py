"""Upgrade safety: trigger rows and events written by release 0.1.0 load and run through today's code.

The fixtures in ``tests/fixtures/upgrade_0_1_0/`` were written by that release's own code
(``make_fixtures.py`` there). A trigger row goes through the real metadata DB the way the triggerer
loads it (a ``Trigger`` row stored, committed, read back, its classpath imported, ``cls(**kwargs)``);
an event goes to the operator's ``execute_complete`` as Airflow hands it over after a deferral.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import outlet_events

from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing import read_record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upgrade_0_1_0"

pytestmark = pytest.mark.usefixtures("airflow_db")


class RecordingTI:
    """The piece of task context ``execute_complete`` writes to (XCom)."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def fixture(name: str, binary: Path, project: Path) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text.replace("<BINARY>", str(binary)).replace("<PROJECT>", str(project)))


def stored_and_loaded(classpath: str, kwargs: dict[str, Any]) -> Any:
    """The trigger the triggerer builds from a row holding these kwargs (encrypted at rest)."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        row = Trigger(classpath, kwargs)
        session.add(row)
        session.flush()
        trigger_id = row.id
    with create_session() as session:
        row = session.get(Trigger, trigger_id)
        assert row is not None
        module, _, name = row.classpath.rpartition(".")
        return getattr(importlib.import_module(module), name)(**row.kwargs)


def test_a_deferred_run_row_of_the_previous_release_runs(
    standin_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("ROCKY_STANDIN_RECORD", str(record))  # inherited by the engine; the row is as stored
    stored = fixture("trigger_deferred.json", standin_bin, tmp_path)
    kwargs = {**stored["kwargs"], "deadline": time.time() + 600}  # the stored one has passed
    trigger = stored_and_loaded(stored["classpath"], kwargs)
    event = asyncio.run(anext(trigger.run()))
    op = RockyOperator(task_id="rocky_run", deferrable=True, pipes=True)
    ti = RecordingTI()
    summary = op.execute_complete({"ti": ti, "outlet_events": outlet_events()}, event.payload)  # type: ignore[arg-type]
    assert summary is not None and summary["outcome"] == "partial" and summary["status"] == "PartialFailure"
    # What the engine wrote (its record) is the reference for what the summary says landed.
    written = [r["table"] for r in read_record(record) if r["event"] == "materialized"]
    assert written and [m["table"] for m in summary["materializations"]] == written
    assert summary["tables_copied"] == summary["pipes"]["materializations_reported"] == len(written)


def test_an_event_of_the_previous_release_is_interpreted(tmp_path: Path) -> None:
    event = fixture("event_partial_pipes.json", Path("rocky"), tmp_path)
    op = RockyOperator(task_id="rocky_run", deferrable=True, pipes=True)
    events = outlet_events()
    summary = op.execute_complete({"ti": RecordingTI(), "outlet_events": events}, event)  # type: ignore[arg-type]
    assert summary is not None and summary["outcome"] == "partial" and summary["category"] is None
    assert summary["run_id"] == event["outcome"]["run_id"]
    assert [m["table"] for m in summary["materializations"]] == ["warehouse.staging__orders.orders"]
    assert op._asset_specs and op._asset_specs[0].uri == "rocky://fixture/warehouse/staging__orders/orders"


def test_a_start_from_trigger_row_of_the_previous_release_refuses_like_before(
    standin_bin: Path, tmp_path: Path
) -> None:
    stored = fixture("trigger_start_from_trigger.json", standin_bin, tmp_path)
    trigger = stored_and_loaded(stored["classpath"], stored["kwargs"])
    event = asyncio.run(anext(trigger.run()))
    op = RockyOperator(task_id="rocky_run", deferrable=True)
    ti = RecordingTI()
    with pytest.raises(RockyUsageError, match="filter"):
        op.execute_complete({"ti": ti}, event.payload)  # type: ignore[arg-type]
    assert ti.xcom["return_value"]["category"] == "usage"


def test_a_refusal_event_of_the_previous_release_fails_with_its_category(tmp_path: Path) -> None:
    event = fixture("event_refused.json", Path("rocky"), tmp_path)
    ti = RecordingTI()
    with pytest.raises(RockyUsageError, match="no-equals-sign"):
        RockyOperator(task_id="rocky_run", deferrable=True).execute_complete({"ti": ti}, event)  # type: ignore[arg-type]
    pushed = ti.xcom["return_value"]
    assert {key: pushed[key] for key in ("outcome", "exit_code", "run_id", "category")} == {
        "outcome": "failed",
        "exit_code": None,
        "run_id": None,
        "category": "usage",
    }
    assert pushed["failure"]["category"] == "usage" and "no-equals-sign" in pushed["failure"]["message"]


def test_a_row_written_by_a_newer_release_loads_and_runs_logging_what_it_ignores(
    standin_bin: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A rolling upgrade, workers first: their rows carry kwargs this triggerer does not know.
    0.1.0 and the release after it refused them: ``TypeError: RockyRunTrigger got unexpected arguments``."""
    stored = fixture("trigger_deferred.json", standin_bin, tmp_path)
    newer = {"in_flight_backoff": "exponential", "pool_slot_hint": 3}
    kwargs = {**stored["kwargs"], **newer, "deadline": time.time() + 600}
    trigger = stored_and_loaded(stored["classpath"], kwargs)
    event = asyncio.run(anext(trigger.run()))
    log = capfd.readouterr().out
    ignored = "RockyRunTrigger ignores kwargs it does not know (written by a newer release?): "
    assert log.count(ignored) == 1 and "in_flight_backoff, pool_slot_hint" in log
    summary = RockyOperator(task_id="rocky_run", deferrable=True, pipes=True).execute_complete(
        {"ti": RecordingTI(), "outlet_events": outlet_events()},  # type: ignore[arg-type]
        event.payload,
    )
    assert summary is not None and summary["status"] == "PartialFailure"
    assert set(trigger.serialize()[1]).isdisjoint(newer), "not written back"


def test_this_release_writes_no_kwarg_the_previous_triggerer_refuses_unless_asked(
    standin_bin: Path, tmp_path: Path
) -> None:
    """The other order, triggerers last: with default settings this change writes no kwarg beyond those
    the development line wrote before it (0.1.0's plus ``command_name`` and ``min_engine_version``, which
    a 0.1.0 triggerer refuses: README, upgrade order); ``in_flight_wait_seconds`` only when set."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    known_to_0_1_0 = set(fixture("trigger_deferred.json", standin_bin, tmp_path)["kwargs"])
    known_to_0_1_0 |= {"command_name", "min_engine_version"}  # written before this change
    op = RockyOperator(task_id="rocky_run", deferrable=True, binary_path=str(standin_bin))

    class TI:
        dag_id, run_id, task_id, map_index, try_number = "d", "r", "rocky_run", -1, 1

    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": TI()})  # type: ignore[arg-type]
    assert set(deferred.value.trigger.serialize()[1]) <= known_to_0_1_0
