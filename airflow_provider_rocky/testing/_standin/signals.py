"""SIGINT/SIGTERM the way the engine handles them (contract §3.1 row 130).

* ``graceful`` (replication fan-out): the first signal prints the shutdown line and lets the run
  finish as interrupted (JSON ``interrupted: true``, exit 130); a second one exits 130 at once.
* ``default`` (transformation path, no handler in the engine): the signal kills the process, no JSON.
* ``ignore`` (the ``hang_ignore_term`` scenario): only SIGKILL ends the process.
"""

from __future__ import annotations

import os
import signal
import time
from types import FrameType

from airflow_provider_rocky.testing._standin.tracing import write_fd

SHUTDOWN_LINE = (
    "[rocky] shutdown signal received — finishing in-flight statements; press Ctrl-C again to terminate"
)
SECOND_SIGNAL_LINE = "[rocky] second SIGINT — terminating"
INTERRUPTED_EXIT = 130
_SLICE = 0.02


class Interrupts:
    """Installs a signal disposition and lets the run loop sleep interruptibly."""

    def __init__(self) -> None:
        self.requested = False
        self.mode = "default"

    def install(self, mode: str) -> None:
        """Switch to ``graceful``, ``default`` or ``ignore`` handling of SIGINT and SIGTERM."""
        self.mode = mode
        for sig in (signal.SIGINT, signal.SIGTERM):
            if mode == "graceful":
                signal.signal(sig, self._handle)
            elif mode == "ignore":
                signal.signal(sig, signal.SIG_IGN)
            else:
                signal.signal(sig, signal.SIG_DFL)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            write_fd(2, (SECOND_SIGNAL_LINE + "\n").encode())
            os._exit(INTERRUPTED_EXIT)
        self.requested = True
        write_fd(2, (SHUTDOWN_LINE + "\n").encode())

    def pause(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True as soon as a graceful interrupt was requested."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_SLICE, remaining))
        return True

    def hang(self) -> None:
        """Block until a graceful interrupt (forever in ``ignore``/``default`` mode)."""
        while not self.requested:
            time.sleep(0.05)
