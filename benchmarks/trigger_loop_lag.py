"""Event-loop lag while one RockyRunTrigger streams 10,000 tracing lines (issue: never > 50 ms).

A 5 ms ticker coroutine shares the loop with the trigger and records how late each wake-up is; the
trigger logs every line through a real logger with a file handler (as a triggerer's would).

    .venv/bin/python benchmarks/trigger_loop_lag.py [lines] > /dev/null   # figures on stderr
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger


async def measure(lines: int) -> dict[str, float]:
    handler = logging.FileHandler(tempfile.mktemp(suffix=".log"))
    command = RockyCommand(
        argv=(sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--output", "json", "run"),
        env={
            "ROCKY_STANDIN_SCENARIO": "many_lines",
            "ROCKY_STANDIN_LINES": str(lines),
            "ROCKY_STANDIN_DELAY": "0",
            "ROCKY_STANDIN_ALLOW_NO_CONFIG": "1",  # a bare directory, no rocky.toml
        },
        cwd=tempfile.mkdtemp(),
    )
    trigger = RockyRunTrigger(command.serialize())
    logging.getLogger(type(trigger).__module__).addHandler(handler)
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            planned = time.perf_counter() + 0.005
            await asyncio.sleep(0.005)
            lags.append(max(time.perf_counter() - planned, 0.0) * 1000)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    event = await anext(trigger.run())
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    lags.sort()
    return {
        "lines": float(event.payload["outcome"]["stderr_lines"]),
        "seconds": elapsed,
        "lag_p50_ms": statistics.median(lags),
        "lag_p99_ms": lags[int(len(lags) * 0.99) - 1],
        "lag_max_ms": lags[-1],
    }


if __name__ == "__main__":
    result = asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
    print(" ".join(f"{key}={value:.1f}" for key, value in result.items()), file=sys.stderr)
