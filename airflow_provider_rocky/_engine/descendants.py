"""Every process one engine run started, found and ended whichever session or group it moved to.

The engine runs in its own session, so ``killpg`` ends it and everything it forks, until one of its
descendants calls ``setsid()`` (a daemonizing hook, a helper that detaches): that process is in no
group of ours and used to outlive the run, holding the log pipes open (a silent 5 s wait) or
re-creating the deleted Pipes file. How this module finds such processes, and why this way:

* **A per-run token in the environment.** The child is spawned with ``AIRFLOW_PROVIDER_ROCKY_RUN=<token>``
  (:data:`TOKEN_ENV`, a fresh random token per run). Every descendant inherits it through ``fork`` and
  ``exec`` whatever session, group or parent it ends up with, and ``/proc/<pid>/environ`` is readable
  for processes of our own user. A scan of ``/proc`` for the token finds every descendant of *this*
  run, and only those: a triggerer supervising 200 runs at once tells them apart by their tokens, and
  no process-wide state is changed. The scan reads ``environ`` only of processes that started no
  earlier than the engine (``starttime`` in ``/proc/<pid>/stat``), so Airflow's own processes and the
  rest of the host cost one ``stat`` read each. Scans run at the end of a run (and while waiting for
  its processes to go), in a thread when the caller is an event loop. Runs that end together share
  scans (:class:`_Snapshots`): a triggerer whose 1,000 runs end within a second used to read
  ``/proc`` a thousand times over (about a million file reads, seconds of CPU).
* **Not ``PR_SET_CHILD_SUBREAPER``.** It is an attribute of the whole supervising process: in the
  triggerer every orphan of every trigger (other providers' included) would become its child, left a
  zombie unless the triggerer reaps it, and reaping a child another library waits for steals its exit
  status. It also cannot tell which run an orphan came from, which a token can.
* **Not a cgroup.** It needs a writable, delegated cgroup v2 subtree, which Airflow workers and
  triggerers (containers, systemd services without ``Delegate=``) usually do not have.
* **Not a descendant walk during the run.** A periodic walk of the process tree misses a double fork
  that completes between two walks (``fork``, ``setsid``, ``fork``, exit: milliseconds).

A process is *gone* once it no longer exists or is a zombie: a zombie runs no code and holds no file
descriptor, and its parent (init, a subreaper, or a member we are ending) reaps it. When this process
is that parent (it runs as PID 1 in a container, or is a subreaper), a zombie that carried the token
is reaped here; no other child is ever waited for.

Limits, by construction: a descendant that replaces its environment (``env -i``, ``execve`` with a new
one) or changes its user (a setuid binary) cannot be recognised, and without ``/proc`` (not Linux)
only the process group is ended.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator

#: The environment variable that marks every process of one run.
TOKEN_ENV = "AIRFLOW_PROVIDER_ROCKY_RUN"  # noqa: S105 - a variable name, not a secret
#: Seconds to wait after SIGKILL until every process is gone (it only needs CPU time to die).
KILL_WAIT_SECONDS = 10.0

_PROC = "/proc"
_POLL_SECONDS = 0.02

#: ``(state, ppid, pgrp, starttime)`` of a process, from ``/proc/<pid>/stat``.
Stat = tuple[str, int, int, int]


def new_token() -> str:
    """A fresh token for one run: unguessable, so no unrelated process carries it by chance."""
    return secrets.token_hex(16)


def _read(path: str) -> bytes:
    """A whole ``/proc`` file with raw ``os`` calls: a scan reads hundreds, pathlib costs 5x more."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _stat(pid: int) -> Stat | None:
    """``(state, ppid, pgrp, starttime)`` of a process, or ``None`` once it is gone."""
    try:
        raw = _read(f"{_PROC}/{pid}/stat")
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # the command name may hold spaces and parentheses
    try:
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):  # not the format proc(5) documents: treat as gone
        return None


def _carries(pid: int, marker: bytes) -> bool:
    try:
        environ = _read(f"{_PROC}/{pid}/environ")
    except OSError:  # gone, or another user's process (not a descendant that kept our environment)
        return False
    return environ.startswith(marker) or b"\0" + marker in environ


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError), os.scandir(_PROC) as entries:
        for entry in entries:
            if entry.name.isdigit():
                yield int(entry.name)


class _Snapshot:
    """``/proc`` as one scan saw it: every process's stat, its environment read when first asked."""

    def __init__(self, started: float) -> None:
        self.started = started
        me = os.getpid()
        self.stats: dict[int, Stat] = {}
        for pid in _pids():
            stat = _stat(pid) if pid != me else None
            if stat is not None:
                self.stats[pid] = stat
        self._carries: dict[tuple[int, bytes], bool] = {}  # no lock: a race only reads twice

    def carries(self, pid: int, marker: bytes) -> bool:
        key = (pid, marker)
        known = self._carries.get(key)
        if known is None:
            known = self._carries[key] = _carries(pid, marker)
        return known


