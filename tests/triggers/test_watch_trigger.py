"""``RockyWatchTrigger``: node tasks waiting in the triggerer share one poller per producer, and fire live.

The Airflow reads (``reading.poll``) are replaced by a read of what a real producer published: the
stand-in's real ``rocky run --dag`` supervised by a real ``EngineRun``, its stream fed to the real
tracker and published by the real publisher into an in-memory XCom store. Only the API between the
producer's worker and the triggerer is missing (``make e2e`` has it).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from standin.test_standin import base_env

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.run import EngineRun, RunLimits
from airflow_provider_rocky._engine.stderr import LogLine
from airflow_provider_rocky._watch import reading
from airflow_provider_rocky._watch.decide import Observed
from airflow_provider_rocky._watch.protocol import HEAD_KEY, Head
from airflow_provider_rocky._watch.publisher import Publisher, publish
from airflow_provider_rocky._watch.tracker import WatchTracker
from airflow_provider_rocky.testing import standin_command
from airflow_provider_rocky.testing._standin.project import demo_nodes
from airflow_provider_rocky.triggers.watch import RockyWatchTrigger

WHERE = reading.Where("dag", "run", "group.run_dag")


def _trigger(node_id: str, fetch: Any, **kwargs: Any) -> RockyWatchTrigger:
    trigger = RockyWatchTrigger(
        WHERE.dag_id, WHERE.run_id, WHERE.producer, node_id, poll_seconds=0.05, **kwargs
    )
    trigger.fetch = fetch
    return trigger


async def _first_event(trigger: RockyWatchTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("no event")


def test_the_kwargs_rebuild_the_trigger_and_a_newer_releases_extra_kwargs_load() -> None:
    trigger = RockyWatchTrigger("d", "r", "g.p", "seed:s", taken="gen-1", poll_seconds=3.0)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_rocky.triggers.watch.RockyWatchTrigger"
    again = RockyWatchTrigger(**json.loads(json.dumps(kwargs)), added_later=1)
    assert again.serialize() == (classpath, kwargs)


def test_many_waiting_tasks_cost_one_read_per_round() -> None:
    """200 node tasks on one producer: the reads do not grow with the waiters (apache/airflow#66358)."""
    nodes = [f"transformation:m{i:03d}" for i in range(200)]
    calls: list[float] = []

    def fetch(where: reading.Where) -> Observed:
        calls.append(time.monotonic())
        if len(calls) < 5:  # the producer runs, has not reported anything yet
            return Observed("running", None, None, None, time.time())
        head = Head("gen", 1, time.time(), time.time(), final=True, nodes=dict.fromkeys(nodes, "completed"))
        return Observed("success", head, None, None, time.time())

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(*(_first_event(_trigger(node, fetch)) for node in nodes))

    events = asyncio.run(main())
    assert [e["act"] for e in events] == ["succeed"] * len(nodes)
    assert len(calls) == 5, "one read per round, shared by the 200 waiting triggers"


def test_a_producer_up_for_retry_is_waited_for_and_a_read_that_fails_is_tried_again() -> None:
    answers: list[Any] = [
        Observed("failed", None, None, None, 0.0),  # not read: the state changed under the read
        RuntimeError("the API server restarted"),
        Observed("up_for_retry", None, None, None, 0.0),
        Observed("running", None, None, None, 0.0),
    ]
    seen: list[str] = []

    def fetch(where: reading.Where) -> Observed:
        answer = answers.pop(1) if len(answers) > 1 else None
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            seen.append(str(answer.producer_state))
            return answer
        head = Head("gen-2", 2, time.time(), time.time(), final=True, nodes={"seed:s": "failed"})
        return Observed("success", head, None, None, time.time())

    event = asyncio.run(_first_event(_trigger("seed:s", fetch)))
    assert seen == ["up_for_retry", "running"], "waited through the retry (cosmos#3001)"
    assert event["act"] == "fail"


def test_a_timer_trigger_fires_once_after_its_sleep() -> None:
    started = time.monotonic()
    event = asyncio.run(_first_event(RockyWatchTrigger("d", "r", "p", "n", sleep_seconds=0.2)))
    assert event["act"] == "timer" and time.monotonic() - started >= 0.2


def _standin_dag(tmp_path: Path, delay: str) -> RockyCommand:
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    env = base_env(ROCKY_STANDIN_DELAY=delay, ROCKY_STANDIN_FAIL_NODES="dim_customers")
    return RockyCommand(
        argv=(*standin_command(), "--output", "json", "run", "--dag"), env=env, cwd=str(tmp_path)
    )


def test_node_tasks_hear_of_their_nodes_while_the_engine_still_runs(tmp_path: Path) -> None:
    """A real engine run, published as it goes: each node's trigger fires before the engine exits,
    except the last layer's nodes, which only the final report can decide (no later layer starts)."""
    store: dict[str, Any] = {}
    ended: list[float] = []

    def push(key: str, value: Any) -> None:
        store[key] = json.loads(json.dumps(value))

    def fetch(where: reading.Where) -> Observed:
        state = "success" if ended else "running"
        return Observed(state, Head.read(store.get(HEAD_KEY)), None, None, time.time())

    tracker = WatchTracker("gen-1", 1)
    publish(tracker, push)
    ids = [n["id"] for n in demo_nodes() if n["kind"] not in ("source", "test")]
    fired: dict[str, tuple[float, str]] = {}

    async def watch(node_id: str) -> None:
        event = await _first_event(_trigger(node_id, fetch))
        fired[node_id] = (time.monotonic(), event["act"])

    async def produce() -> None:
        def sink(line: LogLine) -> None:
            tracker.feed(line)

        publisher = Publisher(tracker, push, interval=0.05)
        publisher.start()
        try:
            record = await EngineRun(_standin_dag(tmp_path, "0.4"), RunLimits(), sink).run()
        finally:
            publisher.stop()
        assert record.outcome.exit_code == 1  # dim_customers failed
        from rocky_sdk.types_generated import DagRunOutput

        tracker.finish(DagRunOutput.model_validate_json(record.outcome.stdout).nodes)
        publish(tracker, push)
        ended.append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(produce(), *(watch(node_id) for node_id in ids))

    asyncio.run(main())
    acts = {node_id: act for node_id, (_, act) in fired.items()}
    assert acts["transformation:dim_customers"] == "fail"
    # skipped behind the failure: its task runs it alone, but only once the engine is gone (one writer)
    assert acts["transformation:fct_daily_orders"] == acts["snapshot:customers_history"] == "run_alone"
    assert fired["transformation:fct_daily_orders"][0] >= ended[0]
    assert acts["seed:country_codes"] == acts["transformation:fct_payments"] == "succeed"
    # layers 0 and 1 were decided when a later layer started, the failure when it happened: all before
    # the engine's end; layer 2's completions only when layer 3 (all skips) started, just before it
    early = {n for n, (at, _) in fired.items() if at < ended[0]}
    assert {
        "seed:country_codes",
        "load:raw_orders",
        "replication:raw_payments",
        "transformation:dim_customers",
    } <= early
