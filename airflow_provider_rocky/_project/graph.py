"""Which node of the manifest becomes which task, what it runs, and which tasks come before it.

The mapping (docs/task-group.md):

* ``transformation`` nodes run that model by name: ``rocky run --model <name>`` (with ``--pipeline
  <p>`` when the node names its pipeline, as every 1.71 manifest does, else ``--models <models_dir>``);
* ``seed`` nodes load that seed: ``rocky seed --filter <name>`` (``RockySeedOperator``), as the
  engine's own DAG runner does (``run_dag_exec.rs``): a seed is not a model, and ``run --model`` of
  it is refused (or runs a model of the same name);
* ``load``, ``replication``, ``quality`` and ``snapshot`` nodes run their pipeline: ``rocky run
  --pipeline <p>`` (the engine emits at most one of each per pipeline, and every one names its
  pipeline: ``unified_dag.rs`` ``build_unified_dag``). A ``quality`` node is downstream of what it
  checks: a ``check`` edge is read as "the quality pipeline runs after the table", whichever way
  the engine wrote it;
* ephemeral models (strategy ``ephemeral``), ``source`` and ``test`` nodes, nodes of a kind this
  provider does not know, and nodes left out by ``select``/``exclude`` get no task: the tasks after
  them depend on the tasks before them instead (resolved transitively, as dagster-rocky does for
  ephemeral models). Resolving is linear in the manifest's size: a task-less node whose resolved
  upstream tasks (fan-in) times its consumers (fan-out) passes :data:`HUB_EDGES` becomes a join
  (:class:`Hub`, an ``EmptyOperator``), so ``k`` seeds feeding one ephemeral model feeding ``k``
  models cost ``2k`` edges, not ``k²``. Every other resolved set that reaches two consumers holds at
  most ``HUB_EDGES / 2`` tasks, so the graph has at most (manifest edges + ``HUB_EDGES`` x task-less
  nodes) edges.

Task ids are readable and stable: the model's name for a transformation, ``<kind>__<name>`` for
every other kind, folded to ``[A-Za-z0-9_-]`` (a lossy fold gets a short hash of the node id), and
``__2``, ``__3``... for a name already taken.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_provider_rocky._project.manifest import Manifest, ManifestError, Node, Target
from airflow_provider_rocky._project.rules import collision_key, shown
from airflow_provider_rocky._project.select import selected_ids

RUN_BY_MODEL = frozenset({"transformation"})
RUN_BY_PIPELINE = frozenset({"load", "replication", "quality", "snapshot"})
#: Kinds whose task writes the node's ``target`` table (a quality pipeline only checks).
WRITES_TARGET = frozenset({"transformation", "seed", "snapshot", "load", "replication"})
MAX_TASK_ID = 200
#: A task-less node becomes a join when fan-in x fan-out passes this (docs/task-group.md,
#: Linear size, with joins): joins stay rare in ordinary projects, and no resolved set shared by two consumers
#: exceeds half of it. benchmarks/bench_manifest.py measures the hostile shapes.
HUB_EDGES = 64
#: The join task's id prefix (``join__<the node's task id>``).
HUB_PREFIX = "join__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class NodeTask:
    """One task to create: its node, id, what it runs, and the node ids of its upstream tasks."""

    node: Node
    task_id: str
    runs: Mapping[str, str]
    upstream: tuple[str, ...]

    @property
    def table(self) -> Target | None:
        """The table this task writes and declares as an outlet (``None``: not known statically)."""
        return self.node.target if self.node.kind in WRITES_TARGET else None


@dataclass(frozen=True, slots=True)
class Hub:
    """A join standing for a task-less node: after its upstream tasks, before its consumers."""

    node: Node
    task_id: str
    upstream: tuple[str, ...]


@dataclass(frozen=True)
class ProjectGraph:
    """The tasks of a manifest after selection, in manifest order (joins after them)."""

    tasks: tuple[NodeTask, ...]
    #: Nodes that would have a task but were left out by ``select``/``exclude``.
    deselected: int = 0
    hubs: tuple[Hub, ...] = ()

    @property
    def edge_count(self) -> int:
        """Task-to-task edges of the rendered graph, joins included."""
        return sum(len(t.upstream) for t in self.tasks) + sum(len(h.upstream) for h in self.hubs)


def runs_of(node: Node, path: str) -> dict[str, str] | None:
    """What the node's task passes to ``RockyOperator`` (``None``: the node gets no task)."""
    if node.ephemeral:
        return None
    if node.kind == "seed":
        return {"seed": node.name}
    if node.kind in RUN_BY_MODEL:
        return {"model": node.name, **({"pipeline": node.pipeline} if node.pipeline else {})}
    if node.kind in RUN_BY_PIPELINE:
        if not node.pipeline:
            raise ManifestError(path, f"node {node.id!r} (kind {node.kind}) names no pipeline to run")
        return {"pipeline": node.pipeline}
    return None


