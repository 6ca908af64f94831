"""Benchmarks of airflow-provider-rocky against rocky-sdk on the stand-in engine; prints a markdown table.

    .venv/bin/python benchmarks/run.py            # full run, rewrites README results
    .venv/bin/python benchmarks/run.py --quick    # smoke test (< 2 min), prints only

See benchmarks/README.md for what each figure measures and why.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import bench_common as common
import bench_result
import bench_stream

README = common.HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
SECTIONS = ("throughput", "latency", "rss", "concurrency", "interpret", "parse")


@dataclass
class Config:
    lines: int = 200_000
    reps: int = 3
    latency_rate: float = 200.0
    latency_seconds: float = 10.0
    rss_sizes: tuple[int, int] = (100_000, 1_000_000)
    runs: int = 200
    run_rate: float = 5.0
    run_seconds: float = 20.0
    tables: int = 10_000
    interp_reps: int = 7
    dag_operators: int = 100
    dag_reps: int = 7
    sections: tuple[str, ...] = SECTIONS
    results: dict[str, Any] = field(default_factory=dict)


QUICK: dict[str, Any] = {
    "lines": 20_000,
    "reps": 2,
    "latency_rate": 100.0,
    "latency_seconds": 3.0,
    "rss_sizes": (10_000, 100_000),
    "runs": 20,
    "run_seconds": 5.0,
    "tables": 2_000,
    "interp_reps": 3,
    "dag_reps": 3,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="scale everything down (smoke test, < 2 min)")
    p.add_argument("--lines", type=int, help="stderr lines of the throughput run (200000)")
    p.add_argument("--reps", type=int, help="throughput repetitions per side (3)")
    p.add_argument("--latency-rate", type=float, help="lines/s of the latency run (200)")
    p.add_argument("--latency-seconds", type=float, help="seconds of the latency run (10)")
    p.add_argument("--rss-sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"), help="(100000 1000000)")
    p.add_argument("--runs", type=int, help="concurrent runs (200)")
    p.add_argument("--run-rate", type=float, help="lines/s of each concurrent run (5)")
    p.add_argument("--run-seconds", type=float, help="seconds of each concurrent run (20)")
    p.add_argument("--tables", type=int, help="materializations of the interpreted result (10000)")
    p.add_argument("--interp-reps", type=int, help="repetitions of the interpretation (7)")
    p.add_argument("--dag-operators", type=int, help="operators per generated DAG file (100)")
    p.add_argument("--dag-reps", type=int, help="fresh interpreters per DAG file and mode (7)")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the results into benchmarks/README.md (default: yes unless --quick)",
    )
    p.add_argument("--profile", action="store_true", help="print cProfile/importtime breakdowns instead")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--params", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    cfg = Config(**(QUICK if args.quick else {}))
    for name in (
        "lines",
        "reps",
        "latency_rate",
        "latency_seconds",
        "runs",
        "run_rate",
        "run_seconds",
        "tables",
        "interp_reps",
        "dag_operators",
        "dag_reps",
    ):
        if (value := getattr(args, name)) is not None:
            setattr(cfg, name, value)
    if args.rss_sizes:
        cfg.rss_sizes = (args.rss_sizes[0], args.rss_sizes[1])
    if args.only:
        unknown = set(args.only.split(",")) - set(SECTIONS)
        if unknown:
            raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
        cfg.sections = tuple(s for s in SECTIONS if s in args.only.split(","))
    return cfg


# -- running --------------------------------------------------------------------------------------


def measure(cfg: Config, ctx: common.Ctx) -> None:
    log = common.task_logger(ctx.log_path("main")) if {"throughput", "latency"} & set(cfg.sections) else None
    steps = {
        "throughput": lambda: bench_stream.throughput(ctx, log, cfg.lines, cfg.reps),
        "latency": lambda: bench_stream.latency(ctx, log, cfg.latency_rate, cfg.latency_seconds),
        "rss": lambda: bench_stream.rss_pair(ctx, common.run_child, cfg.rss_sizes),
        "concurrency": lambda: bench_stream.concurrency_pair(
            ctx, common.run_child, cfg.runs, cfg.run_rate, cfg.run_seconds
        ),
        "interpret": lambda: bench_result.interpretation(ctx, cfg.tables, cfg.interp_reps),
        "parse": lambda: bench_result.dag_parse(ctx, cfg.dag_operators, cfg.dag_reps),
    }
    for name in cfg.sections:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        cfg.results[name] = steps[name]()
        took = time.perf_counter() - started
        print(f"[bench] {name} done in {took:.1f}s", file=sys.stderr, flush=True)


# -- table ----------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def ratio(a: float, b: float) -> str:
    if not b or math.isnan(a) or math.isnan(b):
        return "-"
    value = a / b
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


Row = tuple[str, str, str, str, str]


def rows(cfg: Config) -> list[Row]:
    r = cfg.results
    out: list[Row] = []

    def add(name: str, a: float, b: float, note: str = "", *, digits: int = 3) -> None:
        out.append((name, fmt(a, digits), fmt(b, digits), ratio(a, b), note))

    if t := r.get("throughput"):
        n = f"{t['lines']:,} lines, median of {t['reps']}"
        add(
            f"1. lines/s into the task logger ({n})",
            t["provider_lines_per_s"],
            t["sdk_lines_per_s"],
            f"higher is better; engine alone to /dev/null: {fmt(t['engine_lines_per_s'])} lines/s",
        )
        add(
            "1. supervisor CPU per line (µs)",
            t["provider_cpu_us_per_line"],
            t["sdk_cpu_us_per_line"],
            "lower is better; user+sys of the supervising process; task-log bytes per line "
            f"{fmt(t['provider_log_bytes_per_line'])} / {fmt(t['sdk_log_bytes_per_line'])}",
        )
    if lat := r.get("latency"):
        n = f"{fmt(lat['rate'])} lines/s x {fmt(lat['seconds'])} s"
        add(f"2. latency write→logger p50 (ms, {n})", lat["provider_p50_ms"], lat["sdk_p50_ms"])
        add(
            f"2. latency write→logger p99 (ms, {n})",
            lat["provider_p99_ms"],
            lat["sdk_p99_ms"],
            f"{lat['provider_samples']} / {lat['sdk_samples']} lines",
        )
    if rss := r.get("rss"):
        small, large = rss["sizes"]
        for size in (small, large):
            add(
                f"3. peak RSS, {size:,} lines (MB)",
                rss[f"provider_{size}"]["peak_rss_mb"],
                rss[f"sdk_{size}"]["peak_rss_mb"],
                "fresh process; includes Airflow + provider imports",
            )

        def growth(side: str) -> float:
            return float(rss[f"{side}_{large}"]["peak_rss_mb"] - rss[f"{side}_{small}"]["peak_rss_mb"])

        def during(side: str) -> float:
            got = rss[f"{side}_{large}"]
            return float(got["peak_rss_mb"] - got["rss_before_mb"])

        add(
            f"3. peak RSS growth {small:,} → {large:,} lines (MB)",
            growth("provider"),
            growth("sdk"),
            f"flat = ~0; peak above the pre-run level at {large:,} lines: "
            f"provider +{during('provider'):.1f} MB, rocky_sdk +{during('sdk'):.1f} MB",
        )
    if c := r.get("concurrency"):
        n = f"{c['runs']} runs x {fmt(c['rate'])} lines/s x {fmt(c['seconds'])} s"
        p, s = c["provider"], c["sdk"]
        add(
            f"4. supervisor CPU s ({n}; 1 loop vs threads)",
            p["cpu_s"],
            s["cpu_s"],
            f"wall {fmt(p['wall_s'])} / {fmt(s['wall_s'])} s; lines {p['lines']:,} / {s['lines']:,}; "
            f"failed runs {p['failed']} / {s['failed']}",
        )
        add(
            "4. ticker lag p99 (ms; 10 ms loop ticker vs ticker thread)",
            p["lag_p99_ms"],
            s["lag_p99_ms"],
            f"p50 {fmt(p['lag_p50_ms'])} / {fmt(s['lag_p50_ms'])} ms",
        )
        add(
            "4. ticker lag max (ms): the longest stall",
            p["lag_max_ms"],
            s["lag_max_ms"],
            "both sides starve for CPU while 200 engines boot on 2 cores",
        )
        add("4. supervisor peak RSS (MB)", p["peak_rss_mb"], s["peak_rss_mb"])
    if i := r.get("interpret"):
        n = f"{i['tables']:,} tables, median of {i['reps']}"
        add(
            f"5. interpret + summary.build (ms; {n})",
            i["interpret_build_ms"],
            i["sdk_parse_ms"],
            "baseline: rocky_sdk's parse alone (RunResult.model_validate(json.loads(stdout)))",
        )
        events = f"5. asset_events (ms; {i['asset_events']:,} events)"
        out.append((events, fmt(i["asset_events_ms"]), "-", "-", "no rocky_sdk equivalent"))
        if "event_pack_ms" in i:
            why = f"event outcome {i['event_bytes']:,} bytes; packed in a thread, off the loop"
            out.append(
                (
                    "5. pack the trigger event (ms; zlib + base64 of stdout)",
                    fmt(i["event_pack_ms"]),
                    "-",
                    "-",
                    why,
                )
            )
        add(
            "5. XCom summary bytes vs full result bytes",
            i["summary_bytes"],
            i["full_result_bytes"],
            f"stdout was {i['stdout_bytes']:,} bytes; ratio = summary ÷ full",
        )
    if d := r.get("parse"):
        n = f"{d['operators']} operators, median of {d['reps']}"
        for mode, label in (("cold", "fresh interpreter"), ("processor", "airflow.* pre-imported")):
            for metric, what in (("wall_s", "process wall"), ("exec_s", "exec of the file")):
                if mode == "processor" and metric == "wall_s":
                    continue
                a, b = d[f"rocky_{mode}_{metric}"], d[f"bash_{mode}_{metric}"]
                add(
                    f"6. DAG parse, {label}: {what} (s; {n})",
                    a,
                    b,
                    f"Rocky - Bash = {a - b:+.3f} s; of it imports {d[f'rocky_{mode}_import_s']:.3f} / "
                    f"{d[f'bash_{mode}_import_s']:.3f} s",
                    digits=3,
                )
    return out


def table(cfg: Config) -> str:
    head = ["Measurement", "Provider", "Baseline", "Ratio (provider ÷ baseline)", "Notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(cfg)]
    return "\n".join(lines)


def machine() -> str:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu)
    return (
        f"nproc {os.cpu_count()} ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"apache-airflow {version('apache-airflow')}, rocky-sdk {version('rocky-sdk')}"
    )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def report(cfg: Config, argv: list[str], took: float, load_before: str) -> str:
    cmd = ".venv/bin/python benchmarks/run.py" + "".join(f" {shlex.quote(a)}" for a in argv)
    return "\n".join(
        [
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · took {took / 60:.1f} min",
            f"- Machine: {machine()}",
            f"- Load average: {load_before} before, {load()} after (other work on the machine skews figures)",
            f"- Command: `{cmd}`",
            "",
            "Baseline: rocky_sdk `RockyClient.run_cli` (rows 1-4), rocky_sdk's own parse (row 5), "
            "the same DAG with `BashOperator` (row 6).",
            "",
            table(cfg),
        ]
    )


def write_readme(text: str) -> None:
    old = README.read_text() if README.exists() else f"# Benchmarks\n\n## Results\n\n{START}\n{END}\n"
    head, _, rest = old.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


# -- entry points ---------------------------------------------------------------------------------


def _terminate(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the finally blocks: they end every process we started


def child_main(args: argparse.Namespace) -> int:
    common.enter(Path(args.workdir))
    ctx = common.Ctx(Path(args.workdir))
    params = json.loads(args.params)
    try:
        run = {"rss": bench_stream.child_rss, "concurrency": bench_stream.child_concurrency}[args.child]
        common.write_json(Path(args.out), run(ctx, params))
    finally:
        common.kill_own_children()
    return 0


def main(argv: list[str]) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    cfg = make_config(args)
    origin = Path.cwd()
    started, load_before = time.perf_counter(), load()
    with tempfile.TemporaryDirectory(prefix="rocky-bench-") as tmp:
        ctx = common.prepare(Path(tmp))
        try:
            if args.profile:
                import bench_profile

                bench_profile.main(ctx, min(cfg.lines, 50_000))
                return 0
            measure(cfg, ctx)
        finally:
            common.kill_own_children()
            strays = common.stray_engines(ctx.workdir)
            for pid in strays:
                common.kill_tree(pid)
            print(f"[bench] processes left behind: {len(strays)}", file=sys.stderr)
            os.chdir(origin)
    text = report(cfg, argv, time.perf_counter() - started, load_before)
    print(text)
    if args.readme if args.readme is not None else not args.quick:
        write_readme(text)
        print(f"\n[bench] results written to {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
