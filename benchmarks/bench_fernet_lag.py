"""The triggerer's event-loop lag while deferred runs start, with a slow ``[core] fernet_key_cmd``.

Each trigger opens its sealed command with Airflow's Fernet key. Where the key comes from a command
(``fernet_key_cmd``: a secrets manager's CLI, say), reading it on the event loop stalls every trigger
on that triggerer for as long as the command takes. Measured: a 5 ms ticker on the loop while
``--triggers`` deferred runs (a minimal engine: ``/bin/true``) start together, with a key command that
takes ``--cmd-seconds``; reported: the ticker's worst and p99 lag and how often the command ran.

    AIRFLOW_HOME=$(mktemp -d) .venv/bin/python benchmarks/bench_fernet_lag.py --triggers 20 --cmd-seconds 1

Run it on two checkouts (``PYTHONPATH=<checkout>``) to compare; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import percentile


def _environment(cmd_seconds: float, runs: Path) -> None:
    from cryptography.fernet import Fernet

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-fernet-"))
    os.environ.pop("AIRFLOW__CORE__FERNET_KEY", None)
    key = Fernet.generate_key().decode()
    os.environ["AIRFLOW__CORE__FERNET_KEY_CMD"] = (
        f"sh -c 'echo run >> {runs}; sleep {cmd_seconds}; echo {key}'"
    )


def _sealed_kwargs() -> dict[str, Any]:
    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._task import secrets

    command = RockyCommand(argv=("/bin/true",), env={"TOKEN": "bench-token"}, secret_keys=("TOKEN",))
    kwargs, _ = secrets.seal_command(command)
    return kwargs


async def _measure(triggers: int, kwargs: dict[str, Any]) -> list[float]:
    from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        period = 0.005
        expected = time.perf_counter() + period
        while not done.is_set():
            await asyncio.sleep(period)
            now = time.perf_counter()
            lags.append(max(0.0, now - expected))
            expected = now + period

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.1)
    await asyncio.gather(*(anext(RockyRunTrigger(dict(kwargs)).run()) for _ in range(triggers)))
    done.set()
    await tick
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=20)
    parser.add_argument("--cmd-seconds", type=float, default=1.0)
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="bench-fernet-runs-")) / "runs"
    _environment(args.cmd_seconds, runs)
    kwargs = _sealed_kwargs()  # the worker's side (its own read of the key)
    sealed_by_worker = runs.read_text().count("run")
    from airflow_provider_rocky._task import secrets

    if hasattr(secrets, "forget_fernet"):
        secrets.forget_fernet()  # the triggerer is another process
    began = time.perf_counter()
    lags = asyncio.run(_measure(args.triggers, kwargs))
    wall = time.perf_counter() - began
    in_triggerer = runs.read_text().count("run") - sealed_by_worker
    print(
        f"triggers={args.triggers} cmd_seconds={args.cmd_seconds:g}: wall {wall:.2f}s; loop lag worst "
        f"{max(lags) * 1000:.0f} ms, p99 {percentile(lags, 99) * 1000:.0f} ms, p50 "
        f"{percentile(lags, 50) * 1000:.1f} ms over {len(lags)} ticks; fernet_key_cmd ran {in_triggerer}x "
        "in the triggerer"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