def upstream_map(manifest: Manifest) -> dict[str, list[str]]:
    """Each node's direct upstream nodes: ``depends_on`` plus edges, checks after what they check.

    Kept as insertion-ordered dicts while built (membership in O(1): a node with 80,000 edges into
    it took 46 s as list lookups), lists once done.
    """
    up: dict[str, dict[str, None]] = {node.id: dict.fromkeys(node.depends_on) for node in manifest.nodes}
    for edge in manifest.edges:
        source, target = edge.source, edge.target
        if source == target:
            continue
        if edge.edge_type == "check":
            if manifest.by_id[source].kind == "quality":
                source, target = target, source  # "quality checks t": the quality task runs after t
            up[source].pop(target, None)  # a table never waits for the pipeline that checks it
        up[target][source] = None
    return {node_id: list(deps) for node_id, deps in up.items()}


def topological(manifest: Manifest, up: Mapping[str, Sequence[str]]) -> list[str]:
    """Node ids, every node after its upstream nodes; a cycle is refused, naming it."""
    state: dict[str, int] = {}
    order: list[str] = []
    for root in up:
        if state.get(root) == 2:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node_id, index = stack[-1]
            deps = up[node_id]
            if index == len(deps):
                stack.pop()
                state[node_id] = 2
                order.append(node_id)
                continue
            stack[-1] = (node_id, index + 1)
            dep = deps[index]
            if state.get(dep) == 1:
                trail = [n for n, _ in stack]
                cycle = [*trail[trail.index(dep) :], dep]
                raise ManifestError(manifest.path, f"the graph has a cycle: {' -> '.join(cycle)}")
            if state.get(dep) is None:
                state[dep] = 1
                stack.append((dep, 0))
    return order


