"""The project graph → ``RockyOperator`` tasks, each with its table declared as an Asset outlet.

Everything here happens at DAG parse time, so it reads nothing but the manifest: no subprocess, no
connection lookup. The asset namespace therefore cannot come from the connection: it is the group's
``asset_namespace`` (or ``operator_args["asset_namespace"]``), default ``rocky://default``, and it is
passed to every task as its ``asset_namespace`` too, so the events a run records name exactly the
assets the tasks declared (whatever namespace the connection holds).

What a node runs (its ``model`` and ``pipeline``) reaches the operator as ``literal(...)``: Airflow
renders template fields with Jinja, and a manifest's names are written by whoever names a model
file, not by the DAG author, so ``a{{ 7 * 7 }}`` must run the model of that name, not ``a49``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import Asset, BaseOperator, literal

from airflow_provider_rocky._engine.args.base import flag_names, templated_names
from airflow_provider_rocky._engine.args.dag_run import NOT_WITH_DAG
from airflow_provider_rocky._engine.args.run import RunArgs
from airflow_provider_rocky._project import partitions, state
from airflow_provider_rocky._project.graph import Hub, NodeTask, ProjectGraph, runs_of
from airflow_provider_rocky._project.manifest import Manifest, ManifestError, Target
from airflow_provider_rocky._project.rules import shown
from airflow_provider_rocky.assets import DEFAULT_NAMESPACE, TableRef, WarehouseNamespace, resolve_namespace
from airflow_provider_rocky.operators.materialize import RockyMaterializingOperator
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.operators.run_dag import RockyRunDagOperator
from airflow_provider_rocky.operators.seed import RockySeedOperator

SHAPES = ("nodes", "one_run", "watch")
#: A node name usable as a task id as it is (Airflow's key characters).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")
#: The one-run shape's task id.
ONE_RUN_TASK_ID = "run_all"
#: ``rocky run``'s arguments (``RockyOperator``'s): a seed node (``rocky seed``) takes none of them, so
#: ``operator_args`` give them to the other nodes only (as partition arguments go to partitioned ones).
RUN_ARGUMENTS = frozenset({*templated_names(RunArgs), *flag_names(RunArgs), "fail_on_partial"})
#: Arguments only a seed node takes (``RockySeedOperator``'s ``seeds_dir``).
SEED_ONLY = frozenset({"seeds_dir"})
#: Arguments of the node tasks that the one-run task (``RockyRunDagOperator``) does not take either.
NOT_ON_DAG_TASK = {
    "fail_on_partial": "a failed node always fails the task (--dag has no partial success)",
    "seeds_dir": "rocky run --dag reads the seeds beside the config file (run_dag_exec.rs)",
}
#: The group's naming arguments: consumed by the group, pinned on each node task it renders.
NAMING = ("asset_namespace", "default_catalog")


@dataclass(frozen=True)
class Options:
    """The group's choices, checked once (before any task exists)."""

    operator_args: Mapping[str, Any] = field(default_factory=dict)
    node_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    asset_namespace: str | None = None
    default_catalog: str | None = None
    shape: str = "nodes"
    partitions: str = "data_interval"
    state_isolation: str = "pool"
    state_pool: str | None = None

    def checked(self) -> Options:
        """Refuse what cannot render, naming the argument."""
        if self.shape not in SHAPES:
            raise ValueError(f"shape={self.shape!r} must be one of {', '.join(map(repr, SHAPES))}")
        partitions.check_mode(self.partitions)
        state.check_isolation(self.state_isolation, self.operator_args)
        for reserved in ("task_id", "model", "pipeline", "run_models", "seed", "task_group", "dag"):
            if reserved in self.operator_args:
                raise ValueError(f"operator_args must not set {reserved!r}: the group sets it per node")
        return self

    @property
    def namespace(self) -> str:
        """The asset namespace every task declares and emits under."""
        given = self.asset_namespace or self.operator_args.get("asset_namespace")
        return str(given) if given else DEFAULT_NAMESPACE

    @property
    def catalog(self) -> str | None:
        """The catalog of tables the manifest names without one (the group's, else operator_args')."""
        given = self.default_catalog or self.operator_args.get("default_catalog")
        return str(given) if given else None

    def naming(self) -> WarehouseNamespace:
        """The naming every task declares and emits under."""
        return resolve_namespace(self.namespace, self.catalog)

    def pinned(self) -> dict[str, Any]:
        """Each task's naming arguments: the group's, never the connection's (``""``: no catalog)."""
        return {"asset_namespace": self.namespace, "default_catalog": self.catalog or ""}


