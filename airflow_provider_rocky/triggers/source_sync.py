"""``RockySourceSyncTrigger``: an ``AssetWatcher`` trigger that fires when a Rocky source has synced.

Airflow's answer to dagster-rocky's ``rocky_source_sensor``, made event-driven: the triggerer polls
``rocky discover`` every ``poll_interval`` seconds (through the same off-loop engine run as every other
command, so the loop never blocks) and yields one event per source whose ``last_sync_at`` moved since
the last poll. Each event becomes an asset event on the watched asset, which queues the DAGs scheduled
on it::

    from airflow.sdk import Asset, AssetWatcher, DAG
    from airflow_provider_rocky.triggers.source_sync import RockySourceSyncTrigger

    orders_synced = Asset(
        "rocky-source://orders",
        watchers=[AssetWatcher(name="orders_sync", trigger=RockySourceSyncTrigger(sources=["raw__orders"]))],
    )
    with DAG("on_orders_sync", schedule=[orders_synced]): ...

Choices:

* **The cursor** (last seen ``last_sync_at`` per source) is kept in the watched asset's state store on
  Airflow 3.3 (so a restarted triggerer does not fire again for syncs it already reported), in memory
  before that. The first poll without a cursor only records it (``fire_on_start=True`` fires for every
  source already synced): a sync that lands while no triggerer runs is reported at the next sync.
* **At least once**: the cursor moves only after the poll's events were handed to Airflow, at the
  start of the next poll (a yielded event goes to the triggerer's supervisor, which stores it within
  its next loop; ``poll_interval`` later it has). A triggerer that dies in between fires those events
  again from the old cursor: a sync may be reported twice, never lost.
* **Backlog cap**: at most ``max_events_per_poll`` events per poll; the sources beyond it are reported
  together in one more event (``{"sources": [...], "backlog": n}``), never dropped.
* **``sync_trigger``** (engines that start their own syncs, rocky-sdk 0.29): the watcher stands down
  (no events) unless ``include_rocky_triggered=True``, as dagster-rocky's sensor does; standing down,
  it stops polling: one ``rocky discover`` an hour (:data:`STAND_DOWN_RECHECK_SECONDS`) checks whether
  the pipeline still starts its own syncs, not one per ``poll_interval``.
* A failed poll (the engine missing, a timeout, unreadable output) is logged and retried at the next
  interval: a watcher must outlive a bad minute. Failed sources are logged, never reported as synced.
* kwargs are fixed at DAG parse time and identical on every parse (Airflow identifies a watcher's
  trigger by them); secrets belong in the connection, not in ``env_vars`` literals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_rocky._engine.args.sources import DiscoverArgs
from airflow_provider_rocky._engine.command import SETTING_OVERRIDES
from airflow_provider_rocky._engine.run import EngineRun, RunLimits
from airflow_provider_rocky._engine.stderr import LogLine
from airflow_provider_rocky._engine.version import MIN_ENGINE_VERSION
from airflow_provider_rocky._verdict.sources import interpret_discover, last_syncs, starts_own_syncs
from airflow_provider_rocky.hooks.rocky import RockyHook

__all__ = ["CURSOR_KEY", "STAND_DOWN_RECHECK_SECONDS", "RockySourceSyncTrigger"]

#: Key of the cursor in the watched asset's state store (Airflow 3.3+).
CURSOR_KEY = "rocky_source_sync_cursor"
#: Seconds between two polls of a watcher standing down (the engine starts its own syncs).
STAND_DOWN_RECHECK_SECONDS = 3600.0


class RockySourceSyncTrigger(BaseEventTrigger):
    """Poll ``rocky discover``; yield one event per source that synced since the last poll.

    :param sources: source ids to watch (``raw__orders``); default: every source.
    :param poll_interval: seconds between two polls.
    :param max_events_per_poll: the backlog cap (module docstring).
    :param timeout_seconds: the time budget of one ``rocky discover``.
    :param fire_on_start: fire for every synced source on the first poll without a cursor.
    :param include_rocky_triggered: keep firing when the engine starts its own syncs (``sync_trigger``).
    The connection, its overrides (``binary_path``, ``project_dir``...), ``env_vars`` and ``pipeline``
    are as for the operators.
    """

    def __init__(
        self,
        *,
        rocky_conn_id: str = RockyHook.default_conn_name,
        sources: Sequence[str] | None = None,
        pipeline: str | None = None,
        poll_interval: float = 60.0,
        max_events_per_poll: int = 10,
        timeout_seconds: float = 120.0,
        fire_on_start: bool = False,
        include_rocky_triggered: bool = False,
        env_vars: Mapping[str, str] | None = None,
        **overrides: str | None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        unknown = set(overrides) - set(SETTING_OVERRIDES)
        if unknown:
            raise TypeError(f"RockySourceSyncTrigger got unexpected arguments: {sorted(unknown)}")
        if poll_interval <= 0 or max_events_per_poll < 1:
            raise ValueError("poll_interval must be > 0 and max_events_per_poll >= 1")
        self.rocky_conn_id = rocky_conn_id
        self.sources = list(sources) if sources else None
        self.pipeline = pipeline
        self.poll_interval = poll_interval
        self.max_events_per_poll = max_events_per_poll
        self.timeout_seconds = timeout_seconds
        self.fire_on_start = fire_on_start
        self.include_rocky_triggered = include_rocky_triggered
        self.env_vars = dict(env_vars or {})
        self.overrides = {key: value for key, value in overrides.items() if value is not None}
        self._stood_down = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs: deterministic (the same on every parse of the DAG)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "rocky_conn_id": self.rocky_conn_id,
                "sources": self.sources,
                "pipeline": self.pipeline,
                "poll_interval": self.poll_interval,
                "max_events_per_poll": self.max_events_per_poll,
                "timeout_seconds": self.timeout_seconds,
                "fire_on_start": self.fire_on_start,
                "include_rocky_triggered": self.include_rocky_triggered,
                "env_vars": self.env_vars,
                **self.overrides,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever; yield the synced sources of each poll (at most the cap, then one backlog)."""
        hook = RockyHook(self.rocky_conn_id, **self.overrides)
        await hook.aget_settings()  # the connection lookup must not block the loop
        cursor = await self._load_cursor()
        handed: dict[str, str] | None = None  # a cursor whose events Airflow has had a poll interval
        while True:
            if handed is not None:
                await self._save_cursor(handed)
                handed = None
            synced = await self._poll(hook)
            if synced is not None:
                events, cursor = self._events(synced, cursor)
                for event in events:
                    yield TriggerEvent(event)  # type: ignore[no-untyped-call]
                if events:
                    handed = cursor
            pause = STAND_DOWN_RECHECK_SECONDS if self._stood_down else self.poll_interval
            await asyncio.sleep(max(pause, self.poll_interval))

    async def _poll(self, hook: RockyHook) -> dict[str, str] | None:
        """``{source: last_sync_at}`` now, or ``None`` when this poll could not tell (logged)."""
        command = hook.build_command(DiscoverArgs(self.pipeline), self.env_vars, {})
        limits = RunLimits(deadline=time.time() + self.timeout_seconds, min_engine_version=MIN_ENGINE_VERSION)
        record = await EngineRun(command, limits, self._log_line).run()
        verdict = interpret_discover(record.outcome, command=command.redacted(), binary=command.argv[0])
        if verdict.error is not None:
            self.log.warning(
                "rocky discover failed; polling again in %ss: %s", self.poll_interval, verdict.error.reason
            )
            return None
        for failed in getattr(verdict.result, "failed_sources", None) or []:
            self.log.warning(
                "source %s could not be discovered: %s", failed.id, getattr(failed, "message", "")
            )
        if starts_own_syncs(verdict.result, record.outcome.stdout) and not self.include_rocky_triggered:
            if not self._stood_down:
                self.log.info(
                    "the Rocky pipeline starts its own syncs (sync_trigger): standing down, checking again "
                    "every %.0fs (include_rocky_triggered=True fires for them)",
                    max(STAND_DOWN_RECHECK_SECONDS, self.poll_interval),
                )
            self._stood_down = True
            return None
        self._stood_down = False
        syncs = last_syncs(verdict.result)
        return {k: v for k, v in syncs.items() if self.sources is None or k in self.sources}

    def _events(
        self, synced: dict[str, str], cursor: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The events of one poll and the next cursor (module docstring: first poll, backlog cap)."""
        if cursor is None and not self.fire_on_start:
            self.log.info("recorded the last sync of %d source(s); firing from the next sync", len(synced))
            return [], dict(synced)
        previous = cursor or {}
        moved = [s for s, at in sorted(synced.items()) if previous.get(s) is None or previous[s] < at]
        events: list[dict[str, Any]] = [
            {"source": s, "last_sync_at": synced[s], "previous_sync_at": previous.get(s)}
            for s in moved[: self.max_events_per_poll]
        ]
        rest = moved[self.max_events_per_poll :]
        if rest:
            events.append({"sources": rest, "backlog": len(rest)})
        return events, {**previous, **synced}

    async def _load_cursor(self) -> dict[str, str] | None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return None
        try:
            found = await store.aget(CURSOR_KEY)
        except Exception:  # several watched assets, or no store: the cursor lives in memory
            return None
        return dict(found) if isinstance(found, dict) else None

    async def _save_cursor(self, cursor: dict[str, str]) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            try:
                await store.aset(CURSOR_KEY, cursor)
            except Exception as err:  # keep firing from memory; say why it will not survive a restart
                self.log.warning("could not persist the source-sync cursor (%s); it lives in memory", err)

    def _log_line(self, line: LogLine) -> None:
        """Every poll's engine lines at DEBUG; warnings and errors at their level."""
        self.log.log(line.level if line.level >= logging.WARNING else logging.DEBUG, line.text)
