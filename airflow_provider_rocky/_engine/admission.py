"""How many runs one event loop starts at a time, so that a burst of starts is spread out.

A triggerer handed 1,000 runs at once (Airflow's default ``[triggerer] capacity``) used to take every
run's first steps in one loop iteration: the engine-version gate, building the supervisor, submitting
the spawn, attaching the pipes. The loop then ran nothing else (no other trigger, no heartbeat) for
seconds (benchmarks/README.md). A run takes a start slot before its first step and gives it back once
its engine is spawned, or could not be: at most :data:`MAX_STARTING` runs start at once, the others
wait for a slot without holding the loop. A running engine holds no slot, so how many runs a loop
supervises is not limited here (that is ``capacity``'s job).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

#: Runs starting at once on one loop: the spawn threads (``spawn._SPAWNER``) fork this many at a time.
MAX_STARTING = 8

_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def start_slot() -> Callable[[], None]:
    """Wait for a start slot on the running loop; return the (idempotent) function that frees it."""
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = asyncio.Semaphore(MAX_STARTING)
    await slots.acquire()
    freed = False

    def free() -> None:
        nonlocal freed
        if not freed:
            freed = True
            slots.release()

    return free
