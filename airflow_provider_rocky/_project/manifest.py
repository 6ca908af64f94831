"""A saved ``rocky dag --output json`` ("the manifest"), read loosely and checked once.

Why not rocky-sdk's ``DagResult``: its strategy field is a strict union, so rocky-sdk 0.15/0.16
refuse a manifest with a ``snapshot`` strategy (or an incremental model without
``timestamp_column``) that a newer engine prints, and importing it costs ~0.2 s of DAG parse time.
This reader takes only what the graph needs (node ids, kinds, labels, pipelines, dependencies,
targets, the strategy's ``type``, the partition shape, edges) and ignores everything else, so a
manifest from a newer engine still renders. What it does check is what would make a wrong graph:
duplicate ids, a dependency on a node that does not exist, a malformed node, and text that cannot be
stored, spawned or named safely (:mod:`.rules`: control characters, lone surrogates, over-long names,
``.``/``..`` table parts). Every refusal is a :class:`ManifestError` naming the file, the node, the
rule, and how to write it again (a DAG import error in the UI).

Parsed manifests are cached per file (path, size, modification time): the DAG processor re-parsing an
unchanged DAG file reads the JSON once per process.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky._project.rules import shown, table_part_problem, text_problem

log = logging.getLogger(__name__)

#: Versions of the graph-export contract this reader knows (``schema_version``; absent means "1").
KNOWN_SCHEMA_VERSIONS = frozenset({"1"})
#: How to (re)write a manifest, quoted in every error.
HOW_TO_WRITE = (
    "write it with `rocky-airflow-manifest --project-dir <your rocky project> --output {path}` "
    "(or `rocky dag --output json > {path}` in the project)"
)
#: Partition grains the engine names (``partition_shape.granularity`` says ``daily``, the strategy
#: says ``day``): both spellings map to the canonical grain.
GRAINS = {
    "hour": "hour",
    "hourly": "hour",
    "day": "day",
    "daily": "day",
    "month": "month",
    "monthly": "month",
    "year": "year",
    "yearly": "year",
}


class ManifestError(ValueError):
    """The manifest cannot be used: missing, not JSON, not a ``rocky dag`` output, or inconsistent."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Rocky manifest {path}: {problem}; {HOW_TO_WRITE.format(path=path)}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Target:
    """A node's table (``catalog`` is ``""`` for DuckDB models)."""

    catalog: str
    schema: str
    table: str

    @property
    def dotted(self) -> str:
        """``catalog.schema.table`` as the engine prints it (``.schema.table`` for no catalog)."""
        return f"{self.catalog}.{self.schema}.{self.table}"


@dataclass(frozen=True, slots=True)
class Partitioning:
    """A time_interval node's partitions: the canonical grain, or ``None`` for one we do not know."""

    grain: str | None
    declared: str
    first_partition: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the manifest, as far as the graph needs it."""

    id: str
    kind: str
    label: str
    pipeline: str | None = None
    depends_on: tuple[str, ...] = ()
    target: Target | None = None
    strategy: str | None = None
    partitioning: Partitioning | None = None

    @property
    def name(self) -> str:
        """The node's own name: the id after ``<kind>:`` (``transformation:stg_orders``), else the label."""
        _kind, sep, rest = self.id.partition(":")
        return rest if sep and rest else self.label

    @property
    def ephemeral(self) -> bool:
        """Inlined into its consumers by the engine: no table, no task (``run --model`` refuses it)."""
        return self.strategy == "ephemeral"


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge (``edge_type``: ``data``, ``check``, ``governance``, or a newer one)."""

    source: str
    target: str
    edge_type: str


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: nodes in engine order, edges, and the engine that wrote it."""

    path: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    engine_version: str | None = None
    schema_version: str = "1"
    by_id: Mapping[str, Node] = field(default_factory=dict, repr=False)


_CACHE: dict[str, tuple[tuple[int, int], Manifest]] = {}


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and check the manifest at ``path`` (cached while the file is unchanged)."""
    text_path = os.fspath(path)
    try:
        stat = os.stat(text_path)
    except FileNotFoundError:
        raise ManifestError(text_path, "the file does not exist") from None
    except OSError as err:
        raise ManifestError(text_path, f"cannot be read ({err.strerror})") from None
    stamp = (stat.st_size, stat.st_mtime_ns)
    cached = _CACHE.get(text_path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        with open(text_path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise ManifestError(text_path, f"cannot be read ({err.strerror})") from None
    manifest = parse_manifest(raw, text_path)
    _CACHE[text_path] = (stamp, manifest)
    return manifest


def parse_manifest(raw: bytes | str, path: str = "<manifest>") -> Manifest:
    """Check a ``rocky dag --output json`` document; raise :class:`ManifestError` naming ``path``."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ManifestError(path, f"is not JSON ({err})") from None
    if not isinstance(data, dict):
        raise ManifestError(path, "is not a JSON object")
    command = data.get("command")
    if command not in (None, "dag") or not isinstance(data.get("nodes"), list):
        raise ManifestError(path, f"is not the output of `rocky dag` (command={command!r}, needs 'nodes')")
    schema_version = str(data.get("schema_version") or "1")
    if schema_version not in KNOWN_SCHEMA_VERSIONS:
        log.warning(
            "Rocky manifest %s has schema_version %s (this provider knows %s); reading it anyway",
            path,
            schema_version,
            ", ".join(sorted(KNOWN_SCHEMA_VERSIONS)),
        )
    nodes = tuple(_node(item, index, path) for index, item in enumerate(data["nodes"]))
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.id in by_id:
            raise ManifestError(path, f"two nodes have the id {shown(node.id)}")
        by_id[node.id] = node
    edges = _edges(data.get("edges"), path)
    _check_references(nodes, edges, by_id, path)
    version = data.get("version")
    return Manifest(
        path=path,
        nodes=nodes,
        edges=edges,
        engine_version=version if isinstance(version, str) else None,
        schema_version=schema_version,
        by_id=by_id,
    )


