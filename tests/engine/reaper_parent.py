"""A supervising process for tests/engine/test_reaper.py: it runs engines through the real spawn path.

``reaper_parent.py run OUT``: supervise one engine (pids in ``OUT.a``, the reaper's pid in
``OUT.a.reaper``) until killed. ``reaper_parent.py fork OUT``: the same, then fork; the child writes
what it inherited (``OUT.child``: its registrations and reaper before spawning), supervises an engine
of its own (``OUT.b``, ``OUT.b.reaper``) and sleeps; the parent sleeps too. Nothing here ever exits
by itself: the test SIGKILLs it.

The engine (``ENGINE``) is its own pid, a child in its group, and a ``setsid`` escapee that ignores
SIGTERM (so only the SIGKILL after the grace ends it); it writes the three pids, then sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time

from airflow_provider_rocky._engine import reaper
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessRunner

ENGINE = """
import os, signal, sys, time
def forever(ignore_term=False):
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
pids = [os.getpid()]
child = os.fork()
if child == 0:
    forever()
pids.append(child)
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    os.write(w, str(os.getpid()).encode())
    forever(ignore_term=True)
pids.append(int(os.read(r, 32)))
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(" ".join(map(str, pids)))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
forever()
"""


def write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as out:
        out.write(text)
    os.replace(path + ".tmp", path)


def supervise(pidfile: str) -> None:
    """Run one engine to its end (never, here), writing this process's reaper pid once it runs."""

    def report() -> None:
        while not os.path.exists(pidfile):
            time.sleep(0.02)
        write(pidfile + ".reaper", str(reaper.reaper_pid()))

    threading.Thread(target=report, daemon=True).start()
    command = RockyCommand(argv=(sys.executable, "-c", ENGINE, pidfile))
    asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "run":
        supervise(out + ".a")
        return
    threading.Thread(target=supervise, args=(out + ".a",), daemon=True).start()
    while not os.path.exists(out + ".a.reaper"):
        time.sleep(0.02)
    if os.fork() == 0:
        write(out + ".child", json.dumps({"registered": reaper.registered(), "reaper": reaper.reaper_pid()}))
        supervise(out + ".b")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
