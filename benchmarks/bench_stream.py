"""Streaming benchmarks: the provider's ``ProcessRunner`` vs ``rocky_sdk.RockyClient.run_cli``.

Both sides deliver every engine stderr line to the same task logger, each the way its own code path
does: the provider renders the tracing JSON and logs ``line.text`` at ``line.level`` through
``_engine.logsink.log_sink`` (what ``RockyOperator`` and ``RockyRunTrigger`` log with); rocky-sdk
hands the raw line to ``log_callback``, here ``log.info("rocky: %s", line)`` (its default sink's
format) on that same logger.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench_common import (
    RUN_ARGS,
    Ctx,
    cpu_seconds,
    median,
    patched_environ,
    peak_rss_mb,
    percentile,
    scenario_env,
    task_logger,
)

_T_NS = re.compile(r"t_ns=(\d+)")
_TIMEOUT_S = 3600


class Sinks:
    """The two ``on_line`` callbacks over one logger, counting lines and (optionally) latency."""

    def __init__(self, log: Any, *, latency: bool = False) -> None:
        from airflow_provider_rocky._engine.logsink import log_sink

        self.log = log
        self._log_line = log_sink(log)  # what RockyOperator and RockyRunTrigger log lines with
        #: Lines delivered. Each Sinks is used from one thread only (one per run in the concurrency test).
        self.lines = 0
        self.latency_ns: list[int] = []
        self.provider: Callable[[Any], None] = self._provider_latency if latency else self._provider
        self.sdk: Callable[[str], None] = self._sdk_latency if latency else self._sdk

    def _provider(self, line: Any) -> None:
        self._log_line(line)
        self.lines += 1

    def _sdk(self, line: str) -> None:
        self.log.info("rocky: %s", line)
        self.lines += 1

    def _provider_latency(self, line: Any) -> None:
        received = time.time_ns()
        self._log_line(line)
        self._note(line.text, received)

    def _sdk_latency(self, line: str) -> None:
        received = time.time_ns()
        self.log.info("rocky: %s", line)
        self._note(line, received)

    def _note(self, text: str, received: int) -> None:
        self.lines += 1
        if match := _T_NS.search(text):
            self.latency_ns.append(received - int(match.group(1)))


def provider_runner(ctx: Ctx, env: dict[str, str], on_line: Callable[[Any], None]) -> Any:
    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.process import ProcessRunner

    command = RockyCommand(argv=ctx.argv, env=env, cwd=str(ctx.workdir))
    return ProcessRunner(command, on_line=on_line, deadline=time.time() + _TIMEOUT_S)


def provider_once(ctx: Ctx, env: dict[str, str], on_line: Callable[[Any], None]) -> float:
    """One run through the provider's worker path (a private loop); return its wall seconds."""
    runner = provider_runner(ctx, env, on_line)
    started = time.perf_counter()
    outcome = asyncio.run(runner.run())
    wall = time.perf_counter() - started
    if outcome.exit_code != 0:
        raise RuntimeError(f"provider run failed: {outcome.exit_code} {outcome.stderr_tail[-3:]}")
    return wall


def sdk_client(ctx: Ctx) -> Any:
    """A RockyClient whose one-off ``rocky --version`` check has already run (not timed)."""
    from rocky_sdk import RockyClient

    client = RockyClient(binary_path=str(ctx.rocky), config_path="rocky.toml", timeout_seconds=_TIMEOUT_S)
    with patched_environ(scenario_env("success")):
        client.run_cli(list(RUN_ARGS), allow_partial=True, log_callback=lambda _line: None)
    return client


def sdk_once(client: Any, env: dict[str, str], on_line: Callable[[str], None]) -> float:
    with patched_environ(env):
        started = time.perf_counter()
        client.run_cli(list(RUN_ARGS), allow_partial=True, log_callback=on_line)
        return time.perf_counter() - started


def warm_up(ctx: Ctx, client: Any, sinks: Sinks) -> None:
    """One tiny run per side: imports, structlog's first-use caches, the page cache."""
    env = scenario_env("many_lines", LINES=100)
    provider_once(ctx, env, sinks.provider)
    sdk_once(client, env, sinks.sdk)


def engine_alone(ctx: Ctx, env: dict[str, str]) -> float:
    """Wall seconds of the engine writing to /dev/null: the ceiling for any supervisor."""
    started = time.perf_counter()
    subprocess.run(
        ctx.argv,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        timeout=_TIMEOUT_S,
        check=True,
    )
    return time.perf_counter() - started


