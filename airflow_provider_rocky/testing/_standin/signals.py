"""SIGINT/SIGTERM the way the engine handles them, per command path (contract §3.1).

Upstream (rocky-data/rocky at 1.71, ``engine/crates/rocky-cli/src/commands/run.rs``): only the
replication fan-out registers handlers (``tokio::signal::ctrl_c()`` and a SIGTERM stream, ~3783-3935);
every other path keeps the default disposition, so a signal kills the process without JSON, and
without finalizing its idempotency claim.

* ``default``: the process starts so (Rust's dispositions), and the transformation, quality and
  snapshot paths stay so: SIGTERM/SIGINT kill it.
* ``graceful`` (the replication fan-out, from its first table): the first signal prints the shutdown
  line (``arm_hard_exit_on_second_signal``) and the run finishes as interrupted (JSON ``interrupted:
  true``, exit 130); after it only a second **SIGINT** exits 130 at once (the watcher watches SIGINT
  only; a second SIGTERM reaches a stream nobody polls any more).
* ``drained`` (after the fan-out): tokio's handlers stay registered for the life of the process, so a
  signal is swallowed, except the second SIGINT of an interrupted run.
* ``ignore`` (the ``hang_ignore_term`` scenario: a drain stuck on a statement that ignores
  cancellation): only SIGKILL ends the process.
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
        """Switch to ``graceful``, ``drained``, ``default`` or ``ignore`` handling of SIGINT and SIGTERM."""
        if self.mode == "ignore" and mode in ("graceful", "drained"):
            return  # a scenario that ignores signals keeps ignoring them
        self.mode = mode
        for sig in (signal.SIGINT, signal.SIGTERM):
            if mode in ("graceful", "drained"):
                signal.signal(sig, self._handle)
            elif mode == "ignore":
                signal.signal(sig, signal.SIG_IGN)
            else:
                signal.signal(sig, signal.SIG_DFL)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            if signum == signal.SIGINT:  # the hard-exit watcher armed by the first signal
                write_fd(2, (SECOND_SIGNAL_LINE + "\n").encode())
                os._exit(INTERRUPTED_EXIT)
            return
        if self.mode == "drained":
            return  # the fan-out is over: nobody polls the signal streams
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
