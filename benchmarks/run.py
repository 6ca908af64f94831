"""Benchmarks of airflow-provider-rocky against rocky-sdk (and cosmos), ending with one GOAL line per target.

    .venv/bin/python benchmarks/run.py            # full run (~20 min), rewrites the README results
    .venv/bin/python benchmarks/run.py --quick    # the same goals at smaller sizes (< 3 min), prints only

See benchmarks/README.md for what each figure measures and why. Every figure is taken at two sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

import bench_common as common
import bench_fleet
import bench_manifest
import bench_report
import bench_result
import bench_stream
import bench_watch

README = common.HERE / "README.md"
SECTIONS = (
    "throughput",
    "latency",
    "rss",
    "fleet",
    "fairness",
    "interpret",
    "parse",
    "taskgroup",
    "watch_shapes",
    "watch_waiting",
    "watch_liveness",
    "manifest",
)
Pair = tuple[int, int]


@dataclass
class Config:
    lines: Pair = (100_000, 1_000_000)
    reps: int = 3
    latency_rates: Pair = (200, 2000)
    latency_seconds: float = 10.0
    rss_sizes: Pair = (100_000, 1_000_000)
    fleet_runs: Pair = (100, 1000)
    fleet_rate: float = 1.0
    fleet_seconds: float = 20.0
    fairness_triggers: Pair = (10, 20)
    fairness_lines: int = 20_000
    tables: Pair = (1_000, 10_000)
    interp_reps: int = 7
    dag_operators: int = 100
    dag_reps: int = 7
    group_nodes: Pair = (100, 1000)
    group_reps: int = 7
    #: ``shape="watch"``: models of the three shapes' runs (a third, smaller size: watch_small_models),
    #: their repetitions and the stand-in's seconds per node.
    watch_models: Pair = (100, 1000)
    watch_small_models: int = 30
    watch_reps: int = 1
    watch_delay: float = 0.05
    waiting_triggers: Pair = (100, 1000)
    waiting_seconds: float = 20.0
    liveness_models: Pair = (20, 60)
    liveness_delay: float = 0.5
    manifest_nodes: Pair = (1_000, 10_000)
    manifest_reps: int = 3
    sections: tuple[str, ...] = SECTIONS
    results: dict[str, Any] = field(default_factory=dict)


#: The goals at smaller sizes, in under 3 minutes: the sections without a goal (rss, parse) are left
#: to the full run, and every repetition count is 1-3.
QUICK: dict[str, Any] = {
    "lines": (20_000, 100_000),
    "reps": 1,
    "latency_seconds": 3.0,
    "fleet_seconds": 8.0,
    "fairness_lines": 5_000,
    "interp_reps": 3,
    "group_reps": 1,
    "watch_models": (10, 30),
    "watch_small_models": 5,
    "waiting_seconds": 8.0,
    "liveness_models": (10, 20),
    "manifest_reps": 1,
    "sections": tuple(s for s in SECTIONS if s not in ("rss", "parse")),
}

_PAIRS = tuple(f.name for f in fields(Config) if f.type == "Pair")
_SCALARS = tuple(f.name for f in fields(Config) if f.type in ("int", "float"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="every goal at smaller sizes (< 3 min)")
    defaults = Config()
    for name in _PAIRS:
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=int, nargs=2, metavar=("SMALL", "LARGE"), help=f"{getattr(defaults, name)}")
    for name in _SCALARS:
        kind = type(getattr(defaults, name))
        p.add_argument("--" + name.replace("_", "-"), type=kind, help=f"{getattr(defaults, name)}")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the results into benchmarks/README.md (default: yes unless --quick)",
    )
    p.add_argument("--profile", action="store_true", help="print cProfile/importtime breakdowns instead")
    for hidden in ("--child", "--params", "--out", "--workdir"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    cfg = Config(**(QUICK if args.quick else {}))
    for name in (*_PAIRS, *_SCALARS):
        if (value := getattr(args, name)) is not None:
            setattr(cfg, name, tuple(value) if name in _PAIRS else value)
    if args.only:
        unknown = set(args.only.split(",")) - set(SECTIONS)
        if unknown:
            raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
        cfg.sections = tuple(s for s in SECTIONS if s in args.only.split(","))
    return cfg


# -- running --------------------------------------------------------------------------------------


def sized(sizes: Pair, one: Any) -> dict[str, Any]:
    """``{"sizes": [...], "<size>": one(size), ...}``: every figure at two sizes."""
    return {"sizes": list(sizes), **{str(size): one(size) for size in sizes}}


def steps(cfg: Config, ctx: common.Ctx, log: Any) -> dict[str, Any]:
    run_child = common.run_child
    return {
        "throughput": lambda: sized(cfg.lines, lambda n: bench_stream.throughput(ctx, log, n, cfg.reps)),
        "latency": lambda: sized(
            cfg.latency_rates, lambda rate: bench_stream.latency(ctx, log, rate, cfg.latency_seconds)
        ),
        "rss": lambda: bench_stream.rss_pair(ctx, run_child, cfg.rss_sizes),
        "fleet": lambda: {
            "rate": cfg.fleet_rate,
            "seconds": cfg.fleet_seconds,
            **sized(
                cfg.fleet_runs,
                lambda n: bench_fleet.fleet_pair(ctx, run_child, n, cfg.fleet_rate, cfg.fleet_seconds),
            ),
        },
        "fairness": lambda: {
            "lines": cfg.fairness_lines,
            **sized(
                cfg.fairness_triggers,
                lambda n: bench_fleet.fairness_run(ctx, run_child, n, cfg.fairness_lines),
            ),
        },
        "interpret": lambda: sized(
            cfg.tables, lambda n: bench_result.interpretation(ctx, n, cfg.interp_reps)
        ),
        "parse": lambda: bench_result.dag_parse(ctx, cfg.dag_operators, cfg.dag_reps),
        "taskgroup": lambda: sized(
            cfg.group_nodes, lambda n: bench_result.taskgroup_parse(n, cfg.group_reps)
        ),
        "watch_shapes": lambda: {
            "small": bench_watch.shapes(cfg.watch_small_models, cfg.watch_reps, str(cfg.watch_delay)),
            **sized(
                cfg.watch_models,
                lambda n: bench_watch.shapes(n, cfg.watch_reps, str(cfg.watch_delay)),
            ),
        },
        "watch_waiting": lambda: sized(
            cfg.waiting_triggers,
            lambda n: run_child(
                ctx,
                "watch_waiting",
                {"triggers": n, "seconds": cfg.waiting_seconds, "interval": 2.0},
                timeout=900,
            ),
        ),
        "watch_liveness": lambda: sized(
            cfg.liveness_models, lambda n: bench_watch.liveness(ctx, n, cfg.liveness_delay)
        ),
        "manifest": lambda: sized(
            cfg.manifest_nodes, lambda n: bench_manifest.manifest_parse(ctx.workdir, n, cfg.manifest_reps)
        ),
    }


def measure(cfg: Config, ctx: common.Ctx) -> None:
    log = common.task_logger(ctx.log_path("main")) if {"throughput", "latency"} & set(cfg.sections) else None
    todo = steps(cfg, ctx, log)
    for name in cfg.sections:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        cfg.results[name] = todo[name]()
        took = time.perf_counter() - started
        print(f"[bench] {name} done in {took:.1f}s", file=sys.stderr, flush=True)


# -- entry points ---------------------------------------------------------------------------------


def _terminate(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the finally blocks: they end every process we started


CHILDREN = {
    "rss": bench_stream.child_rss,
    "fleet": bench_fleet.child_fleet,
    "fairness": bench_fleet.child_fairness,
    "watch_waiting": bench_watch.child_waiting,
}


def child_main(args: argparse.Namespace) -> int:
    common.enter(Path(args.workdir))
    ctx = common.Ctx(Path(args.workdir))
    try:
        common.write_json(Path(args.out), CHILDREN[args.child](ctx, json.loads(args.params)))
    except BaseException:
        # Once task_logger has configured Airflow's logging, stderr goes to the task log: put the
        # traceback where run_child looks for it.
        with Path(args.out).with_suffix(".stderr").open("a") as err:
            traceback.print_exc(file=err)
        raise
    finally:
        common.kill_own_children()
    return 0


def run_all(cfg: Config, args: argparse.Namespace) -> bool:
    """Measure in a scratch directory; ``False`` when a process of the benchmark was left behind."""
    origin = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="rocky-bench-") as tmp:
        ctx = common.prepare(Path(tmp))
        try:
            if args.profile:
                import bench_profile

                bench_profile.main(ctx, min(cfg.lines[0], 50_000))
                return True
            measure(cfg, ctx)
        finally:
            common.kill_own_children()
            strays = common.stray_engines(ctx.workdir)
            for pid in strays:
                common.kill_tree(pid)
            print(f"[bench] processes left behind: {len(strays)}", file=sys.stderr)
            os.chdir(origin)
    return not strays


def main(argv: list[str]) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    cfg = make_config(args)
    started, load_before = time.perf_counter(), bench_report.load()
    clean = run_all(cfg, args)
    if args.profile:
        return 0
    text = bench_report.report(cfg.results, argv, time.perf_counter() - started, load_before)
    print(text)
    if args.readme if args.readme is not None else not args.quick:
        bench_report.write_readme(README, text)
        print(f"\n[bench] results written to {README}", file=sys.stderr)
    for goal in bench_report.goals(cfg.results):  # the last lines: one per target
        print(goal.line())
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
