"""Every command line the provider can build is one the engine (1.71, clap 4.6) accepts.

The argument space of every declared command (``_task/commands.py``), under several connection
settings, and every task a ``RockyTaskGroup`` renders (each node kind, both shapes, the partition
modes, shadow, state isolation), is built into argv exactly as a task builds it. Each argv the
provider accepts goes through the stand-in's strict parser (``testing/_standin/cli.py``: clap's
conflicts, requires, value parsers, subcommands, environment) and, for ``rocky run``, the engine's
argv-only runtime refusals (``testing/_standin/validation.py``). A command the engine would refuse
fails the test, naming it. Combinations the provider refuses before spawning are counted too.

``test_the_argument_space_is_covered`` says how many distinct command shapes (subcommand and flag
names, values left out) were covered, and fails if an argument of a command was never set.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._engine.args.base import from_operator
from airflow_provider_rocky._engine.args.gates import TARGET_DIALECTS
from airflow_provider_rocky._engine.command import RockySettings, build_command, flag_of
from airflow_provider_rocky._task.commands import COMMANDS
from airflow_provider_rocky._task.request import LITERAL
from airflow_provider_rocky.exceptions import RockyError
from airflow_provider_rocky.testing._standin.cli import parse_argv
from airflow_provider_rocky.testing._standin.config import ProjectConfig
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.flags import SUBCOMMANDS, UsageError
from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes
from airflow_provider_rocky.testing._standin.validation import check_run

SETTINGS = (
    RockySettings(),
    RockySettings(config_path="conf/rocky.toml", state_namespace="tenant_a", models_dir="src/models"),
    RockySettings(state_path="/var/rocky/state.redb"),
)
PARTITIONS: tuple[dict[str, Any], ...] = (
    {},
    {"partition": "2026-04-07"},
    {"partition_from": "2026-04-01", "partition_to": "2026-04-07"},
    {"latest": True},
    {"missing": True},
    {"latest": True, "missing": True},
    {"partition_from": "2026-04-01", "partition_to": "2026-04-07", "latest": True},
    {"partition": "2026-04-07", "missing": True},
    {"partition_from": "2026-04-01"},
)
TUNING: tuple[dict[str, Any], ...] = ({}, {"lookback": 2}, {"parallel": 3}, {"lookback": 0, "parallel": 1})
SELECTIONS: tuple[dict[str, Any], ...] = (
    {},
    {"filter": "tenant=acme"},
    {"filter": "id=conn_1=x", "pipeline": "raw"},
    {"run_models": True},
    {"run_models": True, "pipeline": "raw"},
    {"model": "fct_orders"},
    {"model": "fct_orders", "pipeline": "marts"},
    {"governance_override": {"workspace_ids": [{"id": 7, "binding_type": "READ_ONLY"}]}},
)
EXTRAS: tuple[dict[str, Any], ...] = (
    {},
    {"shadow_suffix": "_pr42"},
    {"idempotency_key": "dag/run/task/1"},
    {"defer": True},
    {"defer": True, "defer_to": "prod"},
    {"defer_to": "prod"},
    {"resume_latest": True},
    {"resume_latest": True, "shadow_suffix": "_pr42", "parallel": 2},
    {"resume_latest": True, "idempotency_key": "k"},
)


def _space() -> Iterator[tuple[str, dict[str, Any]]]:
    """(command name, field values) over each command's argument space."""
    for sel, part, tune, extra in itertools.product(SELECTIONS, PARTITIONS, TUNING, EXTRAS):
        yield "run", {**sel, **part, **tune, **extra}
    for sel, part, tune, shadow, env in itertools.product(
        SELECTIONS, PARTITIONS, TUNING, ({}, {"shadow_suffix": "_s"}), ({}, {"env": "prod"})
    ):
        yield "plan", {**sel, **part, **tune, **shadow, **env}
    for part, tune in itertools.product(PARTITIONS, TUNING):
        yield "run_dag", {**part, **tune}
    for digest in (None, "sha256:" + "ab" * 32, "ab" * 32):
        yield "apply", {"plan_id": "cd" * 32, "expect_spec_digest": digest}
    for pipeline, seeds in itertools.product((None, "raw"), (None, "data/seeds")):
        yield "seed", {"seed": "country_codes", "pipeline": pipeline, "seeds_dir": seeds}
    for checks, verbose in itertools.product((None, ["state"], ["state", "auth/default"]), (False, True)):
        yield "doctor", {"checks": checks, "verbose": verbose}
    var = {"region": "us", "since": "2024-01-01=x"}
    for model, contracts, dialect, seed, v in itertools.product(
        (None, "m"), (None, "contracts"), (None, *TARGET_DIALECTS), (False, True), (None, var)
    ):
        yield (
            "compile",
            {"model": model, "contracts": contracts, "target_dialect": dialect, "with_seed": seed, "var": v},
        )
    for model, contracts, pipeline, declarative, v in itertools.product(
        (None, "m"), (None, "contracts"), (None, "p"), (False, True), (None, var)
    ):
        yield (
            "test",
            {
                "model": model,
                "contracts": contracts,
                "pipeline": pipeline,
                "declarative": declarative,
                "var": v,
            },
        )
    for contracts, v in itertools.product((None, "contracts"), (None, var)):
        yield "ci", {"contracts": contracts, "var": v}
    for pipeline in (None, "raw"):
        yield "freshness", {"pipeline": pipeline}
    for pipeline, no_cache in itertools.product((None, "raw"), (False, True)):
        yield "discover", {"pipeline": pipeline, "no_cache": no_cache}


