"""Fleet benchmarks: one triggerer event loop supervising many deferred runs at once.

* ``fleet``: N concurrent runs (Airflow's default triggerer capacity is 1,000) of a minimal engine
  writing one tracing line per tick: N triggers (``RockyRunTrigger``, the triggerer's code path:
  ``EngineRun``, line rendering, event packing) on one loop vs ``RockyClient.run_cli`` on N threads.
* ``fairness``: a few triggers whose engines write as fast as they can share one loop; how late a
  10 ms ticker on that loop wakes up. No baseline: the target is absolute (p99 <= 50 ms, every line
  logged).

Each measurement runs in a fresh interpreter (:func:`bench_common.run_child`, kinds ``fleet`` and
``fairness`` of ``run.py``)::

    .venv/bin/python benchmarks/run.py --only fleet,fairness --fleet-runs 100 1000 --fleet-seconds 20
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench_common import (
    GLOBAL_FLAGS,
    RUN_ARGS,
    Ctx,
    cpu_seconds,
    patched_environ,
    peak_rss_mb,
    scenario_env,
    stray_engines,
    task_logger,
)
from bench_stream import Sinks, _summary

T = TypeVar("T")

_TICK = 0.01
_TIMEOUT_S = 3600
ENGINE_NAME = "rocky-mini"
#: A FIFO nobody writes to: ``read -t`` on it is a sleep without a fork (opened read-write, no EOF).
_SLEEP_FIFO = ".rocky-mini-sleep"
#: What each kind of engine line says (to count the lines that reached the task log file).
_TICK_MARK, _PROGRESS_MARK = b"tick ", b"progress "

# bash 5, builtins only after start-up: $EPOCHREALTIME is the clock, printf -v '%(...)T' formats it,
# read -t on the FIFO sleeps. @VERSION@ and @RESULT@ are the stand-in's own outputs.
_SCRIPT = r"""#!/usr/bin/env bash
# Minimal rocky for the fleet benchmark (benchmarks/bench_fleet.py): MINI_LINES_PER_SEC x MINI_SECONDS
# tracing lines on stderr, then the stand-in's success RunResult on stdout. argv is ignored.
for arg; do [[ $arg == --version ]] && { printf '%s\n' '@VERSION@'; exit 0; }; done
export TZ=UTC
milli() {  # a decimal number, in thousandths (bash has no floats)
  local int=${1%%.*} frac=
  [[ $1 == *.* ]] && frac=${1#*.}
  frac=${frac}000
  REPLY=$((10#${int:-0} * 1000 + 10#${frac:0:3}))
}
milli "${MINI_LINES_PER_SEC:-1}"; rate=$REPLY
milli "${MINI_SECONDS:-5}"; total=$((rate * REPLY / 1000000))
exec 3<>"${0%/*}/@FIFO@"
origin=${EPOCHREALTIME//[.,]/}
printf -v run_id 'run-%(%Y%m%d-%H%M%S)T-%03d' "${origin:0:-6}" "$((10#${origin: -6} / 1000))"
span="{\"run_id\":\"$run_id\",\"name\":\"run\"}"
line='{"timestamp":"%s","level":"INFO","fields":{"message":"tick %d t_ns=%s000","seq":%d,"t_ns":%s000},'
line+='"target":"rocky::run","span":%s,"spans":[%s]}\n'
for ((seq = 0; seq < total; seq++)); do
  wait_us=$((origin + seq * 1000000000 / rate - ${EPOCHREALTIME//[.,]/}))
  if ((wait_us > 0)); then
    printf -v secs '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000))
    read -r -t "$secs" -u 3
  fi
  now=${EPOCHREALTIME//[.,]/}
  printf -v stamp '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${now:0:-6}" "${now: -6}"
  printf "$line" "$stamp" "$seq" "$now" "$seq" "$now" "$span" "$span" >&2
done
printf '%s\n' '@RESULT@'
"""


# -- the minimal engine ---------------------------------------------------------------------------


def minimal_engine(ctx: Ctx) -> Path:
    """A bash ``rocky`` in ``ctx.workdir``: the fleet's engine (written once, reused by every child).

    Why bash: 1,000 Python stand-ins (~20 MB and ~0.2 s of CPU each to start) do not fit the machine,
    and the real engine is a native binary: bash starts like one, costs ~3 MB RSS (under 1 MB of it
    its own) per process, and its loop forks nothing per line (``$EPOCHREALTIME``, ``printf``,
    ``read -t`` as the sleep). It writes the stand-in's ``stream_rate`` tracing lines (``t_ns``
    included) to stderr and the stand-in's success ``RunResult`` to stdout, exits 0, and answers
    ``--version`` as the stand-in does (the provider's engine-version floor and rocky-sdk's gate ask).
    """
    script = ctx.workdir / ENGINE_NAME
    if script.exists():
        return script
    fifo = ctx.workdir / _SLEEP_FIFO
    if not fifo.exists():
        os.mkfifo(fifo)
    version = _quotable(_standin_says(ctx, ["--version"]))
    result = _quotable(_standin_says(ctx, [*GLOBAL_FLAGS, *RUN_ARGS]))
    text = _SCRIPT.replace("@FIFO@", _SLEEP_FIFO).replace("@VERSION@", version).replace("@RESULT@", result)
    partial = script.with_suffix(".partial")
    partial.write_text(text)
    partial.chmod(0o755)
    partial.replace(script)  # atomic: a concurrent reader never sees half a script
    return script


def _standin_says(ctx: Ctx, args: Sequence[str]) -> str:
    """The stand-in's stdout for ``args`` in the ``success`` scenario: the shapes the script copies."""
    done = subprocess.run(
        [str(ctx.rocky), *args],
        cwd=ctx.workdir,
        env={**os.environ, **scenario_env("success")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        start_new_session=True,
    )
    return done.stdout.strip()


def _quotable(text: str) -> str:
    """``text`` as it may sit between single quotes in bash (anything but a quote)."""
    if "'" in text:
        raise ValueError(f"the stand-in's output holds a single quote; cannot embed it: {text[:200]!r}")
    return text


def mini_env(rate: float, seconds: float) -> dict[str, str]:
    """The minimal engine's knobs; decimals with three places, which is what its ``milli`` reads."""
    return {"MINI_LINES_PER_SEC": f"{rate:.3f}", "MINI_SECONDS": f"{seconds:.3f}"}


def engine_argv(engine: Path) -> tuple[str, ...]:
    """The argv of one run, as rocky-sdk and the provider both build it."""
    return (str(engine), *GLOBAL_FLAGS, *RUN_ARGS)


# -- child set-up ---------------------------------------------------------------------------------


def raise_nofile() -> int:
    """Soft ``RLIMIT_NOFILE`` up to the hard limit: 1,000 runs hold ~3,000 descriptors (provider:
    two pipes and a pidfd each; rocky-sdk: two pipes), past the common soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def private_cache(ctx: Ctx) -> None:
    """The provider caches ``rocky --version`` under ``$XDG_CACHE_HOME``: keep it in the scratch dir."""
    os.environ["XDG_CACHE_HOME"] = str(ctx.workdir / "xdg-cache")


def logged(path: Path, mark: bytes) -> int:
    """Engine lines that reached the task log file (records holding ``mark``); the file is removed."""
    with path.open("rb") as log:
        count = sum(1 for record in log if mark in record)
    path.unlink()
    return count


# -- tickers --------------------------------------------------------------------------------------


async def _loop_ticker(lags: list[float], finished: asyncio.Event) -> None:
    while not finished.is_set():
        start = time.perf_counter()
        await asyncio.sleep(_TICK)
        lags.append(time.perf_counter() - start - _TICK)


async def ticked(work: Callable[[], Awaitable[T]]) -> tuple[T, float, float, list[float]]:
    """``work()`` beside a 10 ms ticker on the same loop: its result, wall s, CPU s, the lags (s)."""
    lags: list[float] = []
    finished = asyncio.Event()
    tick = asyncio.create_task(_loop_ticker(lags, finished))
    await asyncio.sleep(0.2)  # the ticker is running before the first spawn
    cpu0, started = cpu_seconds(), time.perf_counter()
    result = await work()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    finished.set()
    await tick
    return result, wall, cpu, lags


def thread_ticked(work: Callable[[], T]) -> tuple[T, float, float, list[float]]:
    """:func:`ticked` for threads: a 10 ms ticker thread beside ``work()``."""
    lags: list[float] = []
    finished = threading.Event()

    def ticker() -> None:
        while not finished.is_set():
            start = time.perf_counter()
            time.sleep(_TICK)
            lags.append(time.perf_counter() - start - _TICK)

    tick = threading.Thread(target=ticker, name="ticker", daemon=True)
    tick.start()
    time.sleep(0.2)
    cpu0, started = cpu_seconds(), time.perf_counter()
    result = work()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    finished.set()
    tick.join()
    return result, wall, cpu, lags


# -- the provider side: RockyRunTriggers on one loop ----------------------------------------------


def make_trigger(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> Any:
    """A trigger as a deferring ``RockyOperator`` builds it: the engine floor checked, a deadline set."""
    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.version import MIN_ENGINE_VERSION
    from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

    command = RockyCommand(argv=tuple(argv), env=dict(env), cwd=cwd)
    limits = {"deadline": time.time() + _TIMEOUT_S, "min_engine_version": MIN_ENGINE_VERSION}
    return RockyRunTrigger(command.serialize(), **limits)


async def fire(trigger: Any) -> dict[str, Any]:
    """What the triggerer does with a trigger: take its one event, close it, clean it up."""
    events = trigger.run()
    try:
        event = await anext(events)
    finally:
        await events.aclose()
        await trigger.cleanup()
    payload: dict[str, Any] = event.payload
    return payload


def run_failed(payload: object) -> bool:
    """Not the engine's success: an exception, a refusal, no start, a non-zero exit, no ``Success``."""
    from airflow_provider_rocky._task import wire

    if isinstance(payload, BaseException):
        return True
    finished = wire.unpack(payload)
    if not isinstance(finished, wire.Finished) or finished.outcome.exit_code != 0:
        return True
    return not succeeded(finished.outcome.stdout)


def succeeded(stdout: str | bytes) -> bool:
    """Does stdout hold a RunResult whose status is ``Success``?"""
    try:
        return bool(json.loads(stdout).get("status") == "Success")
    except (ValueError, AttributeError):
        return False


async def triggers_on_one_loop(
    ctx: Ctx, argvs: Sequence[Sequence[str]], env: Mapping[str, str], warm_env: Mapping[str, str]
) -> dict[str, Any]:
    """One trigger per argv, fired together beside the ticker, after one untimed warm-up trigger.

    The warm-up takes imports, the spawn threads, the reaper and the ``rocky --version`` cache (a
    triggerer that ran rocky before has it on disk) out of the measurement.
    """
    cwd, runs = str(ctx.workdir), len(argvs)
    if run_failed(await fire(make_trigger(argvs[0], warm_env, cwd))):
        raise RuntimeError("the warm-up trigger failed")
    triggers = [make_trigger(argv, env, cwd) for argv in argvs]
    before = peak_rss_mb()

    async def work() -> list[Any]:
        return await asyncio.gather(*(fire(trigger) for trigger in triggers), return_exceptions=True)

    payloads, wall, cpu, lags = await ticked(work)
    left = len(stray_engines(ctx.workdir))  # the runs returned; nothing cleaned up yet
    lines = sum(p["outcome"]["stderr_lines"] for p in payloads if not isinstance(p, BaseException))
    failed = sum(run_failed(payload) for payload in payloads)
    return {**_summary(wall, cpu, lags, failed), "stderr_lines": lines, **_memory(before, runs, left)}


def _memory(before: float, runs: int, left: int) -> dict[str, Any]:
    peak = peak_rss_mb()
    per_run = (peak - before) / runs if runs else 0.0
    return {"peak_rss_mb": peak, "rss_before_mb": before, "mb_per_run": per_run, "processes_left": left}


# -- the baseline side: run_cli on threads --------------------------------------------------------


def sdk_client(engine: Path) -> Any:
    """A RockyClient over the minimal engine whose one-off ``--version`` check has run (untimed)."""
    from rocky_sdk import RockyClient

    client = RockyClient(binary_path=str(engine), config_path="rocky.toml", timeout_seconds=_TIMEOUT_S)
    with patched_environ(mini_env(1, 0)):
        client.run_cli(list(RUN_ARGS), allow_partial=True, log_callback=lambda _line: None)
    return client


def sdk_runs(client: Any, sinks: list[Sinks]) -> list[str | BaseException]:
    """One ``run_cli`` per sink, each on its own thread, all started together; stdout or the error."""
    results: list[str | BaseException] = [""] * len(sinks)

    def one(index: int) -> None:
        try:
            results[index] = client.run_cli(list(RUN_ARGS), allow_partial=True, log_callback=sinks[index].sdk)
        except BaseException as err:  # counted, reported as a failed run
            results[index] = err

    threads = [threading.Thread(target=one, args=(index,), daemon=True) for index in range(len(sinks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def sdk_fleet(ctx: Ctx, engine: Path, env: Mapping[str, str], runs: int, log: Any) -> dict[str, Any]:
    """rocky-sdk's way to supervise ``runs`` runs at once: a thread per ``run_cli`` (it adds three)."""
    client = sdk_client(engine)
    sinks = [Sinks(log) for _ in range(runs)]  # one per run: no counter shared between threads
    before = peak_rss_mb()
    with patched_environ(env):
        results, wall, cpu, lags = thread_ticked(lambda: sdk_runs(client, sinks))
    left = len(stray_engines(ctx.workdir))
    failed = sum(isinstance(out, BaseException) or not succeeded(out) for out in results)
    lines = sum(sink.lines for sink in sinks)
    return {**_summary(wall, cpu, lags, failed), "stderr_lines": lines, **_memory(before, runs, left)}


# -- children (each in a fresh interpreter) -------------------------------------------------------


def child_fleet(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """``runs`` concurrent minimal-engine runs of ``rate`` lines/s for ``seconds``, one side."""
    side, runs = params["side"], int(params["runs"])
    nofile = raise_nofile()
    private_cache(ctx)
    engine = minimal_engine(ctx)
    log_file = ctx.log_path(f"fleet-{side}")
    log = task_logger(log_file)
    env = mini_env(params["rate"], params["seconds"])
    if side == "provider":
        argvs = [engine_argv(engine)] * runs  # it takes no state lock: one argv for all
        result = asyncio.run(triggers_on_one_loop(ctx, argvs, env, mini_env(1, 0)))
    else:
        result = sdk_fleet(ctx, engine, env, runs, log)
    expected = runs * int(params["rate"] * params["seconds"])
    ticks = logged(log_file, _TICK_MARK)
    return {**result, "expected_lines": expected, "logged_lines": ticks, "nofile": nofile}


def child_fairness(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """``triggers`` stand-in runs of ``lines`` lines each, written as fast as it can, on one loop."""
    triggers, lines = int(params["triggers"]), int(params["lines"])
    raise_nofile()
    private_cache(ctx)
    log_file = ctx.log_path("fairness")
    task_logger(log_file)
    env, warm = scenario_env("many_lines", LINES=lines), scenario_env("many_lines", LINES=0)
    argvs = [standin_argv(ctx, index) for index in range(triggers)]
    result = asyncio.run(triggers_on_one_loop(ctx, argvs, env, warm))
    progress = logged(log_file, _PROGRESS_MARK)
    return {
        **result,
        "expected_lines": triggers * lines,
        "logged_lines": progress,
        "lines_per_s": progress / result["wall_s"],
    }


def standin_argv(ctx: Ctx, index: int) -> tuple[str, ...]:
    """``ctx.argv`` with a state file of its own: the stand-in holds the engine's single-writer lock
    on it for the whole run, so runs sharing one fail fast (``state store ... is locked``)."""
    flags = list(GLOBAL_FLAGS)
    flags[flags.index("--state-path") + 1] = f".rocky-state-{index}.redb"
    return (str(ctx.rocky), *flags, *RUN_ARGS)


# -- what the driver calls ------------------------------------------------------------------------

RunChild = Callable[..., dict[str, Any]]


def fleet_pair(ctx: Ctx, run_child: RunChild, runs: int, rate: float, seconds: float) -> dict[str, Any]:
    """Both sides of ``fleet``, the provider first, each in its own fresh process."""
    out: dict[str, Any] = {"runs": runs, "rate": rate, "seconds": seconds}
    for side in ("provider", "sdk"):
        params = {"side": side, "runs": runs, "rate": rate, "seconds": seconds}
        out[side] = run_child(ctx, "fleet", params, timeout=seconds * 10 + 600)
    return out


def fairness_run(ctx: Ctx, run_child: RunChild, triggers: int, lines: int) -> dict[str, Any]:
    params = {"triggers": triggers, "lines": lines}
    return {**params, **run_child(ctx, "fairness", params, timeout=1800)}
