"""``RockyWatchTrigger``: a node task's wait in the triggerer, for its node's report or its producer's end.

Many node tasks wait on one producer (a thousand for a thousand-model project). Each polling the
producer itself would cost a thousand reads per interval through the triggerer's one channel (on
Airflow 3.1 serialized behind one lock; apache/airflow#66358 is what that did to cosmos). So the
reads are shared: one poller per producer task instance per event loop reads the producer's state
and head once per interval, whatever the number of waiting triggers, and wakes them all; each
trigger applies :func:`~airflow_provider_rocky._watch.decide.decide` (coarse: without its node's
detail, read by the task on resume) and fires when the answer is no longer "wait". The poller stops
when its last trigger leaves. The reads run in a thread through ``asgiref.sync_to_async`` (the Task
SDK's calls are blocking; Airflow 3.1's trigger channel answers a blocking call only from a thread
that asgiref started), so the loop never blocks on them.

The same trigger, given ``sleep_seconds``, is a plain timer: a node run alone that met another
writer on the state file waits without a worker slot before trying again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from functools import partial
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_rocky._watch import reading
from airflow_provider_rocky._watch.decide import Act, Observed, decide
from airflow_provider_rocky._watch.protocol import POLL_SECONDS

__all__ = ["POLL_SECONDS", "RockyWatchTrigger"]

log = logging.getLogger(__name__)

#: The blocking read a poller makes (``reading.poll``); replaceable in benchmarks and tests.
Fetch = Callable[[reading.Where], Observed]


class _Poller:
    """One producer's reads on one event loop, shared by every trigger waiting on it."""

    def __init__(self, where: reading.Where, interval: float, fetch: Fetch) -> None:
        self.where, self.interval, self.fetch = where, interval, fetch
        self.latest: Observed | None = None
        self.rounds = 0
        self.waiters = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def updates(self) -> AsyncIterator[Observed]:
        """Every read from now on, as it arrives (the latest one first, when there is one)."""
        self.waiters += 1
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())
        seen = 0
        try:
            while True:
                async with self.changed:
                    await self.changed.wait_for(partial(self._newer, seen))
                seen = self.rounds
                if self.latest is not None:
                    yield self.latest
        finally:
            self.waiters -= 1

    def _newer(self, seen: int) -> bool:
        return self.rounds > seen

    async def _run(self) -> None:
        from asgiref.sync import sync_to_async

        read = sync_to_async(self.fetch, thread_sensitive=False)
        failures = 0
        while self.waiters > 0:
            try:
                self.latest = await read(self.where)
                failures = 0
            except Exception as err:  # the API is away for a moment: keep the last read, try again
                failures += 1
                if failures == 1:
                    log.warning("Rocky watch: reading producer %s failed: %s", self.where.producer, err)
            async with self.changed:
                self.rounds += 1
                self.changed.notify_all()
            await asyncio.sleep(self.interval)


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[reading.Where, _Poller]] = (
    weakref.WeakKeyDictionary()
)


def shared_poller(where: reading.Where, interval: float, fetch: Fetch | None = None) -> _Poller:
    """The poller of ``where`` on the running loop (``dag.test`` runs each trigger in a loop of its own)."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(where)
    if poller is None or (poller.waiters == 0 and poller.task is not None and poller.task.done()):
        poller = pollers[where] = _Poller(where, interval, fetch or reading.poll)
    return poller


class RockyWatchTrigger(BaseTrigger):
    """Wait until a node's report (or its producer's end) gives its task something to do.

    :param dag_id: / ``run_id`` / ``producer`` / ``map_index``: the producer task instance.
    :param node_id: the engine's node id (``transformation:orders``).
    :param taken: the generation an earlier try of the node task already acted on, if any.
    :param poll_seconds: seconds between two reads of the producer (shared by the waiting tasks).
    :param sleep_seconds: instead of watching, fire once this many seconds have passed.
    """

    def __init__(
        self,
        dag_id: str,
        run_id: str,
        producer: str,
        node_id: str,
        *,
        map_index: int = -1,
        taken: str | None = None,
        poll_seconds: float = POLL_SECONDS,
        sleep_seconds: float | None = None,
        **_newer: Any,  # kwargs a newer release writes: ignored, so its rows still load
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.where = reading.Where(dag_id, run_id, producer, map_index)
        self.node_id, self.taken = node_id, taken
        self.poll_seconds, self.sleep_seconds = poll_seconds, sleep_seconds
        #: Tests and benchmarks replace the blocking read.
        self.fetch: Fetch | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs; ``cls(**kwargs)`` rebuilds an equal trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **asdict(self.where),
                "node_id": self.node_id,
                "taken": self.taken,
                "poll_seconds": self.poll_seconds,
                "sleep_seconds": self.sleep_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """One event: the node's news (or the timer's end)."""
        if self.sleep_seconds is not None:
            await asyncio.sleep(self.sleep_seconds)
            timer = {"node": self.node_id, "act": "timer", "reason": f"{self.sleep_seconds:g}s"}
            yield TriggerEvent(timer)  # type: ignore[no-untyped-call]
            return
        self.log.info("Waiting for node %s of producer %s", self.node_id, self.where.producer)
        poller = shared_poller(self.where, self.poll_seconds, self.fetch)
        async for observed in poller.updates():
            seen = Observed(observed.producer_state, observed.head, None, self.taken, observed.now)
            decision = decide(self.node_id, seen, need_detail=False)
            if decision.act is not Act.WAIT:
                self.log.info("Node %s: %s (%s)", self.node_id, decision.act.value, decision.reason)
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"node": self.node_id, "act": decision.act.value, "reason": decision.reason}
                )
                return
