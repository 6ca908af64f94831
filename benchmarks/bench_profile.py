"""``run.py --profile``: where the time goes, for the rows where the provider is slower than its baseline.

Prints (not part of the table): per-line cost of each step of the log path, a cProfile of one provider
streaming run, a cProfile of concurrent runs on one event loop (what blocks the loop), and the import
time of the Rocky DAG's modules that the Bash DAG does not import.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench_common import Ctx, scenario_env, task_logger
from bench_stream import Sinks, provider_once, provider_runner, sdk_client, warm_up


def _per_call_us(fn: Callable[[], object], n: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def line_costs(log: Any) -> None:
    """µs per line of each step, on a line exactly like the stand-in's many_lines output."""
    from airflow_provider_rocky._engine import stderr as logs
    from airflow_provider_rocky.testing._standin.tracing import StderrLog

    raw = StderrLog(json_mode=True, run_id="run-20260101-000000-000").format_event(
        "INFO", "progress 17/200000", "rocky::run", {"seq": 17}
    )
    rendered = logs.render(raw)
    steps: dict[str, Callable[[], object]] = {
        "decode bytes (both)": lambda: raw.encode().decode("utf-8", "backslashreplace"),
        "json.loads (provider)": lambda: json.loads(raw),
        "logs.render = json.loads + format (provider)": lambda: logs.render(raw),
        "logs.run_id_of (provider, until a run_id is seen)": lambda: logs.run_id_of(raw),
        "logger.log(level, rendered text) (provider)": lambda: log.log(rendered.level, rendered.text),
        'logger.info("rocky: %s", raw json) (rocky_sdk)': lambda: log.info("rocky: %s", raw),
    }
    print(f"\n## Per-line cost (µs), {len(raw)}-char tracing line -> {len(rendered.text)}-char text\n")
    for name, fn in steps.items():
        print(f"  {_per_call_us(fn):7.2f}  {name}")


def _top(profile: cProfile.Profile, n: int, sort: str = "tottime") -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(n)
    text = out.getvalue()
    return text[text.find("   ncalls") :]


def stream_profile(ctx: Ctx, log: Any, lines: int) -> None:
    sinks = Sinks(log)
    warm_up(ctx, sdk_client(ctx), sinks)
    profile = cProfile.Profile()
    profile.enable()
    wall = provider_once(ctx, scenario_env("many_lines", LINES=lines), sinks.provider)
    profile.disable()
    print(f"\n## cProfile, provider, {lines:,} lines ({wall:.2f} s wall under the profiler)\n")
    print(_top(profile, 18))


async def _track_stall(done: asyncio.Event, worst: list[float]) -> None:
    """A 10 ms ticker on the loop; ``worst[0]`` keeps its longest oversleep (the worst stall)."""
    while not done.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - start - 0.01)


def loop_profile(ctx: Ctx, runs: int) -> None:
    """Concurrent stream_rate runs on one loop: what runs on the loop thread, and the worst stall."""
    env = scenario_env("stream_rate", LINES_PER_SEC=5, SECONDS=5)
    worst = [0.0]

    async def main() -> None:
        done = asyncio.Event()
        tick = asyncio.create_task(_track_stall(done, worst))
        runners = [provider_runner(ctx, env, lambda _line: None) for _ in range(runs)]
        await asyncio.gather(*(runner.run() for runner in runners))
        done.set()
        await tick

    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(main())
    profile.disable()
    print(
        f"\n## cProfile, {runs} concurrent runs on one loop (worst ticker stall {worst[0] * 1000:.0f} ms)\n"
    )
    print(_top(profile, 10))


def spawn_stall(ctx: Ctx, runs: int) -> None:
    """Worst loop stall while ``runs`` engines are spawned at once: on the loop vs from worker threads."""
    env = {**os.environ, **scenario_env("stream_rate", LINES_PER_SEC=5, SECONDS=5)}
    devnull = subprocess.DEVNULL

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ctx.argv, env=env, stdin=devnull, stdout=devnull, stderr=devnull, start_new_session=True
        )

    async def on_loop() -> list[int]:
        procs = await asyncio.gather(
            *(
                asyncio.create_subprocess_exec(
                    *ctx.argv, env=env, stdin=devnull, stdout=devnull, stderr=devnull, start_new_session=True
                )
                for _ in range(runs)
            )
        )
        return [await proc.wait() for proc in procs]

    async def in_threads() -> list[int]:
        procs = await asyncio.gather(*(asyncio.to_thread(popen) for _ in range(runs)))
        return [await asyncio.to_thread(proc.wait) for proc in procs]

    print(f"\n## Worst loop stall while {runs} engines are spawned at once\n")
    for name, spawn in (
        ("asyncio.create_subprocess_exec (before spawn.py)", on_loop),
        ("asyncio.to_thread(subprocess.Popen)", in_threads),
    ):
        worst = [0.0]

        async def main(spawn: Callable[[], Any] = spawn, worst: list[float] = worst) -> None:
            done = asyncio.Event()
            tick = asyncio.create_task(_track_stall(done, worst))
            await asyncio.sleep(0.05)
            await spawn()
            done.set()
            await tick

        asyncio.run(main())
        print(f"  {worst[0] * 1000:8.0f} ms  {name}")


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _imports(statement: str) -> dict[str, tuple[int, int]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, tuple[int, int]] = {}
    for match in _IMPORTTIME.finditer(done.stderr):
        # A name can appear twice (``import a.b`` nested inside the import of ``a``): add self times.
        self_us, cumulative = found.get(match.group(4), (0, 0))
        found[match.group(4)] = (self_us + int(match.group(1)), max(cumulative, int(match.group(2))))
    return found


def import_profile() -> None:
    """Self import time of the modules only the Rocky DAG imports, by package (one fresh interpreter)."""
    base = "from datetime import datetime; from airflow.sdk import DAG; "
    rocky = _imports(base + "from airflow_provider_rocky.operators.rocky import RockyOperator")
    bash = _imports(base + "from airflow.providers.standard.operators.bash import BashOperator")
    extra = {name: times for name, times in rocky.items() if name not in bash}
    by_package: dict[str, int] = defaultdict(int)
    for name, (self_us, _cumulative) in extra.items():
        parts = name.split(".")
        by_package[".".join(parts[:3] if parts[0] == "airflow" else parts[:1])] += self_us
    total_rocky = sum(self_us for self_us, _ in rocky.values())
    total_bash = sum(self_us for self_us, _ in bash.values())
    print("\n## Import time (self, ms) of modules the Rocky DAG imports and the Bash DAG does not\n")
    print(f"  all imports: Rocky DAG {total_rocky / 1000:.0f} ms, Bash DAG {total_bash / 1000:.0f} ms; ")
    print(f"  {len(extra)} extra modules, {sum(by_package.values()) / 1000:.0f} ms:")
    for package, self_us in sorted(by_package.items(), key=lambda item: -item[1])[:14]:
        print(f"  {self_us / 1000:7.1f}  {package}")
    heavy = sorted(extra.items(), key=lambda item: -item[1][1])[:12]
    print("\n  largest cumulative among them (ms):")
    for name, (_self_us, cumulative) in heavy:
        print(f"  {cumulative / 1000:7.1f}  {name}")


def main(ctx: Ctx, lines: int) -> None:
    log = task_logger(ctx.log_path("profile"))
    line_costs(log)
    stream_profile(ctx, log, lines)
    loop_profile(ctx, 50)
    spawn_stall(ctx, 200)
    import_profile()
