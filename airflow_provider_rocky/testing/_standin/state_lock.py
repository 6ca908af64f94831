"""The state store's single-writer lock, held for real while a run executes (contract §3.5 row 6).

The engine opens its redb state file exclusively: a second ``rocky run`` on the same file fails fast
with ``state store at P is locked by another process`` (exit 1, no JSON). The stand-in takes an
exclusive ``flock`` for the same duration, keyed by the state file's absolute path, on a lock file in
the system temp directory (so nothing is written into the project: ``models/`` may be a models
directory the run reads). The lock is taken after the idempotency claim, so a second copy of a keyed
try is still deflected as ``SkippedInFlight`` first, as before; the scenario ``state_locked`` still
fails without any other process. Closing the descriptor (or the process ending) releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from airflow_provider_rocky.testing._standin.errors import CommandError


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


@contextlib.contextmanager
def hold(state: Path, shown: Path | str) -> Iterator[None]:
    """Hold the writer lock of ``state`` for the block, or raise the engine's ``CommandError``."""
    path = lock_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(
                locked_message(shown), ["Database already open. Cannot acquire lock."]
            ) from None
        yield
    finally:
        os.close(fd)
