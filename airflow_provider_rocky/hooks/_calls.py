"""``RockyHook``'s command methods: each Rocky command as one call, sync and async.

The dbt Cloud provider's hook has a method per API call; here each engine command is one, over the
same declarations the operators use (``_task/commands.py``): the same argument names and checks, the
same argv, the same supervised engine run, the same interpreter, the same end-of-run report in the
log. A call returns what the engine printed, parsed with rocky-sdk's model (``DoctorResult``,
``RunResult``...), and raises the taxonomy's error when the command failed, so a ``@task`` can branch
on a doctor's warnings or read a plan before deciding what to do.

Choices:

* **Arguments** are the operator's names (``checks=``, ``filter=``, ``plan_id=``...); an unknown
  name is a usage error naming the nearest known one, before anything runs.
* **Lines** stream to the hook's logger at their level (the task log, inside a task), or to
  ``on_line``.
* **The sync methods** run the engine on a private event loop (so not from inside a running loop:
  use the ``a``-prefixed method there). In the main thread, a SIGTERM during the call (Airflow
  stopping the task) ends the engine's process group before the previous handler runs: a ``@task``
  has no ``on_kill`` that would.
* **No Pipes, no idempotency key, no audit environment**: those belong to a task's try
  (the operators); pass ``idempotency_key=`` yourself where a command takes one.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from types import FrameType
from typing import Any, Protocol

from airflow_provider_rocky._engine.args.base import from_operator, operator_name
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.logsink import log_sink
from airflow_provider_rocky._engine.run import EngineRun, RunLimits, RunRecord
from airflow_provider_rocky._engine.stderr import LogLine
from airflow_provider_rocky._task.commands import COMMANDS, CommandSpec
from airflow_provider_rocky.exceptions import RockyUsageError

#: Seconds the engine gets between SIGTERM and SIGKILL when the calling task is being stopped
#: (Airflow SIGKILLs the task 5 s after its SIGTERM).
SIGTERM_GRACE_SECONDS = 3.0


class Log(Protocol):
    """What is needed of a logger (the hook's is structlog-backed on newer Airflow)."""

    def log(self, level: int, msg: str, /) -> Any: ...


class Hook(Protocol):
    """What the calls need of ``RockyHook`` (a protocol: the hook module imports this one)."""

    @property
    def log(self) -> Any: ...

    def build_command(self, args: Any, env_vars: Mapping[str, str] | None = None) -> RockyCommand: ...

    async def aget_settings(self) -> Any: ...


@dataclass(frozen=True)
class Call:
    """One command call made concrete: what runs, under which limits, and how it is read."""

    spec: CommandSpec
    command: RockyCommand
    limits: RunLimits
    options: dict[str, Any]


def prepare(
    hook: Hook,
    name: str,
    arguments: Mapping[str, Any],
    *,
    env_vars: Mapping[str, str] | None,
    timeout_seconds: float | None,
    fail_on_partial: bool,
) -> Call:
    """Validate the arguments and build the command (raises ``RockyUsageError`` & co. first)."""
    spec = COMMANDS[name]
    _check_names(spec, name, arguments)
    args = spec.args.coerce(**from_operator(spec.args, dict(arguments)))
    command = hook.build_command(args, {str(k): str(v) for k, v in (env_vars or {}).items()})
    deadline = time.time() + float(timeout_seconds) if timeout_seconds else None
    limits = RunLimits(
        deadline=deadline,
        deadline_reason=f"timeout_seconds={float(timeout_seconds):g}" if timeout_seconds else None,
        min_engine_version=spec.min_engine_version,
    )
    return Call(spec, command, limits, _options(spec, args, fail_on_partial))


def _check_names(spec: CommandSpec, name: str, arguments: Mapping[str, Any]) -> None:
    known = [operator_name(f) for f in fields(spec.args)]
    for given in arguments:
        if given not in known:
            near = difflib.get_close_matches(given, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; it takes {', '.join(known) or 'none'}"
            raise RockyUsageError(f"RockyHook.{name}() got an unknown argument {given!r}{hint}")


def _options(spec: CommandSpec, args: Any, fail_on_partial: bool) -> dict[str, Any]:
    """What the interpreter needs beyond the outcome: the gating checks, ``fail_on_partial``."""
    takes = inspect.signature(spec.interpret).parameters
    options: dict[str, Any] = {}
    if "fail_on_partial" in takes:
        options["fail_on_partial"] = fail_on_partial
    if "checks" in takes:
        options["checks"] = list(getattr(args, "names", ()))
    return options


def decide(call: Call, record: RunRecord, log: Log) -> Any:
    """The interpreter's verdict: the end-of-run report logged, the result returned or the error raised."""
    verdict = call.spec.interpret(
        record.outcome,
        command=call.command.redacted(),
        binary=call.command.argv[0],
        max_stdout_bytes=call.limits.max_stdout_bytes,
        **call.options,
    )
    for text, is_warning in call.spec.report(verdict, record.pipes):
        log.log(logging.WARNING if is_warning else logging.INFO, text)
    if verdict.error is not None:
        raise verdict.error
    return verdict.result


def line_sink(log: Log, on_line: Callable[[LogLine], None] | None) -> Callable[[LogLine], None]:
    """Where the engine's lines go: ``on_line``, else the hook's logger at each line's level."""
    return on_line if on_line is not None else log_sink(log)


def run_sync(run: EngineRun) -> RunRecord:
    """Run on a private loop; a SIGTERM meanwhile (main thread) ends the engine's group first."""
    with _ends_on_sigterm(run):
        return run.run_in_task()


@contextmanager
def _ends_on_sigterm(run: EngineRun) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield
        return

    def stop_then_pass_on(signum: int, frame: FrameType | None) -> None:
        run.kill_now(SIGTERM_GRACE_SECONDS)
        if callable(previous):
            previous(signum, frame)
        else:  # the default disposition: die of the signal, as without us
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_then_pass_on)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def command_methods(name: str, summary: str, *positional: str) -> tuple[Any, Any]:
    """The sync and the async method of one command: ``run_command(name, ...)``, named and documented.

    ``positional`` names the arguments that may also be passed by position (``apply(plan_id)``).
    """

    def named(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > len(positional):
            raise TypeError(f"{name}() takes {len(positional)} positional argument(s), got {len(args)}")
        return {**dict(zip(positional, args, strict=False)), **kwargs}

    def call(self: RockyCommandMethods, *args: Any, **kwargs: Any) -> Any:
        return self.run_command(name, **named(args, kwargs))

    async def acall(self: RockyCommandMethods, *args: Any, **kwargs: Any) -> Any:
        return await self.arun_command(name, **named(args, kwargs))

    for method, method_name, doc in ((call, name, summary), (acall, f"a{name}", f"Async :meth:`{name}`.")):
        method.__name__ = method.__qualname__ = method_name
        method.__doc__ = doc
    return call, acall


class RockyCommandMethods:
    """The command methods of ``RockyHook`` (mixed in; see the module docstring).

    Each takes the command's operator arguments by name, plus ``env_vars``, ``timeout_seconds`` and
    ``on_line``; ``run`` and ``apply`` also ``fail_on_partial``. Returns the parsed result.
    """

    def _hook(self) -> Hook:
        return self  # type: ignore[return-value]  # only ever mixed into RockyHook

    def run_command(
        self,
        command: str,
        /,
        *,
        env_vars: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        on_line: Callable[[LogLine], None] | None = None,
        fail_on_partial: bool = False,
        **arguments: Any,
    ) -> Any:
        """Run ``rocky <command>`` here and now (blocking); the result, or the taxonomy's error."""
        log = self._hook().log
        call = self._prepare(command, arguments, env_vars, timeout_seconds, fail_on_partial)
        record = run_sync(EngineRun(call.command, call.limits, line_sink(log, on_line)))
        return decide(call, record, log)

    async def arun_command(
        self,
        command: str,
        /,
        *,
        env_vars: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        on_line: Callable[[LogLine], None] | None = None,
        fail_on_partial: bool = False,
        **arguments: Any,
    ) -> Any:
        """:meth:`run_command` on the running loop (the connection is looked up off the loop)."""
        hook = self._hook()
        await hook.aget_settings()
        call = self._prepare(command, arguments, env_vars, timeout_seconds, fail_on_partial)
        record = await EngineRun(call.command, call.limits, line_sink(hook.log, on_line)).run()
        return decide(call, record, hook.log)

    def _prepare(
        self,
        command: str,
        arguments: Mapping[str, Any],
        env_vars: Mapping[str, str] | None,
        timeout_seconds: float | None,
        fail_on_partial: bool,
    ) -> Call:
        if command not in COMMANDS:
            raise RockyUsageError(f"unknown rocky command {command!r}; one of {', '.join(sorted(COMMANDS))}")
        return prepare(
            self._hook(),
            command,
            arguments,
            env_vars=env_vars,
            timeout_seconds=timeout_seconds,
            fail_on_partial=fail_on_partial,
        )

    # -- one pair of methods per command (declared: the same call, named) ------------------------

    run, arun = command_methods(
        "run", "``rocky run`` (``filter=``, ``run_models=``, ``partition=``...) → ``RunResult``."
    )
    doctor, adoctor = command_methods(
        "doctor",
        "``rocky doctor`` (``checks=``) → ``DoctorResult``; a critical check raises ``RockyHealthError``.",
    )
    compile, acompile = command_methods(
        "compile", "``rocky compile`` (``model=``, ``contracts=``...) → ``CompileResult``; errors raise."
    )
    test, atest = command_methods(
        "test", "``rocky test`` → ``TestResult``; failed tests raise ``RockyTestFailure``."
    )
    ci, aci = command_methods("ci", "``rocky ci`` (compile, then test) → ``CiResult``.")
    freshness, afreshness = command_methods(
        "freshness", "``rocky freshness`` (engine 1.74+); a stale source raises ``RockyFreshnessError``."
    )
    plan, aplan = command_methods(
        "plan", "``rocky plan`` (a run's selection, ``env=``) → the plan and its ``plan_id``."
    )
    apply, aapply = command_methods(
        "apply",
        "``rocky apply <plan_id>`` (``expect_spec_digest=``) → ``RunResult``, read like a run.",
        "plan_id",
    )
    seed, aseed = command_methods(
        "seed",
        "``rocky seed --filter <seed>`` (``seed=``, ``pipeline=``, ``seeds_dir=``) → ``SeedOutput``.",
        "seed",
    )
    run_dag, arun_dag = command_methods(
        "run_dag", "``rocky run --dag`` (the partition selection, ``parallel=``) → ``DagRunOutput``."
    )
    discover, adiscover = command_methods(
        "discover", "``rocky discover`` (``pipeline=``) → ``DiscoverResult`` (sources, ``last_sync_at``)."
    )
