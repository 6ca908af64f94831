"""The stand-in ``rocky`` executable (console script ``rocky-standin``; ``python -m`` this module).

It behaves like rocky 1.71.0 for the scenario named in ``ROCKY_STANDIN_SCENARIO`` (see
``scenarios.py``): same argv, same stdout JSON, same stderr lines, same exit codes and signal
handling as the contract in ``rocky-contract.md`` describes.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from airflow_provider_rocky.testing._standin import (
    doctor,
    fail_nodes,
    gates,
    init,
    plans,
    project,
    seeds,
    sources,
)
from airflow_provider_rocky.testing._standin.cli import Invocation, parse_argv
from airflow_provider_rocky.testing._standin.config import load_config
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.flags import EarlyExit, UsageError
from airflow_provider_rocky.testing._standin.record import Recorder
from airflow_provider_rocky.testing._standin.run_command import run_command
from airflow_provider_rocky.testing._standin.settings import (
    ENV_SCENARIO,
    SETUP_ERROR_EXIT,
    KnobError,
    Knobs,
    read_knobs,
)
from airflow_provider_rocky.testing._standin.signals import Interrupts
from airflow_provider_rocky.testing._standin.tracing import StderrLog, new_run_id, write_fd
from airflow_provider_rocky.testing._standin.validation import parse_vars
from airflow_provider_rocky.testing.scenarios import SCENARIO_NAMES, SCENARIOS

PANIC_EXIT = 101


def _output_format(inv: Invocation) -> str:
    """``--output``, else ``table`` on a TTY and ``json`` otherwise (``resolve_output``)."""
    if inv.output is not None:
        return inv.output
    return "table" if os.isatty(1) else "json"


def _dispatch(inv: Invocation, run: RunEnv) -> Outcome:
    version = run.knobs.engine.version
    if inv.command in ("compile", "test", "ci"):
        parse_vars(inv.get("var"))  # main.rs: RunVars::parse_pairs before the command runs (exit 1)
    if inv.command == "doctor":
        return Outcome(doctor.doctor(inv, run.scenario, run.cwd, run.log, run.output_format))
    if inv.command in _GATES:
        return Outcome(_GATES[inv.command](inv, run.scenario, run.cwd, run.log, run.output_format, version))
    if inv.command in _OTHERS:
        return _OTHERS[inv.command](run)
    return run_command(run)


def _dag(run: RunEnv) -> Outcome:
    """``rocky dag`` (``_standin/project.py``): the demo project's graph, in a project only."""
    load_config(run.inv.config, run.cwd)  # dag.rs loads the config first: no rocky.toml, exit 1
    return Outcome(
        project.dag_command(run.inv, run.scenario, run.log, run.output_format, run.knobs.engine.version)
    )


def _init(run: RunEnv) -> Outcome:
    """``rocky init`` (``_standin/init.py``)."""
    return Outcome(init.init(run.inv, run.cwd))


#: The gate commands (``_standin/gates.py``), and the commands that take the whole run environment.
_GATES = {"compile": gates.compile_models, "test": gates.test_models, "ci": gates.ci}
_OTHERS: dict[str, Callable[[RunEnv], Outcome]] = {
    "plan": plans.plan,
    "apply": plans.apply,
    "discover": sources.discover,
    "freshness": sources.freshness,
    "dag": _dag,
    "seed": seeds.seed,
    "init": _init,
}


def run_engine(argv: Sequence[str]) -> int:
    """Run one invocation and return the process exit code (the end event is recorded here)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # Rust default dispositions until a handler is installed
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # rocky resets SIGPIPE: a closed stdout kills it (141)
    try:
        knobs = read_knobs()
        fail_nodes.parse(os.environ.get(fail_nodes.ENV_FAIL_NODES, ""))
    except KnobError as exc:
        write_fd(2, f"Error: [rocky stand-in] {exc}\n".encode())
        return SETUP_ERROR_EXIT
    recorder = Recorder(knobs.record_path)
    recorder.append(
        {
            "event": "start",
            "argv": list(argv),
            "executable": sys.argv[0] if sys.argv else "",
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "ppid": os.getppid(),  # who supervised it: a worker's task process, or the triggerer
            "pgid": os.getpgid(0),
            "scenario": knobs.scenario,
            "time": time.time(),
        }
    )
    outcome = _run(argv, knobs, recorder)
    recorder.append(
        {
            "event": "end",
            "pid": os.getpid(),
            "exit_code": outcome.exit_code,
            "status": outcome.status,
            "time": time.time(),  # with the start's: how long the engine held what it opened
        }
    )
    return outcome.exit_code


def _run(argv: Sequence[str], knobs: Knobs, recorder: Recorder) -> Outcome:
    scenario = SCENARIOS.get(knobs.scenario)
    if scenario is None:
        write_fd(
            2,
            f"Error: [rocky stand-in] unknown {ENV_SCENARIO} '{knobs.scenario}' "
            f"(known: {', '.join(SCENARIO_NAMES)})\n".encode(),
        )
        return Outcome(SETUP_ERROR_EXIT)
    try:
        inv = parse_argv(argv, knobs.engine.version, os.environ)
    except EarlyExit as exc:
        write_fd(1, exc.text.encode())
        return Outcome(0)
    except UsageError as exc:
        write_fd(2, exc.render().encode())
        return Outcome(2)
    output_format = _output_format(inv)
    log = StderrLog(
        json_mode=output_format == "json", run_id=new_run_id(), rust_log=os.environ.get("RUST_LOG")
    )
    run = RunEnv(
        inv=inv,
        scenario=scenario,
        knobs=knobs,
        env=dict(os.environ),
        cwd=Path.cwd(),
        log=log,
        recorder=recorder,
        interrupts=Interrupts(),
        output_format=output_format,
    )
    try:
        return _dispatch(inv, run)
    except UsageError as exc:
        write_fd(2, exc.render().encode())
        return Outcome(2)
    except CommandError as exc:
        log.plain(exc.render())
        return Outcome(exc.exit_code)
    except Exception as exc:  # a stand-in bug: report it the way a Rust panic would (exit 101)
        detail = "".join(traceback.format_exception(exc))
        write_fd(
            2,
            f"thread 'main' panicked at airflow_provider_rocky/testing (stand-in bug):\n{exc!r}\n"
            f"note: stand-in traceback follows\n{detail}".encode(),
        )
        return Outcome(PANIC_EXIT)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: ``rocky-standin [rocky args...]``."""
    return run_engine(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
