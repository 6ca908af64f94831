"""``--idempotency-key`` (contract §1.2): a small JSON store next to the state file, under ``flock``.

A succeeded key deflects later runs (``SkippedIdempotent``); a key claimed by a live process deflects
concurrent runs (``SkippedInFlight``); a claim whose holder died is taken over. The claim is marked
succeeded on Success/PartialFailure and released on Failure or interruption.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.tracing import rfc3339, utc_now


def state_file(state_path: str | None, state_namespace: str | None, cwd: Path) -> Path:
    """The state file the engine would open (``rocky_core::state::resolve_state_path``)."""
    if state_path is not None:
        return cwd / state_path
    if state_namespace is not None:
        return cwd / "models" / ".rocky-state" / f"{state_namespace}.redb"
    return cwd / "models" / ".rocky-state.redb"


def store_path(state: Path) -> Path:
    """Where the stand-in keeps idempotency keys for ``state``."""
    return state.with_name(state.name + ".idempotency.json")


def _start_time(pid: int) -> str | None:
    """Kernel start time of ``pid`` (guards against pid reuse), or None where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    if state in ("Z", "X"):
        return False
    return started is None or _start_time(pid) in (None, started)


@dataclass(frozen=True)
class ClaimResult:
    """``claimed`` (go ahead), ``succeeded`` or ``in_flight`` (skip; ``holder`` is that run's id)."""

    state: str
    holder: str | None = None
    reclaimed_from: str | None = None


class IdempotencyStore:
    """Read-modify-write of the key store, each operation under an exclusive ``flock``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as handle:
                text = handle.read()
                try:
                    data = json.loads(text) if text.strip() else {}
                except json.JSONDecodeError:
                    data = {}
                if not isinstance(data.get("keys"), dict):
                    data = {"version": 1, "keys": {}}
                yield data
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    def claim(self, key: str, run_id: str, pid: int) -> ClaimResult:
        """Claim ``key`` for ``run_id`` unless a success or a live in-flight claim already holds it."""
        with self._locked() as data:
            entry = data["keys"].get(key)
            reclaimed = None
            if isinstance(entry, dict):
                if entry.get("state") == "succeeded":
                    return ClaimResult("succeeded", str(entry.get("run_id")))
                if entry.get("state") == "in_flight":
                    holder_pid = entry.get("pid")
                    if isinstance(holder_pid, int) and _alive(holder_pid, entry.get("pid_start")):
                        return ClaimResult("in_flight", str(entry.get("run_id")))
                    reclaimed = str(entry.get("run_id"))
            data["keys"][key] = {
                "state": "in_flight",
                "run_id": run_id,
                "pid": pid,
                "pid_start": _start_time(pid),
                "claimed_at": rfc3339(utc_now()),
            }
            return ClaimResult("claimed", reclaimed_from=reclaimed)

    def finish(self, key: str, run_id: str, *, succeeded: bool) -> None:
        """Mark our claim succeeded, or release it so a retry can run (no-op if we no longer hold it)."""
        with self._locked() as data:
            entry = data["keys"].get(key)
            if not isinstance(entry, dict) or entry.get("run_id") != run_id:
                return
            if succeeded:
                entry.update(state="succeeded", finished_at=rfc3339(utc_now()))
                entry.pop("pid", None)
                entry.pop("pid_start", None)
            else:
                del data["keys"][key]