def resolved_upstream(
    order: Sequence[str],
    up: Mapping[str, Sequence[str]],
    tasks: set[str],
    fan_out: Mapping[str, int] | None = None,
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Each task node's upstream tasks or joins, through every node without a task, transitively.

    Returns ``(resolved, hubs)``: ``resolved[task node]`` and ``hubs[task-less node]``, each the ids
    it waits for. A task-less node read by one consumer hands its set over (no copy: a chain stays
    linear); one read by several becomes a join when its fan-in x fan-out passes :data:`HUB_EDGES`.
    """
    fan = fan_out or {}
    sets: dict[str, dict[str, None]] = {}
    resolved: dict[str, tuple[str, ...]] = {}
    hubs: dict[str, tuple[str, ...]] = {}
    for node_id in order:  # upstream nodes first, so each lookup below is already done
        found = _merged(up[node_id], tasks, hubs, sets, fan)
        if node_id in tasks:
            resolved[node_id] = tuple(found)
        elif len(found) > 1 and fan.get(node_id, 0) > 1 and len(found) * fan[node_id] > HUB_EDGES:
            hubs[node_id] = tuple(found)
        else:
            sets[node_id] = found
    return resolved, hubs


def _merged(
    deps: Sequence[str],
    tasks: set[str],
    hubs: Mapping[str, object],
    sets: dict[str, dict[str, None]],
    fan: Mapping[str, int],
) -> dict[str, None]:
    """The union of what ``deps`` stand for; the largest set read only here is taken, not copied."""
    owned = [d for d in deps if d in sets and fan.get(d, 0) <= 1]
    base = sets.pop(max(owned, key=lambda d: len(sets[d]))) if owned else {}
    for dep in deps:
        if dep in tasks or dep in hubs:
            base[dep] = None
        elif dep in sets:
            base.update(sets[dep] if fan.get(dep, 0) > 1 else sets.pop(dep))
    return base


def task_id_for(node: Node) -> str:
    """Readable, Airflow-safe id: ``<name>`` for a transformation, ``<kind>__<name>`` otherwise."""
    base = node.name if node.kind == "transformation" else f"{node.kind}__{node.name}"
    folded = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    safe = _UNSAFE.sub("_", folded).strip("_") or "node"
    if safe != base or len(safe) > MAX_TASK_ID:
        digest = hashlib.sha256(node.id.encode("utf-8")).hexdigest()[:8]
        safe = f"{safe[: MAX_TASK_ID - 10]}__{digest}"
    return safe


def _refuse_lookalikes(path: str, runs: Mapping[str, Mapping[str, str]]) -> None:
    """Two rendered nodes that would run the same command (two models named ``orders``, no pipeline).

    The engine selects by name, so both tasks would run the same thing and one node never would:
    refused at parse time, naming both and how to keep one.
    """
    seen: dict[tuple[tuple[str, str], ...], str] = {}
    for node_id in sorted(runs):
        key = tuple(sorted(runs[node_id].items()))
        if key in seen:
            args = " ".join(f"--{'filter' if k == 'seed' else k}={v}" for k, v in key)
            verb = "rocky seed" if "seed" in runs[node_id] else "rocky run"
            raise ManifestError(
                path,
                f"nodes {seen[key]!r} and {node_id!r} would both run `{verb} {args}`: the engine "
                f"selects by name and cannot tell them apart; keep one (exclude=['id:{node_id}'])",
            )
        seen[key] = node_id


def _refuse_two_writers(manifest: Manifest) -> None:
    """Two nodes writing one table: refused naming both, as the engine's compiler does (E036).

    Identity is the engine's (case-folded ``catalog.schema.table``, ephemeral models excluded):
    both tasks would declare the same Asset, and which write survives would depend on the order.
    """
    seen: dict[tuple[str, str, str], Node] = {}
    for node in manifest.nodes:
        target = node.target
        if target is None or node.kind not in WRITES_TARGET or node.ephemeral:
            continue
        key = collision_key(target.catalog, target.schema, target.table)
        first = seen.setdefault(key, node)
        if first is not node:
            raise ManifestError(
                manifest.path,
                f"nodes {shown(first.id)} and {shown(node.id)} both write the table "
                f"{shown(target.dotted)} (the engine refuses two writers of one table: E036); "
                "give each its own target table, or remove one",
            )


def _fan_out(up: Mapping[str, Sequence[str]]) -> dict[str, int]:
    fan: dict[str, int] = dict.fromkeys(up, 0)
    for deps in up.values():
        for dep in deps:
            fan[dep] += 1
    return fan


def build_graph(manifest: Manifest, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> ProjectGraph:
    """The tasks of ``manifest`` after ``select``/``exclude``, with resolved upstream tasks and joins."""
    _refuse_two_writers(manifest)
    up = upstream_map(manifest)
    order = topological(manifest, up)
    runs = {node.id: r for node in manifest.nodes if (r := runs_of(node, manifest.path)) is not None}
    down: dict[str, list[str]] = {node_id: [] for node_id in up}
    for node_id, deps in up.items():
        for dep in deps:
            down[dep].append(node_id)
    chosen = selected_ids(manifest.nodes, select, exclude, up, down)
    task_nodes = {node_id for node_id in runs if node_id in chosen}
    _refuse_lookalikes(manifest.path, {node_id: runs[node_id] for node_id in task_nodes})
    resolved, joins = resolved_upstream(order, up, task_nodes, _fan_out(up))
    used: set[str] = set()
    tasks = [
        NodeTask(node, _unique(task_id_for(node), used), runs[node.id], resolved[node.id])
        for node in manifest.nodes
        if node.id in task_nodes
    ]
    hubs = [
        Hub(node, _unique(HUB_PREFIX + task_id_for(node), used), joins[node.id])
        for node in manifest.nodes
        if node.id in joins
    ]
    return ProjectGraph(tuple(tasks), deselected=len(runs) - len(task_nodes), hubs=tuple(hubs))


def _unique(task_id: str, used: set[str]) -> str:
    """``task_id``, or ``task_id__2``, ``__3``... when taken."""
    candidate, n = task_id, 1
    while candidate in used:
        n += 1
        candidate = f"{task_id}__{n}"
    used.add(candidate)
    return candidate
