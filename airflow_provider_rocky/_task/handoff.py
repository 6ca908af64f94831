"""A deferred try's hand-off between triggerers: when to ask the engine again, and what to report.

Airflow runs a trigger wherever a live triggerer takes it: a triggerer whose heartbeat is older than
``[triggerer] triggerer_health_check_threshold`` counts as dead, its triggers are assigned to another
(``Trigger.assign_unassigned``), and a triggerer that is still alive cancels each trigger no longer
assigned to it (``TriggerRunnerSupervisor.update_triggers`` → ``cancel_triggers``, which calls
``on_kill``). The provider adds that an engine never outlives the process that supervises it (the
reaper). So when a copy of a try starts, the previous copy's engine is dead or about to be: ended by
the old triggerer's cancellation (``term_grace_seconds``) or by its reaper (5 s, then SIGKILL).

The engine does not know that. Its idempotency claim (contract §3.6) is never checked for liveness: a
claim whose run was killed (SIGKILL; a dead supervisor's closed pipes, SIGPIPE on the engine's next
line; SIGTERM on every path but the replication fan-out) answers ``SkippedInFlight`` until
``[state.idempotency] in_flight_ttl_hours`` (24 h by default) pass. (While the holder does run, a
second copy of the key meets its state-file lock first, ``locked by another process``: that fails at
once as ``state``, retryable, as any other writer's lock does, since nothing tells the two apart.) So a
copy meeting ``SkippedInFlight`` on its own try's key asks again, with a growing pause, for a bounded
time (``in_flight_wait_seconds``, 10 minutes by default, and never past the run's deadline), which
covers an old copy that is still ending. Then:

* the holder finished the work: the engine answers ``SkippedIdempotent``; the copy reports the
  holder's run as recorded before its event could be fired (:func:`remember` / :func:`recall`), so
  its asset events arrive once;
* the holder failed or was interrupted cleanly: the key is free and this copy runs the work, once;
* the claim is still held at the bound (its run is dead: the usual case): the copy reports it, and the
  task fails as ``state``, retryable. The next try has a key of its own (the try number is in it) and
  runs; nothing loops for hours.

:func:`remember` stores a finished keyed run's event as an XCom of the task instance (``rocky_landed``)
before the trigger holds or fires it: a triggerer that dies in between leaves it in the metadata DB,
where the copy that meets ``SkippedIdempotent`` finds it by the run id the engine names.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rocky._engine.run import RunRecord

#: Seconds before the first re-ask (the pause doubles up to :data:`MAX_POLL_SECONDS`).
IN_FLIGHT_POLL_SECONDS = 10.0
#: How long a copy keeps asking while its key is held: the documented, settable bound.
IN_FLIGHT_WAIT_SECONDS = 600.0
MAX_POLL_SECONDS = 60.0
#: The XCom of the task instance holding its last finished keyed run's event.
LANDED_XCOM_KEY = "rocky_landed"


def in_flight(record: RunRecord) -> bool:
    """The engine answered ``SkippedInFlight`` (``status`` is among the first keys it prints)."""
    outcome = record.outcome
    return outcome.exit_code == 0 and b'"SkippedInFlight"' in outcome.stdout[:4096]


def skipped_by(record: RunRecord) -> str | None:
    """The run id a ``SkippedIdempotent`` answer names, else ``None``."""
    outcome = record.outcome
    if outcome.exit_code != 0 or b'"SkippedIdempotent"' not in outcome.stdout[:4096]:
        return None
    try:
        found = json.loads(outcome.stdout).get("skipped_by_run_id")
    except (ValueError, AttributeError):
        return None
    return str(found) if found else None


@dataclass
class Waiting:
    """The bounded re-ask schedule of one trigger (``deadline``: the run's, wall clock)."""

    poll: float = IN_FLIGHT_POLL_SECONDS
    limit: float = IN_FLIGHT_WAIT_SECONDS
    deadline: float | None = None
    began: float | None = None
    asks: int = 0

    def next_pause(self) -> float | None:
        """Seconds to wait before asking again, or ``None``: stop and report what the engine said."""
        now = time.monotonic()
        if self.began is None:
            self.began = now
        left = self.limit - (now - self.began)
        if self.deadline is not None:
            left = min(left, self.deadline - time.time())
        if left < min(self.poll, 1.0):  # the bound (or the deadline) is reached
            return None
        self.asks += 1
        return min(self.poll * 2.0 ** (self.asks - 1), MAX_POLL_SECONDS, left)

    @property
    def waited(self) -> float:
        """Seconds since the first ``SkippedInFlight`` answer."""
        return 0.0 if self.began is None else time.monotonic() - self.began


def _ti_fields(ti: Any) -> dict[str, Any] | None:
    try:
        return {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "map_index": getattr(ti, "map_index", -1),
        }
    except AttributeError:
        return None


async def _send(message: Any) -> Any:
    """One request to the supervisor: a triggerer's comms ``asend``; else (``dag.test()``) in a thread."""
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None:
        raise RuntimeError("no supervisor to talk to")
    asend = getattr(comms, "asend", None)
    if asend is not None:
        return await asend(message)
    return await asyncio.to_thread(comms.send, message)


async def remember(ti: Any, run_id: str, payload: dict[str, Any]) -> None:
    """Store a finished keyed run's event under :data:`LANDED_XCOM_KEY` (raises when it cannot)."""
    from airflow.sdk.execution_time.comms import SetXCom
    from airflow.sdk.execution_time.xcom import XCom  # the configured backend

    fields = _ti_fields(ti)
    if fields is None:
        raise RuntimeError("the trigger has no task instance")
    document = {"run_id": run_id, "event": payload}
    # A custom XCom backend may upload here: off the event loop, as megabytes of JSON would be anyway.
    value = await asyncio.to_thread(XCom.serialize_value, document, key=LANDED_XCOM_KEY, **fields)
    await _send(SetXCom(key=LANDED_XCOM_KEY, value=value, **fields))


async def recall(ti: Any, run_id: str) -> dict[str, Any] | None:
    """The event stored for engine run ``run_id`` by a copy of this try, or ``None``."""
    from airflow.sdk.execution_time.comms import GetXCom, XComResult
    from airflow.sdk.execution_time.xcom import XCom

    fields = _ti_fields(ti)
    if fields is None:
        return None
    found = await _send(GetXCom(key=LANDED_XCOM_KEY, **fields))
    if not isinstance(found, XComResult) or found.value is None:
        return None
    stored = await asyncio.to_thread(XCom.deserialize_value, found)
    if not isinstance(stored, dict) or stored.get("run_id") != run_id:
        return None
    event = stored.get("event")
    return dict(event) if isinstance(event, dict) else None
