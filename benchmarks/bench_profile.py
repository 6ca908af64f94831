"""``run.py --profile``: where the time goes, for the rows where the provider is slower than its baseline.

Prints (not part of the table): per-line cost of each step of the log path, a cProfile of one provider
streaming run, a cProfile of the loop thread supervising 300 deferred runs of the minimal engine
(what holds the loop), and the import time of the Rocky DAG's modules that the Bash DAG does not
import.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench_common import Ctx, scenario_env, task_logger
from bench_stream import Sinks, provider_once, sdk_client, warm_up


def _per_call_us(fn: Callable[[], object], n: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def line_costs(log: Any) -> None:
    """µs per line of each step, on a line exactly like the stand-in's many_lines output."""
    from airflow_provider_rocky._engine import stderr as logs
    from airflow_provider_rocky._engine import untrusted
    from airflow_provider_rocky._engine.logsink import log_sink
    from airflow_provider_rocky.testing._standin.tracing import StderrLog

    raw = StderrLog(json_mode=True, run_id="run-20260101-000000-000").format_event(
        "INFO", "progress 17/200000", "rocky::run", {"seq": 17}
    )
    rendered = logs.render(raw)
    data = raw.encode()
    sink = log_sink(log)
    steps: dict[str, Callable[[], object]] = {
        "decode bytes (both)": lambda: data.decode("utf-8", "backslashreplace"),
        "json.loads of the str (the provider until this change)": lambda: json.loads(raw),
        "msgspec decode of the bytes (provider)": lambda: untrusted.fast_loads(data),
        "logs.render_raw = decode + format (provider)": lambda: logs.render_raw(data),
        "log_sink(log)(line) (provider)": lambda: sink(rendered),
        "logger.log(level, rendered text) through the proxy (before)": lambda: log.log(
            rendered.level, rendered.text
        ),
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


def fleet_profile(ctx: Ctx, runs: int) -> None:
    """cProfile of the loop thread while ``runs`` deferred runs of the minimal engine share it."""
    import bench_fleet as fleet

    fleet.private_cache(ctx)
    engine = fleet.minimal_engine(ctx)
    argvs = [fleet.engine_argv(engine)] * runs
    profile = cProfile.Profile()

    async def main() -> dict[str, Any]:
        profile.enable()
        try:
            return await fleet.triggers_on_one_loop(ctx, argvs, fleet.mini_env(1, 5), fleet.mini_env(1, 0))
        finally:
            profile.disable()

    got = asyncio.run(main())
    print(
        f"\n## cProfile of the loop thread, {runs} deferred runs x 1 line/s x 5 s (ticker lag p99 "
        f"{got['lag_p99_ms']:.0f} ms, worst {got['lag_max_ms']:.0f} ms, CPU {got['cpu_s']:.2f} s)\n"
    )
    print(_top(profile, 14))


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
    fleet_profile(ctx, 300)
    import_profile()
