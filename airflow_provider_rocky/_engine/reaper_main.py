"""The reaper process (see :mod:`.reaper`): on its supervisor's death, end every run still registered.

It reads registrations from stdin, the read end of a pipe only the supervisor can write to, until
EOF: the supervisor closed it, which happens when it dies (any signal) or exits. Nothing is ended
while the supervisor lives; the supervisor ends its runs itself and unregisters them. At EOF every
run still registered is ended the way the supervisor would have: SIGTERM to its process group and to
every process carrying its token (rocky then flushes its state and exits 130), ``GRACE_SECONDS``,
then SIGKILL, bounded. A run whose pid it never learnt, or whose pid names another process by then,
is found by its token alone. Standard library only, and nothing from Airflow: it starts in ~50 ms.

Lines: ``spawn <token>``, ``started <token> <pid>``, ``ended <token>``; anything else is ignored.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterable

from airflow_provider_rocky._engine.descendants import KILL_WAIT_SECONDS, RunProcesses

#: Seconds between SIGTERM and SIGKILL once the supervisor is gone: rocky needs ~1 s to flush and
#: print its interrupted JSON; nobody reads it any more, so less than the supervisor's 15 s.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05


def read_runs(lines: Iterable[bytes]) -> dict[str, RunProcesses]:
    """Follow the registrations until EOF; what is left is what the supervisor never ended."""
    runs: dict[str, RunProcesses] = {}
    for raw in lines:
        words = raw.decode("ascii", "replace").split()
        if len(words) == 2 and words[0] == "spawn":
            runs[words[1]] = RunProcesses(None, words[1])
        elif len(words) == 3 and words[0] == "started" and words[2].isdigit():
            # Built now, while the engine lives: its start time guards against a reused pid later.
            runs[words[1]] = RunProcesses(int(words[2]), words[1])
        elif len(words) == 2 and words[0] == "ended":
            runs.pop(words[1], None)
    return runs


def _checked(run: RunProcesses) -> RunProcesses:
    """The run itself, or its token alone when its pid now names a newer process."""
    return RunProcesses(None, run.token) if run.leader_reused() else run


def end_all(runs: Iterable[RunProcesses], grace: float = GRACE_SECONDS) -> bool:
    """SIGTERM every run, wait up to ``grace`` s, SIGKILL what is left; ``True`` when all are gone."""
    pending = [_checked(run) for run in runs]
    # A token-only run stays pending for the whole grace: its engine may be between fork and exec.
    pending = [run for run in pending if run.send(signal.SIGTERM) or run.leader is None]
    until = time.monotonic() + grace
    while pending and time.monotonic() < until:
        time.sleep(_POLL_SECONDS)
        pending = [run for run in pending if run.leader is None or run.alive()]
    return all([run.kill(KILL_WAIT_SECONDS) for run in pending])


def main() -> None:
    """Read until the supervisor is gone, end what it left, exit."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)  # a terminal's or a group's signal is not our supervisor's death
    runs = read_runs(sys.stdin.buffer)
    sys.exit(0 if end_all(runs.values()) else 1)
