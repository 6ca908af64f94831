"""The single-writer state store: parallel branches of one project, as real concurrent engine runs.

Two independent nodes of the demo project (``dim_customers`` and ``fct_payments``: parallel
branches) are built into their real commands and run at the same time, each for at least 3 s
(scenario ``slow``). Sharing the project's one state file, one of them finds the file locked:
exactly the collision the group's default pool (one slot per state file) exists to keep the
scheduler from causing (proven on a real scheduler by ``make e2e``). With a namespace per node both
succeed side by side.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from project_helpers import START, demo_manifest, operator_args, spaced

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._engine.process import ProcessOutcome, ProcessRunner
from airflow_provider_rocky._task.commands import RUN
from airflow_provider_rocky._task.request import build_run
from airflow_provider_rocky.exceptions import RockyStateBusyError

pytestmark = pytest.mark.usefixtures("airflow_db", "standin_bin")
BRANCHES = ("dim_customers", "fct_payments")


def _commands(tmp_path: Path, **group: Any) -> list[Any]:
    args = operator_args(tmp_path, tmp_path / "record.jsonl", env={"ROCKY_STANDIN_SCENARIO": "slow"})
    with DAG("state", schedule=None, start_date=START) as dag:
        RockyTaskGroup("p", manifest=demo_manifest(tmp_path), operator_args=args, **group)
    built = []
    for name in BRANCHES:
        request = dag.task_dict[f"p.{name}"].run_request()
        hook = request.hook()
        hook.get_settings()
        built.append(build_run(request, hook, ti=None, run_type="manual").command)
    assert not (set(dag.task_dict["p.dim_customers"].upstream_task_ids) & {"p.fct_payments"}), "parallel"
    return built


async def _together(commands: list[Any]) -> list[ProcessOutcome]:
    runners = [ProcessRunner(command, on_line=lambda _line: None) for command in commands]
    return list(await asyncio.gather(*(runner.run() for runner in runners)))


def _verdicts(commands: list[Any]) -> list[Any]:
    outcomes = asyncio.run(_together(commands))
    return [
        RUN.interpret(o, command=list(c.argv), binary=c.argv[0], max_stdout_bytes=None)
        for o, c in zip(outcomes, commands, strict=True)
    ]


def test_parallel_branches_on_one_state_file_collide_so_the_group_pools_them(tmp_path: Path) -> None:
    commands = _commands(tmp_path)
    assert all(
        "--state-namespace" not in spaced(c.argv) and "--state-path" not in spaced(c.argv) for c in commands
    )
    verdicts = _verdicts(commands)
    errors = [v.error for v in verdicts if v.error is not None]
    assert len(errors) == 1, "one writer at a time: the second finds the state file locked"
    (error,) = errors
    assert isinstance(error, RockyStateBusyError) and error.category == "state" and error.retryable
    assert "locked by another process" in str(error)


def test_a_namespace_per_node_lets_parallel_branches_run_together(tmp_path: Path) -> None:
    commands = _commands(tmp_path, state_isolation="namespace")
    spaces = [spaced(c.argv)[spaced(c.argv).index("--state-namespace") + 1] for c in commands]
    assert spaces == list(BRANCHES)
    verdicts = _verdicts(commands)
    assert [v.error for v in verdicts] == [None, None]
    assert [v.result.status for v in verdicts] == ["Success", "Success"]