def engine_refusal(argv: list[str], version: str = "1.71.0") -> str | None:
    """What the engine says to ``argv`` (without the binary), or ``None``: clap, then argv-only bails."""
    try:
        inv = parse_argv(argv, version, env={})
        if inv.command == "run":
            check_run(inv, ProjectConfig(path=Path("rocky.toml"), exists=False), {}, Path.cwd())
    except UsageError as err:
        return err.render()
    except CommandError as err:
        return err.render()
    return None


def shape_of(argv: list[str]) -> tuple[str, ...]:
    """A command's shape: its subcommand and flags, values (and a plan id) left out."""
    return tuple(flag_of(token) for token in argv if token.startswith("--") or token in SUBCOMMANDS)


@dataclasses.dataclass
class Tally:
    built: list[tuple[str, dict[str, Any], list[str]]] = dataclasses.field(default_factory=list)
    refused: int = 0


def _build_all() -> Tally:
    tally = Tally()
    for name, values in _space():
        spec = COMMANDS[name]
        for settings in SETTINGS:
            try:
                args = spec.args(**values)
                command = build_command(settings, args)
            except RockyError:
                tally.refused += 1
                continue
            tally.built.append((name, values, list(command.argv[1:])))
    return tally


TALLY = _build_all()


def _version(name: str) -> str:
    return max(COMMANDS[name].min_engine_version, "1.71.0", key=lambda v: tuple(map(int, v.split("."))))


def test_every_command_the_provider_builds_is_one_the_engine_accepts() -> None:
    refused = [
        (name, values, argv, said)
        for name, values, argv in TALLY.built
        if (said := engine_refusal(argv, _version(name))) is not None
    ]
    assert refused == [], "\n\n".join(f"{n} {v}\n  {' '.join(a)}\n  {s}" for n, v, a, s in refused[:5])


def test_the_argument_space_is_covered(capsys: pytest.CaptureFixture[str]) -> None:
    """Every argument of every command was set in at least one accepted command line."""
    assert {name for name, _, _ in TALLY.built} == set(COMMANDS)
    for name, spec in COMMANDS.items():
        fields = {f.name for f in dataclasses.fields(spec.args)}
        set_somewhere = {
            k
            for n, values, _ in TALLY.built
            if n == name
            for k, v in values.items()
            if v not in (None, False)
        }
        assert fields <= set_somewhere, (name, fields - set_somewhere)
    shapes = {shape_of(argv) for _, _, argv in TALLY.built} | {shape_of(argv) for argv in GROUP_ARGV}
    with capsys.disabled():
        print(
            f"\nargv conformance: {len(TALLY.built) + len(GROUP_ARGV)} command lines built "
            f"({len(GROUP_ARGV)} from rendered groups), {len(shapes)} distinct command shapes, "
            f"{TALLY.refused} combinations refused before spawning"
        )
    assert TALLY.refused > 0, "the conflicting partition selections are among them"


def _rendered(value: Any) -> Any:
    """A templated value as a run renders it (the data-interval templates give partition keys; a
    group's node names are ``literal(...)``, which rendering unwraps)."""
    if isinstance(value, LITERAL):
        return value.value
    return "2026-04-05" if isinstance(value, str) and "{{" in value else value


GROUPS: tuple[dict[str, Any], ...] = (
    {},
    {"partitions": "engine"},
    {"operator_args": {"latest": True, "filter": "tenant=acme", "parallel": 2}},
    {"operator_args": {"missing": True, "lookback": 1}, "state_isolation": "namespace"},
    {"operator_args": {"shadow_suffix": "_pr42"}, "exclude": ["kind:seed", "kind:snapshot"]},
    {
        "operator_args": {"seeds_dir": "data/seeds"},
        "node_args": {"country_codes": {"pipeline": "raw_orders"}},
    },
    {"shape": "one_run"},
    {"shape": "one_run", "operator_args": {"parallel": 4, "lookback": 2}},
    {"shape": "one_run", "operator_args": {"latest": True}},
)


def _group_argv(tmp: Path) -> list[list[str]]:
    manifest = tmp / "demo.json"
    manifest.write_text(json.dumps(dag_document(demo_nodes(), "1.71.0")))
    built = []
    for options in GROUPS:
        with DAG("conformance", schedule="@daily", start_date=datetime(2026, 1, 1)) as dag:
            RockyTaskGroup("g", manifest=manifest, **options)
        for task in dag.tasks:
            spec = task.command
            values = {name: _rendered(getattr(task, name, None)) for name in (*spec.templated, *spec.flags)}
            args = spec.args.coerce(**from_operator(spec.args, values))
            settings = RockySettings(state_namespace=getattr(task, "state_namespace", None))
            built.append(list(build_command(settings, args).argv[1:]))
    return built


GROUP_ARGV = _group_argv(Path(tempfile.mkdtemp(prefix="rocky-conformance-")))


def test_every_task_a_group_renders_builds_a_command_the_engine_accepts() -> None:
    kinds = {argv[argv.index("--output=json") + 1] for argv in GROUP_ARGV}
    assert kinds == {"run", "seed"}
    assert any("--dag" in argv for argv in GROUP_ARGV) and any(
        "--pipeline=customers_history" in a for a in GROUP_ARGV
    )
    refused = [(argv, said) for argv in GROUP_ARGV if (said := engine_refusal(argv)) is not None]
    assert refused == [], refused[:3]
