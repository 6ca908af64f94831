"""``shape="watch"`` at DAG parse time: one producer task, one node task per node, the engine's edges.

* the producer (``run_dag``, ``RockyWatchProducerOperator``) takes the partition selection as
  ``shape="one_run"`` does (the data interval when the project has one grain) and the state pool
  (it is the engine's writer);
* a node task per node that would get a task in ``shape="nodes"``, with the same id, command (for
  when it runs alone), declared table and ``operator_args``; not in the state pool (it mostly
  waits; a node run alone that meets another writer asks again); a partitioned node runs alone with
  the producer's partition selection, so a retry builds what the engine's run built;
* edges: the manifest's, mirrored between node tasks (``all_success``), so a node whose upstream
  node task failed ends ``upstream_failed`` (the scheduler's doing) and is cleared with it; the
  nodes without an upstream node sit after the producer with ``trigger_rule="always"``, so they
  start (and wait) while it runs, and clearing the producer with its downstream clears the group.

Refused, naming why: ``select``/``exclude`` (``rocky run --dag`` runs the whole project: selection
flags are ignored under ``--dag``), what ``--dag`` does not take in ``operator_args`` (as for
``one_run``), ``state_isolation="namespace"`` (the producer writes the project's one state file, which
a node run alone must read), ``start_from_trigger``, and ``node_args`` that change a node's engine
command (it would differ between the engine's run and the node's retry): ``node_args`` take the
task's own arguments (``retries``, ``pool``, ``execution_timeout``, ``deferrable``, ...), and a
seed's ``pipeline`` (its run alone needs one in a project of several pipelines; the engine's own
DAG passes none and fails there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_rocky._engine.args.dag_run import NOT_WITH_DAG
from airflow_provider_rocky._engine.command import SETTING_OVERRIDES
from airflow_provider_rocky._project import build, partitions, state
from airflow_provider_rocky._project.graph import ProjectGraph
from airflow_provider_rocky._project.manifest import Manifest
from airflow_provider_rocky.operators.base import RockyBaseOperator
from airflow_provider_rocky.operators.watch import RockyWatchNodeOperator, RockyWatchSeedOperator
from airflow_provider_rocky.operators.watch_producer import RockyWatchProducerOperator

PRODUCER_TASK_ID = "run_dag"
#: Arguments that change the engine command a node task runs alone (refused in ``node_args``).
ENGINE_ARGUMENTS = frozenset(
    {*build.RUN_ARGUMENTS, *build.SEED_ONLY, *SETTING_OVERRIDES, "env_vars", "rocky_conn_id", "pipes"}
)
#: What the node tasks of a watch group cannot take at all.
NOT_ON_NODES = {"start_from_trigger": "a node task starts by reading its producer, on a worker"}


def check(options: build.Options, select: Any, exclude: Any) -> None:
    """Refuse what a watch group cannot do, naming it and why."""
    if select or exclude:
        raise ValueError(
            "shape='watch' runs the whole project in one `rocky run --dag` (the engine ignores "
            "--filter/--pipeline/--model under --dag): select and exclude need shape='nodes'"
        )
    if options.state_isolation == "namespace":
        raise ValueError(
            "shape='watch' cannot use state_isolation='namespace': its one engine run writes the "
            "project's state file, which a node run alone must read; use 'pool' (the default) or 'none'"
        )
    not_taken = {**NOT_WITH_DAG, **build.NOT_ON_DAG_TASK, **NOT_ON_NODES}
    refused = sorted(k for k, v in options.operator_args.items() if k in not_taken and v not in (None, False))
    if refused:
        why = "; ".join(f"{k}: {not_taken[k]}" for k in refused)
        raise ValueError(
            f"shape='watch' runs `rocky run --dag`, which does not take {', '.join(refused)} ({why})"
        )
    for key, given in options.node_args.items():
        engine = sorted(k for k in given if k in ENGINE_ARGUMENTS and k != "pipeline")
        if engine:
            raise ValueError(
                f"node_args[{key!r}] sets {', '.join(engine)}, which would change the node's engine command "
                "between the project's run and the node's retry; with shape='watch' node_args take task "
                "arguments (retries, pool, execution_timeout, deferrable, ...)"
            )


def _producer(
    manifest: Manifest, graph: ProjectGraph, options: build.Options, taken: set[str], **placement: Any
) -> RockyWatchProducerOperator:
    skip = {*build.NAMING, *NOT_WITH_DAG, *build.NOT_ON_DAG_TASK, "asset_alias", "emit_assets", "outlets"}
    kwargs = {k: v for k, v in options.operator_args.items() if k not in skip}
    kwargs.update(producer_partitions(graph, options))
    if options.state_isolation == "pool":  # the engine's writer, like every task of the other shapes
        kwargs.setdefault("pool", options.state_pool or state.pool_name(options.operator_args))
    task_id = PRODUCER_TASK_ID
    while task_id in taken:
        task_id += "_"
    kwargs.setdefault(
        "doc_md", f"Every node of the Rocky project `{manifest.path}`, watched: `rocky run --dag`"
    )
    kwargs.setdefault("task_display_name", "rocky run --dag")
    return RockyWatchProducerOperator(task_id=task_id, **kwargs, **placement)


def producer_partitions(graph: ProjectGraph, options: build.Options) -> dict[str, Any]:
    """The partition selection of the engine's run: explicit, else the data interval of the one grain."""
    explicit = {k: v for k, v in options.operator_args.items() if k in partitions.PARTITION_ARGS}
    if explicit or options.partitions != "data_interval":
        return explicit
    grains = {t.node.partitioning.grain for t in graph.tasks if t.node.partitioning is not None}
    if len(grains) == 1 and None not in grains:
        return partitions.interval_args(str(next(iter(grains))))
    return {}


def _node_kwargs(task: Any, options: build.Options, ns: Any, selection: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = build.task_kwargs(options, task, ns, None)
    for name in partitions.PARTITION_ARGS:
        kwargs.pop(name, None)
    if task.node.partitioning is not None:
        kwargs.update(selection)  # a retry builds what the engine's run built
    if not task.upstream:  # a root: after the producer, started at once (it waits for news)
        kwargs["trigger_rule"] = "always"
    return kwargs


def render_watch(
    manifest: Manifest, graph: ProjectGraph, options: build.Options, **placement: Any
) -> list[RockyBaseOperator]:
    """The producer and the node tasks, wired (``placement``: ``dag=`` and ``task_group=``)."""
    build.check_node_args(manifest, options)
    producer = _producer(manifest, graph, options, {t.task_id for t in graph.tasks}, **placement)
    selection = producer_partitions(graph, options)
    ns = options.naming()
    group = placement.get("task_group")
    prefix = f"{group.group_id}." if group is not None and group.group_id else ""
    made: dict[str, Any] = {}
    for task in graph.tasks:
        build._check_length(prefix, task)
        operator = RockyWatchSeedOperator if task.node.kind == "seed" else RockyWatchNodeOperator
        made[task.node.id] = operator(
            task_id=task.task_id,
            rocky_node_id=task.node.id,
            watch_producer=producer.task_id,
            **_node_kwargs(task, options, ns, selection),
            **placement,
        )
    build.wire(graph, made)
    for task in graph.tasks:
        if not task.upstream:  # as build.wire does: every task was just made in this one DAG
            made[task.node.id].upstream_task_ids.add(producer.node_id)
            producer.downstream_task_ids.add(made[task.node.id].node_id)
    return [producer, *made.values()]
