"""The supervisor's half of the reaper: every engine this process starts ends when this process dies.

An engine runs in its own session (:mod:`.spawn`), so nothing the kernel does ties it to the worker or
triggerer that started it: SIGKILLed (the OOM killer, ``kill -9``), that process cleans nothing up,
and its engine used to run on as an orphan while the retried task or the adopting triggerer started
a second one for the same try. Here is how the tie is made, and why this way:

* **One small reaper process per supervising process**, started lazily at the first spawn (in the
  spawn thread, never on the event loop), in a session of its own so that a signal to the
  supervisor's process group does not reach it. It holds the read end of a pipe whose only write
  end is this process's: the kernel closes that end when this process dies, however it dies and
  whichever thread was running, and the reaper reads EOF. It then ends every run still registered
  (:mod:`.reaper_main`: SIGTERM, a grace, SIGKILL, the group and every token-marked escapee) and exits.
* **Registration**: each spawn is announced (its run token, :mod:`.descendants`) *before* ``Popen``,
  its pid right after, and its end once every process of the run is gone. A spawn cut short by the
  supervisor's death is still found by its token.
* **Not ``PR_SET_PDEATHSIG`` on the engine** (``preexec_fn``): the signal follows the *thread* that
  forked, and engines are forked by a thread pool whose threads come and go; ``preexec_fn`` is unsafe
  in a threaded parent; and it covers only the direct child, not a grandchild that left the group.
  It is not set on the reaper either, for the first reason: the pipe's EOF is the death notice.
* **Fork**: Celery's prefork pool and Airflow's task supervisor fork. A forked child must not keep
  the inherited write end (the parent's reaper would then wait for the child's death too), and must
  not register its engines with a reaper that watches its parent: ``os.register_at_fork`` drops the
  inherited handle, and the child starts its own reaper at its first spawn. The write end is
  close-on-exec and ``Popen`` closes other descriptors, so no engine inherits it.
* **Never fatal**: a reaper that cannot start, or dies, costs a warning and a restart at the next
  message (re-sent every live registration); the run goes ahead without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from airflow_provider_rocky._engine.descendants import TOKEN_ENV

log = logging.getLogger(__name__)

#: The reaper's program: the package's folder comes in argv, so it is found however it was imported.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from airflow_provider_rocky._engine.reaper_main import main; main()"
)
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
#: A reaper that keeps dying young (its Python cannot import the package...) is not restarted for
#: ever; one killed after living a while (a test or a benchmark ending our children) always is.
MAX_RESTARTS = 3
YOUNG_SECONDS = 5.0


class _Handle:
    """This process's reaper: its ``Popen``, the pipe's write end, and what is registered with it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner = 0  # the pid that started the reaper: another pid means we are a forked child
        self.popen: subprocess.Popen[bytes] | None = None
        self.fd: int | None = None
        self.live: dict[str, int | None] = {}  # token -> engine pid (None while spawning)
        self.warned = False
        self.restarts = 0  # reapers that died young; past MAX_RESTARTS no new one is started
        self.started_at = 0.0


_HANDLE = _Handle()


def spawning(token: str) -> None:
    """Announce a spawn before ``Popen``: if we die half-way, the token still finds the engine."""
    _update(token, None, f"spawn {token}")


def started(token: str, pid: int) -> None:
    """The engine's pid (its process group's id), right after ``Popen`` returned."""
    _update(token, pid, f"started {token} {pid}")


def ended(token: str) -> None:
    """Every process of the run is gone: the reaper forgets it. Repeated calls are harmless."""
    with _HANDLE.lock:
        if token in _HANDLE.live:
            del _HANDLE.live[token]
            _send(f"ended {token}", restart=False)


def registered() -> dict[str, int | None]:
    """The runs registered right now (token -> pid): empty once every run ended."""
    with _HANDLE.lock:
        return dict(_HANDLE.live)


def reaper_pid() -> int | None:
    """This process's reaper, if one is running (tests exclude it from their orphan checks)."""
    with _HANDLE.lock:
        popen = _HANDLE.popen
        if popen is None or _HANDLE.owner != os.getpid() or popen.poll() is not None:
            return None
        return popen.pid


def _update(token: str, pid: int | None, line: str) -> None:
    with _HANDLE.lock:
        _HANDLE.live[token] = pid
        _send(line)


def _send(line: str, *, restart: bool = True) -> None:
    """Write one line (under the lock); a reaper that is gone or not ours is (re)started instead.

    ``restart=False`` for an end, which may be sent from the event loop's thread: starting a process
    there is what the spawn threads exist to avoid, and the next spawn restarts the reaper anyway.
    """
    if _HANDLE.fd is not None and _HANDLE.owner == os.getpid():
        try:
            os.write(_HANDLE.fd, f"{line}\n".encode())
            return
        except OSError:  # EPIPE: the reaper died (killed, or its Python broke)
            _drop(close=True)
            _HANDLE.restarts += time.monotonic() - _HANDLE.started_at < YOUNG_SECONDS
    if not restart:
        return
    if _HANDLE.restarts > MAX_RESTARTS:
        _warn(f"it exited {_HANDLE.restarts} times")
        return
    _start()  # sends every live registration, this line's included


def _start() -> bool:
    """Start the reaper and send it every live registration; ``False`` (and a warning) if it cannot."""
    _drop(close=_HANDLE.owner == os.getpid())
    try:
        read, write = os.pipe()
    except OSError as err:
        return _warn(f"no pipe ({err.strerror})")
    try:
        popen = _popen_reaper(read)
    except OSError as err:
        os.close(write)
        return _warn(f"{type(err).__name__}: {err.strerror or err}")
    finally:
        os.close(read)
    _HANDLE.owner, _HANDLE.popen, _HANDLE.fd = os.getpid(), popen, write
    _HANDLE.started_at = time.monotonic()
    return _replay(write)


def _popen_reaper(read: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    return subprocess.Popen(
        [sys.executable, "-c", _BOOT, _PACKAGE_PARENT],
        stdin=read,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
        start_new_session=True,  # a signal to our process group must not end the reaper first
    )


def _replay(fd: int) -> bool:
    """Send every live registration to a fresh reaper."""
    lines = [f"spawn {t}" if pid is None else f"started {t} {pid}" for t, pid in _HANDLE.live.items()]
    try:
        if lines:
            os.write(fd, ("\n".join(lines) + "\n").encode())
    except OSError as err:
        _drop(close=True)
        return _warn(f"it exited at once ({err.strerror})")
    return True


def _drop(*, close: bool) -> None:
    """Forget the reaper; ``close`` the write end (ours), or leave an inherited one to ``_after_fork``."""
    fd, popen = _HANDLE.fd, _HANDLE.popen
    _HANDLE.fd = _HANDLE.popen = None
    if close and fd is not None:
        os.close(fd)
    if close and popen is not None:
        popen.poll()  # reap it if it is gone; a live one sees EOF and exits by itself


def _warn(why: str) -> bool:
    if not _HANDLE.warned:
        _HANDLE.warned = True
        log.warning(
            "The rocky engine reaper could not be started (%s): an engine will outlive this process if "
            "it is SIGKILLed. Runs go ahead.",
            why,
        )
    return False


def _after_fork() -> None:
    """In a forked child: close the parent's write end, forget its runs; a new reaper comes on demand."""
    global _HANDLE  # a fresh handle, lock included: another thread may have held it
    fd, _HANDLE = _HANDLE.fd, _Handle()
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
