"""RockySourceSyncTrigger: stored and rebuilt as Airflow does for a watcher, and polling a real engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.triggers.source_sync import RockySourceSyncTrigger

CURRENT = {"ROCKY_STANDIN_ENGINE_VERSION": "1.77.0", "ROCKY_STANDIN_DELAY": "0"}


def trigger(standin_bin: Path, tmp_path: Path, **kwargs: Any) -> RockySourceSyncTrigger:
    env = {**CURRENT, **kwargs.pop("env", {})}
    settings = {"binary_path": str(standin_bin), "project_dir": str(tmp_path), **kwargs}
    return RockySourceSyncTrigger(env_vars=env, **settings)


async def take(trig: RockySourceSyncTrigger, count: int, seconds: float = 60) -> list[dict[str, Any]]:
    events = trig.run()
    try:
        return [(await asyncio.wait_for(anext(events), seconds)).payload for _ in range(count)]
    finally:
        await events.aclose()


def test_the_trigger_survives_airflows_storage_and_hashes_stably(standin_bin: Path, tmp_path: Path) -> None:
    from airflow.models.trigger import Trigger
    from airflow.triggers.base import BaseEventTrigger

    classpath, kwargs = trigger(standin_bin, tmp_path, sources=["raw__orders"]).serialize()
    again = RockySourceSyncTrigger(**Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(kwargs)))
    assert again.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(
        *trigger(standin_bin, tmp_path, sources=["raw__orders"]).serialize()
    )


@pytest.mark.asyncio
async def test_a_source_that_syncs_fires_once_per_sync(standin_bin: Path, tmp_path: Path) -> None:
    """Each source syncs every 2 s (stand-in); the first poll only records, later ones fire."""
    trig = trigger(
        standin_bin,
        tmp_path,
        sources=["raw__orders"],
        poll_interval=0.5,
        env={"ROCKY_STANDIN_SYNC_EVERY": "2"},
    )
    first, second = await take(trig, 2)
    assert first["source"] == second["source"] == "raw__orders"
    assert (
        first["previous_sync_at"]
        < first["last_sync_at"]
        == second["previous_sync_at"]
        < second["last_sync_at"]
    )


@pytest.mark.asyncio
async def test_the_backlog_cap_reports_the_rest_together(standin_bin: Path, tmp_path: Path) -> None:
    trig = trigger(standin_bin, tmp_path, fire_on_start=True, max_events_per_poll=2, poll_interval=30)
    one, two, backlog = await take(trig, 3)
    assert [one["source"], two["source"]] == ["raw__customers", "raw__orders"]
    assert backlog == {"sources": ["raw__payments"], "backlog": 1}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"env": {"ROCKY_STANDIN_SCENARIO": "sync_trigger"}}, "standing down"),
        ({"binary_path": "/nonexistent/rocky"}, "rocky discover failed"),
    ],
)
async def test_a_poll_that_cannot_tell_fires_nothing_and_says_why(
    standin_bin: Path, tmp_path: Path, overrides: dict[str, Any], says: str, capfd: pytest.CaptureFixture[str]
) -> None:
    trig = trigger(standin_bin, tmp_path, **overrides)
    hook = RockyHook(trig.rocky_conn_id, **trig.overrides)
    await hook.aget_settings()
    assert await trig._poll(hook) is None
    assert says in capfd.readouterr().out


def test_bad_arguments_are_refused_at_parse_time() -> None:
    with pytest.raises(TypeError, match="projectdir"):
        RockySourceSyncTrigger(projectdir="/x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="poll_interval"):
        RockySourceSyncTrigger(poll_interval=0)


class RecordingStore:
    """The watched asset's state store as the trigger sees it (``aget``/``aset``), recording each write."""

    def __init__(self) -> None:
        self.saved: list[dict[str, str]] = []

    async def aget(self, key: str) -> Any:
        return self.saved[-1] if self.saved else None

    async def aset(self, key: str, value: dict[str, str]) -> None:
        self.saved.append(dict(value))


@pytest.mark.asyncio
async def test_the_cursor_moves_only_after_the_events_were_handed_to_airflow(
    standin_bin: Path, tmp_path: Path
) -> None:
    """0.1.0 saved the cursor before yielding: a triggerer dying in between lost those syncs for good."""
    trig = trigger(standin_bin, tmp_path, fire_on_start=True, poll_interval=0.2)
    store = RecordingStore()
    trig.asset_state_store = store  # type: ignore[attr-defined]  # what Airflow 3.3 gives a watcher
    events = trig.run()
    try:
        fired = [(await asyncio.wait_for(anext(events), 60)).payload for _ in range(3)]
        assert store.saved == [], "not while the poll's events are still being handed over"
        more = asyncio.ensure_future(anext(events))  # the generator goes on to its next poll
        for _ in range(600):
            if store.saved:
                break
            await asyncio.sleep(0.05)
        more.cancel()
        with pytest.raises((asyncio.CancelledError, StopAsyncIteration)):
            await more
    finally:
        await events.aclose()
    assert store.saved and set(store.saved[0]) == {event["source"] for event in fired}


@pytest.mark.asyncio
async def test_a_watcher_standing_down_starts_no_engine_per_poll(standin_bin: Path, tmp_path: Path) -> None:
    """0.1.0 kept polling rocky discover every poll_interval while firing nothing."""
    from airflow_provider_rocky.testing import read_record

    record = tmp_path / "record.jsonl"
    env = {"ROCKY_STANDIN_SCENARIO": "sync_trigger", "ROCKY_STANDIN_RECORD": str(record)}
    trig = trigger(standin_bin, tmp_path, poll_interval=0.1, env=env)
    polling = asyncio.ensure_future(anext(trig.run()))
    await asyncio.sleep(3)  # 30 poll intervals
    polling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await polling
    discovers = [e for e in read_record(record) if e["event"] == "start" and "discover" in e["argv"]]
    assert len(discovers) == 1, f"{len(discovers)} discover runs while standing down"