def declared_asset(ns: WarehouseNamespace, table: Target, node_id: str, path: str) -> Asset:
    """The Asset ``rocky_asset`` gives for the node's table (same name and stored uri).

    A table the namespace cannot name (no catalog, a name Airflow cannot store) is a
    :class:`ManifestError` naming the file and the node, not Airflow's own error naming neither.
    """
    try:
        name, uri = ns.locate(TableRef(table.catalog, table.schema, table.table))
        return Asset(name=name, uri=uri)
    except ValueError as err:
        raise ManifestError(path, f"node {shown(node_id)}: {err}") from None


def _node_args(options: Options, task: NodeTask) -> dict[str, Any]:
    node = task.node
    given = options.node_args.get(node.id) or options.node_args.get(node.name) or {}
    reserved = ("task_id", "model", "run_models", "seed") + (() if node.kind == "seed" else ("pipeline",))
    for name in reserved:
        if name in given:
            raise ValueError(f"node_args[{node.name!r}] must not set {name!r}: it is the node's own")
    unfit = sorted(
        k
        for k, v in given.items()
        if v is not None and k in (RUN_ARGUMENTS - {"pipeline"} if node.kind == "seed" else SEED_ONLY)
    )
    if unfit:
        what = "a seed node (rocky seed)" if node.kind == "seed" else f"a {node.kind} node (rocky run)"
        raise ValueError(f"node_args[{node.name!r}] sets {', '.join(unfit)}, which {what} does not take")
    return dict(given)


def _partition_args(options: Options, task: NodeTask, own: Mapping[str, Any]) -> dict[str, Any]:
    """A partitioned node: explicit partition arguments win, else the data interval at its grain."""
    shape = task.node.partitioning
    if shape is None:
        return {}
    explicit = {k: v for k, v in {**options.operator_args, **own}.items() if k in partitions.PARTITION_ARGS}
    if explicit or options.partitions == "engine" or shape.grain is None:
        return explicit
    return partitions.interval_args(shape.grain)


def task_kwargs(
    options: Options, task: NodeTask, ns: WarehouseNamespace, pool: str | None, path: str = "<manifest>"
) -> dict[str, Any]:
    """Every argument of one node's ``RockyOperator``."""
    own = _node_args(options, task)
    # What this node's command lacks (a seed's own node_args may name its pipeline: _node_args).
    other = RUN_ARGUMENTS - {"pipeline"} if task.node.kind == "seed" else SEED_ONLY
    skip = partitions.PARTITION_ARGS | other
    kwargs: dict[str, Any] = {
        **{k: v for k, v in options.operator_args.items() if k not in skip},
        **{k: v for k, v in own.items() if k not in skip},
    }
    kwargs.update({key: literal(value) for key, value in task.runs.items()})  # never rendered
    kwargs.update(_partition_args(options, task, own))
    kwargs.update(options.pinned())
    table = task.table
    outlets = list(kwargs.pop("outlets", None) or [])
    if table is not None:
        outlets.append(declared_asset(ns, table, task.node.id, path))
    kwargs["outlets"] = outlets
    if pool is not None:
        kwargs.setdefault("pool", pool)
    if options.state_isolation == "namespace":
        # Keyed by the task id (readable, unique in the group): two nodes may share a name.
        kwargs["state_namespace"] = state.node_namespace(
            options.operator_args.get("state_namespace"), task.task_id
        )
    kwargs.setdefault("doc_md", _doc(task))
    if not _SAFE_NAME.fullmatch(task.node.name):  # its id had to be folded or hashed: show the name
        kwargs.setdefault("task_display_name", task.node.name)
    return kwargs


