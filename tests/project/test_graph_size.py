"""The rendered graph costs linear size: joins for shared task-less nodes, linear ``upstream_map``.

Issue 25.3/25.4: ``k`` seeds → one ephemeral model → ``k`` models gave ``k²`` edges (1,000,000 from a
0.32 MB manifest), a ladder of ephemeral models ``n²/2``, and ``upstream_map`` compared list entries
for each edge into a node. Sizes here are edge and comparison counts, never timings
(benchmarks/bench_manifest.py measures parse time and serialized size).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from airflow.sdk import DAG
from project_helpers import START, run_order, write_manifest

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._project.graph import build_graph, upstream_map
from airflow_provider_rocky._project.manifest import Edge, Manifest, Node, parse_manifest
from airflow_provider_rocky.testing._standin.project import dag_document, shaped_nodes

#: ``_project.graph.HUB_EDGES``: the fan-in x fan-out past which a task-less node becomes a join.
HUB_EDGES = 64


def _graph(nodes: list[dict[str, Any]], **kwargs: Any) -> Any:
    return build_graph(parse_manifest(json.dumps(dag_document(nodes, "1.71.0"))), **kwargs)


def _edges(graph: Any) -> int:
    return sum(len(t.upstream) for t in graph.tasks) + sum(
        len(h.upstream) for h in getattr(graph, "hubs", ())
    )


def test_a_shared_ephemeral_model_becomes_one_join_not_k_squared_edges() -> None:
    graph = _graph(shaped_nodes("hub", 601))  # 300 seeds -> hub -> 300 models
    assert len(graph.tasks) == 600
    assert _edges(graph) == 600, "300 edges into the join, 300 out of it (main: 90,000)"
    (join,) = graph.hubs
    assert join.task_id == "join__hub" and len(join.upstream) == 300
    assert all(t.upstream == ("transformation:hub",) for t in graph.tasks if t.node.kind == "transformation")


@pytest.mark.parametrize("rungs", [30, 300, 3000])
def test_a_ladder_of_ephemeral_models_stays_linear(rungs: int) -> None:
    nodes = shaped_nodes("ladder", 3 * rungs)
    graph = _graph(nodes)
    manifest_edges = sum(len(n.get("depends_on", [])) for n in nodes)
    taskless = rungs  # one ephemeral model per rung
    assert _edges(graph) <= manifest_edges + HUB_EDGES * taskless
    assert _edges(graph) <= 12 * len(nodes), "main: rungs²/2 edges (4.5 M at 3,000 rungs)"


def test_no_join_where_inlining_is_cheap() -> None:
    """An ephemeral model read by two models, over three seeds: 6 edges inline, no join task."""
    nodes = shaped_nodes("hub", 7)[:6]  # 3 seeds, the ephemeral model, 2 of its 3 models
    graph = _graph(nodes)
    assert graph.hubs == () and _edges(graph) == 6


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _manifest_order(nodes: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Node id → every node id it (transitively) depends on, in the manifest."""
    up = {n["id"]: set(n.get("depends_on", [])) for n in nodes}
    return {node_id: _reachable(up, node_id) for node_id in up}


@pytest.mark.parametrize(("shape", "count"), [("ladder", 360), ("hub", 41)])
def test_joins_keep_exactly_the_manifests_order(tmp_path: Any, shape: str, count: int) -> None:
    """Through the rendered DAG's own edges: each task runs after exactly the tasks the manifest
    puts before it (joins are EmptyOperators in between, adding no order of their own)."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    nodes = shaped_nodes(shape, count)
    with DAG("joins", schedule=None, start_date=START) as dag:
        group = RockyTaskGroup(
            "p", manifest=write_manifest(tmp_path, nodes), asset_namespace="duckdb:///w.duckdb"
        )
    joins = {t.task_id for t in dag.tasks if isinstance(t, EmptyOperator)}
    assert joins, "the shape needs joins"
    up = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    by_node = {t.node.id: f"p.{t.task_id}" for t in group.project_graph.tasks}
    expected = _manifest_order(nodes)
    for node_id, task_id in by_node.items():
        before = {by_node[d] for d in expected[node_id] if d in by_node}
        assert _reachable(up, task_id) - joins == before, node_id


@pytest.mark.usefixtures("airflow_db", "standin_bin")
def test_a_join_runs_as_a_step_of_the_dag_and_keeps_the_order() -> None:
    """dag.test(): the join succeeds (the scheduler marks an EmptyOperator done), every model after
    the join starts after every model before it (``s*``), each node ran once."""
    import rocky_hostile as hostile
    from airflow_helpers import read_run

    record = hostile.WORK / "joined.jsonl"
    record.unlink(missing_ok=True)
    run = hostile.joined.test()
    assert str(run.state) == "success"
    assert read_run("joined", run.run_id, "join__hub").task_state == "success"
    order = run_order(record)
    seeds, models = [n for n in order if n.startswith("s")], [n for n in order if n.startswith("m")]
    assert len(seeds) == len(models) == 12 and len(order) == 24
    assert max(order.index(s) for s in seeds) < min(order.index(m) for m in models)


class CountingId(str):
    """A node id that counts how often it is compared for equality (list membership does that)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountingId.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_upstream_map_is_linear_in_a_nodes_fan_in() -> None:
    """2,000 edges into one node: a handful of comparisons each, not one per earlier edge (main:
    ~2 million; 80,000 edges took 46 s)."""
    count = 2000
    sources = [Node(CountingId(f"seed:s{i}"), "seed", f"s{i}") for i in range(count)]
    sink = Node("transformation:sink", "transformation", "sink")
    nodes = (*sources, sink)
    edges = tuple(Edge(CountingId(n.id), sink.id, "data") for n in sources)
    manifest = Manifest("<m>", nodes, edges, by_id={n.id: n for n in nodes})
    CountingId.compared = 0
    up = upstream_map(manifest)
    assert len(up["transformation:sink"]) == count
    assert CountingId.compared <= 10 * count, CountingId.compared