class _Snapshots:
    """Scans shared by the runs of this process: a caller gets a scan *started after* it asked.

    So nothing is missed that a scan of its own would have seen, and callers arriving together
    (runs that ended at once, their polls while they wait for processes to go) share one scan: at
    most one runs at a time, and everyone who queued behind it shares the next. (Spacing scans out
    further saved little CPU and made 1,000 runs end 35 s later: the waiting callers held the
    loop's few executor threads.)
    """

    def __init__(self) -> None:
        # Reentrant: ``end_now`` runs from a SIGTERM handler, maybe on a thread amid a scan.
        self._lock = threading.RLock()
        self._latest: _Snapshot | None = None

    def fresh(self) -> _Snapshot:
        asked = time.monotonic()
        with self._lock:
            latest = self._latest
            if latest is None or latest.started < asked:  # whoever asks meanwhile waits for this one
                latest = self._latest = _Snapshot(time.monotonic())
            return latest


_SNAPSHOTS = _Snapshots()


def _after_fork() -> None:
    """A forked child may have been forked while another thread held the lock: a fresh one."""
    global _SNAPSHOTS
    _SNAPSHOTS = _Snapshots()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class RunProcesses:
    """The engine (``leader``, also its process group's id) and every process carrying ``token``.

    ``leader=None``: the token alone (a spawn the reaper heard of but whose pid it never learnt, or
    whose pid was reused since): no group is signalled, every process carrying the token is.
    """

    def __init__(self, leader: int | None, token: str) -> None:
        self.leader = leader
        self.token = token
        self._marker = f"{TOKEN_ENV}={token}\0".encode()
        stat = _stat(leader) if leader is not None else None
        self._since = stat[3] if stat is not None else 0
        self._seen: set[int] = set()  # escaped pids seen alive: zombies among our children get reaped
        self._proc = os.path.isdir(_PROC)

    def scan(self) -> tuple[bool, list[int]]:
        """``(is a live process left in the group, live escaped pids)``."""
        if not self._proc:
            return self.leader is not None and _group_exists(self.leader), []
        group = False
        escaped = []
        snapshot = _SNAPSHOTS.fresh()
        for pid, stat in snapshot.stats.items():
            if stat[0] in "ZX" or stat[3] < self._since:
                continue
            if stat[2] == self.leader:
                group = True
            elif snapshot.carries(pid, self._marker):
                escaped.append(pid)
        self._seen.update(escaped)
        return group, escaped

    def leader_reused(self) -> bool:
        """Is ``leader`` now another process (a later start time)? Then its pid names no group of ours."""
        stat = _stat(self.leader) if self.leader is not None else None
        return stat is not None and stat[3] != self._since

    def alive(self) -> bool:
        """Is any process of the run still running (zombies do not count)?"""
        group, escaped = self.scan()
        self.reap()
        return group or bool(escaped)

    def send(self, sig: int) -> bool:
        """Send ``sig`` to the group and to every escaped process; ``False`` when none was left."""
        group, escaped = self.scan()
        if group and self.leader is not None:
            _signal_group(self.leader, sig)
        for pid in escaped:
            _signal_verified(pid, sig, self._marker)
        return group or bool(escaped)

    def reap(self) -> None:
        """Wait for zombies that are our own children and carried the token (PID 1, subreaper)."""
        for pid in list(self._seen):
            stat = _stat(pid)
            if stat is None:
                self._seen.discard(pid)
            elif stat[0] in "ZX" and stat[1] == os.getpid() and pid != self.leader:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                self._seen.discard(pid)

    def gone_within(self, seconds: float) -> bool:
        """Poll until no process of the run is left (``True``) or ``seconds`` passed (``False``)."""
        until = time.monotonic() + seconds
        while self.alive():
            if time.monotonic() >= until:
                return False
            time.sleep(_POLL_SECONDS)
        return True

    def kill(self, wait: float = KILL_WAIT_SECONDS) -> bool:
        """SIGKILL every process of the run and wait (bounded) until they are gone."""
        if not self.send(signal.SIGKILL):
            return True
        return self.gone_within(wait)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_verified(pid: int, sig: int, marker: bytes) -> None:
    """Signal ``pid`` only if it still carries the token; a pidfd makes a reused pid harmless."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # gone, or no pidfd (Linux < 5.3): check, then signal by pid
        if _carries(pid, marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        return
    try:
        # The fd pins the process it was opened for: if the pid was reused after that, the signal
        # goes to the (dead) original, not to the newcomer whose environment was just read.
        if _carries(pid, marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                signal.pidfd_send_signal(fd, sig)
    finally:
        os.close(fd)
