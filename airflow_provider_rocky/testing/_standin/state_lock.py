"""The state store's single-writer lock, held for real while a run executes (contract §3.5 row 6).

The engine opens its redb state file exclusively (``engine/crates/rocky-core/src/state.rs``
``acquire_writer_lock_with_retry``: a non-blocking ``flock`` on ``<state>.redb.lock``, tried 5 times
50 ms apart): a second ``rocky run`` on the same file fails fast with ``state store at P is locked by
another process`` (exit 1, no JSON). The stand-in takes an exclusive ``flock`` the same way, keyed by
the state file's absolute path, on a lock file in the system temp directory (so nothing is written
into the project: ``models/`` may be a models directory the run reads). The idempotency claim takes
it too (``commands/run.rs`` ``try_claim_idempotency`` opens the store), and releases it before the
run takes it again: so a second copy of a keyed try meets ``locked by another process`` while the
first one runs, and ``SkippedInFlight`` only when the holder left its claim without running (killed,
or between its claim and its run). The scenario ``state_locked`` fails without any other process.
Closing the descriptor (or the process ending) releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from airflow_provider_rocky.testing._standin.errors import CommandError

#: ``REDB_OPEN_RETRY_ATTEMPTS`` / ``REDB_OPEN_RETRY_DELAY`` (``state.rs``).
ATTEMPTS = 5
DELAY = 0.05


def lock_path(state: Path) -> Path:
    """Where the lock for ``state`` lives (one per absolute state-file path, per user)."""
    digest = hashlib.sha256(str(state.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"rocky-standin-state-{os.getuid()}" / f"{digest}.lock"


def locked_message(shown: Path | str) -> str:
    """The engine's words for a state file another writer holds."""
    return (
        f"state store at {shown} is locked by another process; only one rocky writer can run at a "
        "time against the same state file"
    )


def _acquire(fd: int) -> bool:
    for attempt in range(ATTEMPTS):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < ATTEMPTS:
                time.sleep(DELAY)
    return False


@contextlib.contextmanager
def hold(state: Path, shown: Path | str, *, context: str | None = None) -> Iterator[None]:
    """Hold the writer lock of ``state`` for the block, or raise the engine's ``CommandError``.

    ``context``: the engine's ``.context(...)`` around the open (the message, the lock its cause).
    """
    path = lock_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _acquire(fd):
            if context is not None:
                raise CommandError(context, [locked_message(shown)])
            raise CommandError(locked_message(shown), ["Database already open. Cannot acquire lock."])
        yield
    finally:
        os.close(fd)
