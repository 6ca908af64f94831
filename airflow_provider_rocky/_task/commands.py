"""The engine commands a task can declare, each over the one shared engine-run path.

A command is a declaration: its arguments (which give the argv, the operator's templated fields and
the names ``start_from_trigger`` carries), its interpreter (what its stdout and exit code mean), its
summary and report, and two switches. Spawning, supervision, both modes, the trigger and the wire
format are the same code for every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import flag_names, task_template_fields
from airflow_provider_rocky._engine.args.dag_run import DagRunArgs
from airflow_provider_rocky._engine.args.gates import CiArgs, CompileArgs, DoctorArgs, FreshnessArgs, TestArgs
from airflow_provider_rocky._engine.args.plan import ApplyArgs, PlanArgs
from airflow_provider_rocky._engine.args.run import RunArgs
from airflow_provider_rocky._engine.args.seed import SeedArgs
from airflow_provider_rocky._engine.args.sources import DiscoverArgs
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.version import MIN_ENGINE_VERSION
from airflow_provider_rocky._verdict import (
    dag_run,
    doctor,
    gates,
    interpret,
    plan,
    report,
    seed,
    sources,
    summary,
)
from airflow_provider_rocky._verdict import gate_summary as gs
from airflow_provider_rocky._verdict.interpret import Verdict

Summarize = Callable[[Verdict, PipesRecord | None], dict[str, Any]]
Report = Callable[[Verdict, PipesRecord | None], list[tuple[str, bool]]]


@dataclass(frozen=True)
class CommandSpec:
    """One Rocky command as a task declares it."""

    name: str
    #: Its arguments dataclass: ``coerce(**rendered)``, ``check_shape(**raw)``, ``validate()``, ``argv()``.
    args: type[Any]
    #: ``interpret(outcome, *, command, binary, max_stdout_bytes, **options) -> Verdict``; never raises.
    interpret: Callable[..., Verdict]
    summarize: Summarize
    report: Report
    #: The trigger asks again while another copy of the try holds the idempotency key.
    reask_in_flight: bool = False
    #: A successful run's materializations become asset events.
    emits_assets: bool = False
    #: The oldest engine that has this command (refused before the run on older ones).
    min_engine_version: str = MIN_ENGINE_VERSION

    @property
    def templated(self) -> tuple[str, ...]:
        """The operator's ``template_fields``: the argument values, ``env_vars``, the setting overrides."""
        return task_template_fields(self.args)

    @property
    def flags(self) -> tuple[str, ...]:
        """The boolean arguments, fixed at DAG parse time."""
        return flag_names(self.args)


COMMANDS: dict[str, CommandSpec] = {}


def register(spec: CommandSpec) -> CommandSpec:
    """Make ``spec`` known by name (what a ``start_from_trigger`` row names)."""
    COMMANDS[spec.name] = spec
    return spec


def command(name: str) -> CommandSpec:
    """The declared command ``name``; a row naming another is refused as a usage error upstream."""
    return COMMANDS[name]


RUN = register(
    CommandSpec(
        "run",
        RunArgs,
        interpret.interpret,
        summary.build,
        report.report,
        reask_in_flight=True,
        emits_assets=True,
    )
)

DOCTOR = register(
    CommandSpec("doctor", DoctorArgs, doctor.interpret_doctor, gs.doctor_summary, gs.doctor_report)
)
COMPILE = register(
    CommandSpec("compile", CompileArgs, gates.interpret_compile, gs.compile_summary, gs.compile_report)
)
TEST = register(CommandSpec("test", TestArgs, gates.interpret_test, gs.test_summary, gs.test_report))
CI = register(CommandSpec("ci", CiArgs, gates.interpret_ci, gs.ci_summary, gs.ci_report))
#: ``rocky freshness`` appeared with the engines dagster-rocky 1.74 targets.
FRESHNESS = register(
    CommandSpec(
        "freshness",
        FreshnessArgs,
        gates.interpret_freshness,
        gs.freshness_summary,
        gs.freshness_report,
        min_engine_version="1.74.0",
    )
)
PLAN = register(CommandSpec("plan", PlanArgs, plan.interpret_plan, gs.plan_summary, gs.plan_report))
#: ``rocky apply <plan_id>`` of a run plan prints a run's result: read, reported and emitted as a run.
APPLY = register(
    CommandSpec("apply", ApplyArgs, interpret.interpret, summary.build, report.report, emits_assets=True)
)
#: ``rocky discover``: what the source-sync trigger polls (no operator of its own).
DISCOVER = register(
    CommandSpec(
        "discover",
        DiscoverArgs,
        sources.interpret_discover,
        sources.discover_summary,
        sources.discover_report,
    )
)
#: ``rocky seed --filter <seed>``: a seed node of a project (``RockySeedOperator``).
SEED = register(
    CommandSpec("seed", SeedArgs, seed.interpret_seed, seed.seed_summary, seed.seed_report, emits_assets=True)
)
#: ``rocky run --dag``: the whole project, run by the engine (``RockyRunDagOperator``, ``shape="one_run"``).
RUN_DAG = register(
    CommandSpec(
        "run_dag",
        DagRunArgs,
        dag_run.interpret_dag_run,
        dag_run.dag_run_summary,
        dag_run.dag_run_report,
        emits_assets=True,
    )
)
