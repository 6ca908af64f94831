"""Publishing the tracker's news as the producer's XComs while its engine runs.

A thread of the producer's task process, not the supervising loop: an XCom push is a blocking
round-trip to the API server (milliseconds, more under load), and the loop must keep reading the
engine's pipes meanwhile. Changes are coalesced: at most one round per ``interval``, and a round
every :data:`~airflow_provider_rocky._watch.protocol.HEARTBEAT_SECONDS` even without news (so
readers can tell a running try's head from a killed one's). Each round writes the changed nodes'
details first, then the head that names their statuses, so a reader that sees a status can read its
detail. The task process makes no other API call while the engine runs, and the round-trips of
this one thread are serialized, which is what Airflow 3.1's task channel (no lock) needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_rocky._watch.protocol import HEAD_KEY, HEARTBEAT_SECONDS, detail_key
from airflow_provider_rocky._watch.tracker import WatchTracker

Push = Callable[[str, Any], None]
#: Seconds between two publishing rounds while news keep coming.
PUBLISH_INTERVAL = 0.5


def publish(tracker: WatchTracker, push: Push, *, full: bool = False) -> int:
    """One round: the changed details, then the head. Returns how many details it wrote."""
    head, details, commit = tracker.snapshot(full=full)
    for detail in details:
        push(detail_key(detail.node), detail.as_xcom())
    push(HEAD_KEY, head.as_xcom())
    commit()
    return len(details)


class Publisher:
    """The publishing thread: started before the engine, stopped (and joined) after it."""

    def __init__(
        self,
        tracker: WatchTracker,
        push: Push,
        *,
        interval: float = PUBLISH_INTERVAL,
        heartbeat: float = HEARTBEAT_SECONDS,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.tracker, self.push = tracker, push
        self.interval, self.heartbeat = interval, heartbeat
        self.on_error = on_error
        self.rounds = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rocky-watch-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round in progress (the caller publishes the final round itself)."""
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval):
            if not self.tracker.dirty and time.monotonic() - last < self.heartbeat:
                continue
            try:
                publish(self.tracker, self.push)
                self.rounds += 1
            except Exception as err:  # the API server is away: the next round tries again
                self.failures += 1
                if self.on_error is not None and self.failures == 1:
                    self.on_error(err)
            last = time.monotonic()