def _doc(task: NodeTask) -> str:
    node = task.node
    lines = [f"Rocky node `{node.id}` (kind `{node.kind}`)"]
    if task.table is not None:
        lines.append(f"writes `{task.table.dotted}`")
    if node.partitioning is not None:
        lines.append(f"partitioned by {node.partitioning.declared}")
    return "; ".join(lines)


#: Airflow's limit on a task id (its ``validate_key``), group prefix included.
MAX_TASK_ID_CHARS = 250


def _check_length(prefix: str, task: NodeTask | Hub) -> None:
    """Airflow's own error names neither the node nor the group: say which and what to shorten."""
    full = f"{prefix}{task.task_id}"
    if len(full) > MAX_TASK_ID_CHARS:
        raise ValueError(
            f"node {task.node.id!r}: its task id {full!r} is {len(full)} characters, Airflow allows "
            f"{MAX_TASK_ID_CHARS}: shorten the group_id {prefix.rstrip('.')!r}"
        )


def render_nodes(
    graph: ProjectGraph, options: Options, path: str = "<manifest>", **placement: Any
) -> dict[str, BaseOperator]:
    """One task per node (``placement``: ``dag=`` and ``task_group=``), wired by resolved upstream."""
    ns = options.naming()
    pool = _pool(options)
    made: dict[str, BaseOperator] = {}
    group = placement.get("task_group")
    prefix = f"{group.group_id}." if group is not None and group.group_id else ""
    for task in graph.tasks:
        _check_length(prefix, task)
        operator = RockySeedOperator if task.node.kind == "seed" else RockyOperator
        made[task.node.id] = operator(
            task_id=task.task_id, **task_kwargs(options, task, ns, pool, path), **placement
        )
    for hub in graph.hubs:
        _check_length(prefix, hub)
        made[hub.node.id] = _join(hub, **placement)
    wire(graph, made)
    return made