def throughput(ctx: Ctx, log: Any, lines: int, reps: int) -> dict[str, Any]:
    """Lines/s delivered to the logger, median of ``reps`` alternating runs per side.

    Also the task-log bytes each side writes per line (the file behind ``log``: ``ctx.log_path("main")``).
    """
    log_file = ctx.log_path("main")
    env = scenario_env("many_lines", LINES=lines)
    client = sdk_client(ctx)
    sinks = Sinks(log)
    warm_up(ctx, client, sinks)
    rates: dict[str, list[float]] = {"provider": [], "sdk": [], "engine": []}
    cpu: dict[str, list[float]] = {"provider": [], "sdk": []}
    log_bytes: dict[str, list[float]] = {"provider": [], "sdk": []}
    sides: dict[str, Callable[[], float]] = {
        "provider": lambda: provider_once(ctx, env, sinks.provider),
        "sdk": lambda: sdk_once(client, env, sinks.sdk),
    }
    for _ in range(reps):
        for side, once in sides.items():
            before, cpu0, size0 = sinks.lines, cpu_seconds(), log_file.stat().st_size
            wall = once()
            cpu[side].append(cpu_seconds() - cpu0)
            rates[side].append((sinks.lines - before) / wall)
            log_bytes[side].append((log_file.stat().st_size - size0) / (sinks.lines - before))
        rates["engine"].append(lines / engine_alone(ctx, env))
    return {
        "lines": lines,
        "reps": reps,
        **{f"{side}_lines_per_s": median(values) for side, values in rates.items()},
        **{f"{side}_cpu_us_per_line": median(values) / lines * 1e6 for side, values in cpu.items()},
        **{f"{side}_log_bytes_per_line": median(values) for side, values in log_bytes.items()},
    }


def latency(ctx: Ctx, log: Any, rate: float, seconds: float) -> dict[str, Any]:
    """Engine write (``t_ns`` in the line) -> logger call, in ms; one stream_rate run per side."""
    env = scenario_env("stream_rate", LINES_PER_SEC=rate, SECONDS=seconds)
    client = sdk_client(ctx)
    result: dict[str, Any] = {"rate": rate, "seconds": seconds}
    for side in ("provider", "sdk"):
        sinks = Sinks(log, latency=True)
        if side == "provider":
            provider_once(ctx, env, sinks.provider)
        else:
            sdk_once(client, env, sinks.sdk)
        ms = [value / 1e6 for value in sinks.latency_ns]
        result.update({f"{side}_p50_ms": percentile(ms, 50), f"{side}_p99_ms": percentile(ms, 99)})
        result[f"{side}_samples"] = len(ms)
    return result


# -- children (each in a fresh interpreter, see bench_common.run_child) ---------------------------


def child_rss(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of a process that supervised one run of ``lines`` stderr lines."""
    log_file = ctx.log_path(f"rss-{params['side']}-{params['lines']}")
    log = task_logger(log_file)
    sinks = Sinks(log)
    env = scenario_env("many_lines", LINES=params["lines"])
    client = sdk_client(ctx) if params["side"] == "sdk" else None
    before = peak_rss_mb()
    if client is None:
        provider_once(ctx, env, sinks.provider)
    else:
        sdk_once(client, env, sinks.sdk)
    peak = peak_rss_mb()
    log_file.unlink()
    return {"peak_rss_mb": peak, "rss_before_mb": before, "lines": sinks.lines}


def _summary(wall: float, cpu: float, lags: list[float], failed: int) -> dict[str, Any]:
    ms = [lag * 1000 for lag in lags]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "lag_p50_ms": percentile(ms, 50),
        "lag_p99_ms": percentile(ms, 99),
        "lag_max_ms": max(ms, default=float("nan")),
        "failed": failed,
    }


def rss_pair(ctx: Ctx, run_child: Callable[..., dict[str, Any]], sizes: tuple[int, int]) -> dict[str, Any]:
    """Peak RSS per side and size, each in its own fresh process."""
    out: dict[str, Any] = {"sizes": list(sizes)}
    for side in ("provider", "sdk"):
        for size in sizes:
            got = run_child(ctx, "rss", {"side": side, "lines": size}, timeout=1800)
            out[f"{side}_{size}"] = got
    return out
