"""``rocky run --dag``: the engine runs every node of the project itself, in dependency order.

Upstream: ``main.rs`` (``Command::Run``'s ``--dag`` arm) and ``commands/run_dag_exec.rs``
(``run_with_dag``) at 1.71. What ``--dag`` takes is the partition selection (it reaches every
sub-run: ``sub_run_partition_opts``), ``--lookback``, and ``--parallel`` (a bound on how many nodes
run at once; unset: unbounded). Everything else a run selects with is not threaded into the DAG, so
this command does not offer it: ``--filter``, ``--pipeline``, ``--model``, ``--all``, ``--resume*``,
``--governance-override`` and ``--idempotency-key`` are accepted by clap and then ignored (DAG
sub-runs are built with ``None`` for each), ``--models`` and ``--var`` are refused at runtime, and
``--shadow``/``--branch`` (refused by ``run_with_dag``) and ``--defer`` (a clap conflict) cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import as_int, blank_to_none
from airflow_provider_rocky._engine.args.run import (
    PartitionSelection,
    check_counts,
    check_partitions,
    partition_argv,
)
from airflow_provider_rocky._engine.command import RockySettings
from airflow_provider_rocky.exceptions import RockyUsageError

#: Arguments of ``rocky run`` that ``--dag`` ignores or refuses, and why (quoted in refusals).
NOT_WITH_DAG = {
    "filter": "the DAG runs every pipeline unfiltered (run_with_dag takes no filter)",
    "pipeline": "the DAG runs every pipeline",
    "model": "the DAG runs every model",
    "run_models": "the DAG runs every model and pipeline",
    "governance_override": "the DAG sub-runs are built without it (main.rs: not passed to run_with_dag)",
    "idempotency_key": "DAG sub-runs do not accept --idempotency-key (run_dag_exec.rs)",
    "resume_latest": "the DAG does not resume (run_with_dag takes no resume)",
    "shadow_suffix": "rocky run --dag refuses --shadow (run_dag_exec.rs, #1279)",
    "defer_upstream": "clap refuses --defer with --dag (main.rs 1098)",
    "defer_to": "clap refuses --defer with --dag (main.rs 1098)",
}


@dataclass(frozen=True)
class DagRunArgs(PartitionSelection):
    """The arguments of one ``rocky run --dag``, after templating (names as ``RockyOperator``'s)."""

    @classmethod
    def coerce(cls, **raw: Any) -> DagRunArgs:
        values = blank_to_none(raw)
        as_int(values, ("lookback", "parallel"))
        return cls(**values)

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Only which partition arguments are set (also at DAG parse time)."""
        given: dict[str, Any] = {key: None if value == "" else value for key, value in values.items()}
        check_partitions(cls(**given))

    def validate(self) -> None:
        check_partitions(self)
        for name in ("partition", "partition_from", "partition_to"):
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("-"):
                raise RockyUsageError(f"{name}={value!r} starts with '-', which the engine reads as a flag")
        check_counts(self)

    def argv(self, settings: RockySettings) -> list[str]:
        return ["run", "--dag", *partition_argv(self)]