def _join(hub: Hub, **placement: Any) -> BaseOperator:
    """The ``EmptyOperator`` a join is: the scheduler marks it done itself, no worker runs it."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    node = hub.node
    doc = (
        f"Join for Rocky node `{node.id}` (kind `{node.kind}`, no task of its own): after the "
        f"{len(hub.upstream)} task(s) it depends on, before its consumers (one edge each way instead "
        "of one per pair)"
    )
    display: dict[str, Any] = (
        {} if _SAFE_NAME.fullmatch(node.name) else {"task_display_name": f"join {node.name}"}
    )
    return EmptyOperator(task_id=hub.task_id, doc_md=doc, **display, **placement)


def wire(graph: ProjectGraph, made: Mapping[str, BaseOperator]) -> None:
    """Each task after its resolved upstream tasks.

    Between tasks of one DAG without edge labels, ``set_upstream`` does exactly this: it adds each
    side's id to the other's ``upstream_task_ids`` / ``downstream_task_ids``. It also hashes the DAG
    of every task involved to check they share one, and a DAG's hash walks all its task ids, so
    wiring N tasks that way costs O(N²) (a third of a 1,000-node group's parse time). Every task here
    was just created in the one DAG, so the sets are filled directly (``tests/project`` checks the
    result equals ``set_upstream``'s).
    """
    steps: tuple[NodeTask | Hub, ...] = (*graph.tasks, *graph.hubs)
    for task in steps:
        me = made[task.node.id]
        for node_id in task.upstream:
            upstream = made[node_id]
            me.upstream_task_ids.add(upstream.node_id)
            upstream.downstream_task_ids.add(me.node_id)


def render_one_run(
    manifest: Manifest, graph: ProjectGraph, options: Options, **placement: Any
) -> RockyRunDagOperator:
    """One ``rocky run --dag`` task declaring every table of the project, each under its node."""
    not_taken = {**NOT_WITH_DAG, **NOT_ON_DAG_TASK}
    given = {k: v for k, v in options.operator_args.items() if k in not_taken}
    refused = sorted(k for k, v in given.items() if v not in (None, False))
    if refused:
        why = "; ".join(f"{k}: {not_taken[k]}" for k in refused)
        raise ValueError(
            f"shape='one_run' runs `rocky run --dag`, which does not take {', '.join(refused)} ({why})"
        )
    ns = options.naming()
    kwargs = {k: v for k, v in options.operator_args.items() if k not in (*NAMING, *not_taken, "asset_alias")}
    emit = bool(kwargs.pop("emit_assets", True))
    outlets = list(kwargs.pop("outlets", None) or [])
    node_outlets: dict[str, list[str]] = {}
    for task in graph.tasks if emit else ():
        if task.table is not None:
            asset = declared_asset(ns, task.table, task.node.id, manifest.path)
            outlets.append(asset)
            node_outlets.setdefault(task.node.id, []).append(asset.uri)
    grains = {t.node.partitioning.grain for t in graph.tasks if t.node.partitioning is not None}
    explicit = any(k in kwargs for k in partitions.PARTITION_ARGS)
    if not explicit and options.partitions == "data_interval" and len(grains) == 1 and None not in grains:
        kwargs.update(partitions.interval_args(str(next(iter(grains)))))
    pool = _pool(options)
    if pool is not None:
        kwargs.setdefault("pool", pool)
    kwargs.setdefault("task_id", ONE_RUN_TASK_ID)
    kwargs.setdefault("doc_md", f"Every node of the Rocky project `{manifest.path}`: `rocky run --dag`")
    return RockyRunDagOperator(outlets=outlets, node_outlets=node_outlets, **kwargs, **placement)


def _pool(options: Options) -> str | None:
    if options.state_isolation != "pool":
        return None
    return options.state_pool or state.pool_name(options.operator_args)


def check_node_args(manifest: Manifest, options: Options) -> None:
    """``node_args`` keys must name nodes of the manifest: a typo must not be silently ignored."""
    known = {node.id for node in manifest.nodes} | {node.name for node in manifest.nodes}
    unknown = sorted(set(options.node_args) - known)
    if unknown:
        raise ValueError(f"node_args names no node of {manifest.path}: {', '.join(map(repr, unknown))}")
    for key in options.node_args:
        named = [n.id for n in manifest.nodes if n.name == key and runs_of(n, manifest.path) is not None]
        if len(named) > 1:
            raise ValueError(
                f"node_args[{key!r}] names {len(named)} nodes ({', '.join(named)}): key it by node id"
            )


#: Kinds whose command cannot shadow: the engine refuses ``--shadow`` for snapshot and load
#: pipelines (``run.rs`` ``reject_unsupported_shadow``, ~2306, ~2392) and ``rocky seed`` has no shadow.
UNSHADOWED = frozenset({"snapshot", "seed"})


def check_shadow(manifest: Manifest, graph: ProjectGraph, options: Options) -> None:
    """A ``shadow_suffix`` that reaches a node the engine would write to production instead: refused.

    A load node of a replication pipeline (the pipeline also has a ``source`` node) shadows; one of
    a ``load`` pipeline does not. Naming every such node and the two ways out.
    """
    replicated = {n.pipeline for n in manifest.nodes if n.kind in ("source", "replication")}
    bad = []
    for task in graph.tasks:
        node = task.node
        own = options.node_args.get(node.id) or options.node_args.get(node.name) or {}
        suffix = (
            own["shadow_suffix"] if "shadow_suffix" in own else options.operator_args.get("shadow_suffix")
        )
        if suffix is not None and (
            node.kind in UNSHADOWED or (node.kind == "load" and node.pipeline not in replicated)
        ):
            bad.append(node.id)
    if bad:
        shown = ", ".join(map(repr, bad))
        raise ValueError(
            f"shadow_suffix reaches {shown}, which the engine cannot shadow: it refuses --shadow for "
            "snapshot and load pipelines (their targets are not rewritten), and `rocky seed` writes its "
            "configured table; leave them out (exclude=[...]) or run them on production with "
            "node_args={<node>: {'shadow_suffix': None}}"
        )


def render(
    manifest: Manifest, graph: ProjectGraph, options: Options, **placement: Any
) -> Sequence[RockyMaterializingOperator | RockyRunDagOperator]:
    """The group's tasks in the chosen shape."""
    check_node_args(manifest, options)
    if options.shape == "one_run":
        return [render_one_run(manifest, graph, options, **placement)]
    check_shadow(manifest, graph, options)
    made = render_nodes(graph, options, manifest.path, **placement)
    return [task for task in made.values() if isinstance(task, RockyMaterializingOperator)]  # joins are not