def _text(item: Mapping[str, Any], key: str, where: str, path: str, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ManifestError(path, f"{where}: '{key}' must be a non-empty string, got {shown(value)}")
    _checked(value, f"{where}: '{key}'", path)
    return value


def _checked(value: str, what: str, path: str, problem: Any = text_problem) -> str:
    """``value`` if the rules allow it, else a refusal naming ``what`` (the node and the field)."""
    found = problem(value)
    if found is not None:
        raise ManifestError(path, f"{what} {shown(value)} {found}")
    return value


def _node(item: Any, index: int, path: str) -> Node:
    where = f"nodes[{index}]"
    if not isinstance(item, dict):
        raise ManifestError(path, f"{where} is not an object")
    node_id = _text(item, "id", where, path)
    where = f"node {shown(node_id)}"
    kind = _text(item, "kind", where, path)
    label = _text(item, "label", where, path, required=False) or str(node_id)
    depends = item.get("depends_on") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise ManifestError(path, f"{where}: 'depends_on' must be a list of node ids")
    for dep in depends:
        _checked(dep, f"{where}: 'depends_on' entry", path)
    strategy = item.get("strategy")
    strategy_type = strategy.get("type") if isinstance(strategy, dict) else None
    assert node_id is not None and kind is not None
    return Node(
        id=node_id,
        kind=kind,
        label=label,
        pipeline=_text(item, "pipeline", where, path, required=False),
        depends_on=tuple(dict.fromkeys(depends)),
        target=_target(item.get("target"), where, path),
        strategy=strategy_type if isinstance(strategy_type, str) else None,
        partitioning=_partitioning(item.get("partition_shape"), strategy, where, path),
    )


def _target(value: Any, where: str, path: str) -> Target | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ManifestError(path, f"{where}: 'target' must be an object")
    catalog, schema, table = (value.get(key) for key in ("catalog", "schema", "table"))
    if not (isinstance(catalog, str) and isinstance(schema, str) and isinstance(table, str)) or not (
        schema and table
    ):
        raise ManifestError(
            path, f"{where}: 'target' needs string catalog, schema and table, got {shown(value)}"
        )
    for key, part in (("catalog", catalog), ("schema", schema), ("table", table)):
        if part:
            _checked(part, f"{where}: target {key}", path, table_part_problem)
    return Target(catalog, schema, table)


def _partitioning(shape: Any, strategy: Any, where: str, path: str) -> Partitioning | None:
    """The partition shape, else a time_interval strategy's own granularity (older manifests)."""
    declared, first = None, None
    if isinstance(shape, dict) and isinstance(shape.get("granularity"), str):
        declared, first = shape["granularity"], shape.get("first_partition")
    elif isinstance(strategy, dict) and strategy.get("type") in ("time_interval", "microbatch"):
        declared = strategy.get("granularity") or ("hour" if strategy.get("type") == "microbatch" else None)
        first = strategy.get("first_partition")
    if not isinstance(declared, str):
        return None
    _checked(declared, f"{where}: partition granularity", path)
    first = _checked(first, f"{where}: first_partition", path) if isinstance(first, str) else None
    grain = GRAINS.get(declared.strip().lower())
    if grain is None:
        log.warning("Rocky %s: unknown partition granularity %r; the engine picks", where, declared)
    return Partitioning(grain, declared, first)


def _edges(value: Any, path: str) -> tuple[Edge, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ManifestError(path, "'edges' must be a list")
    edges = []
    for index, item in enumerate(value):
        where = f"edges[{index}]"
        if not isinstance(item, dict):
            raise ManifestError(path, f"{where} is not an object")
        source, target = _text(item, "from", where, path), _text(item, "to", where, path)
        kind = item.get("edge_type")
        assert source is not None and target is not None
        edges.append(Edge(source, target, kind if isinstance(kind, str) else "data"))
    return tuple(edges)


def _check_references(
    nodes: Sequence[Node], edges: Sequence[Edge], by_id: Mapping[str, Node], path: str
) -> None:
    for node in nodes:
        for dep in node.depends_on:
            if dep not in by_id:
                raise ManifestError(
                    path, f"node {shown(node.id)} depends on {shown(dep)}, which is not a node"
                )
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in by_id:
                raise ManifestError(path, f"an edge names {shown(end)}, which is not a node")
