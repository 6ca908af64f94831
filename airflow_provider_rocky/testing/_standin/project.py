"""The stand-in's demo project as a graph: ``rocky dag --output json``, and its pipelines run by name.

Every node kind of the engine's DAG output is in it (rocky 1.71's ``dag.schema.json``):

* ``raw_orders`` and ``raw_customers``: replication pipelines seen as ``source`` + ``load`` nodes (as
  the recorded ``dag.json`` shows them), ``raw_payments`` as a ``replication`` node;
* ``seed:country_codes``; ``transformation:stg_orders`` (ephemeral), ``dim_customers``
  (full_refresh), ``fct_daily_orders`` (time_interval, daily), ``fct_payments`` (incremental);
* ``snapshot:customers_history`` (a snapshot pipeline), ``quality:orders_quality`` (a quality
  pipeline checking ``fct_daily_orders``, a ``check`` edge) and ``test:fct_daily_orders``.

Models (pipeline ``marts``) run by name through the usual ``--model`` path (their targets are the
ones it prints: ``.marts.<name>``); the seed loads with ``rocky seed`` (``_standin/seeds.py``);
``rocky run --dag`` runs every node (``_standin/dag_run.py``). ``--pipeline <p>`` of a demo
pipeline runs that pipeline:
a replication pipeline copies its source's tables, the snapshot pipeline writes
``.snapshots.customers_history``, the quality pipeline materializes nothing.
``ROCKY_STANDIN_DAG_NODES=N`` makes ``rocky dag`` print a synthetic project of N nodes instead
(:func:`synthetic_dag`); the scenarios ``hard_failure``, ``garbage_stdout`` and ``hang`` shape the
``dag`` command's failures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.selection import Unit, replication_units
from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd
from airflow_provider_rocky.testing.scenarios import Scenario

ENV_DAG_NODES = "ROCKY_STANDIN_DAG_NODES"
#: Replication pipelines of the demo project and the source each one copies.
REPLICATION = {"raw_orders": "orders", "raw_customers": "customers", "raw_payments": "payments"}
SNAPSHOT_PIPELINE, SNAPSHOT_TARGET = "customers_history", ("", "snapshots", "customers_history")
QUALITY_PIPELINE = "orders_quality"
#: The transformation pipeline of the demo's models (the engine names it on every model and test
#: node: ``unified_dag.rs`` ``add_transformation_nodes``).
MODELS_PIPELINE = "marts"


def _target(table: str, schema: str = "marts") -> dict[str, str]:
    return {"catalog": "", "schema": schema, "table": table}


def _model(name: str, depends: Sequence[str], strategy: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"transformation:{name}",
        "kind": "transformation",
        "label": name,
        "pipeline": MODELS_PIPELINE,
        "depends_on": list(depends),
        "target": _target(name),
        "strategy": strategy,
        **extra,
    }


def demo_nodes() -> list[dict[str, Any]]:
    """The demo project's nodes, in the engine's order (sources first)."""
    nodes: list[dict[str, Any]] = []
    for pipeline in REPLICATION:
        kind = "replication" if pipeline == "raw_payments" else "load"
        source = {"id": f"source:{pipeline}", "kind": "source", "label": f"{pipeline} (source)"}
        nodes.append({**source, "pipeline": pipeline})
        nodes.append(
            {
                "id": f"{kind}:{pipeline}",
                "kind": kind,
                "label": f"{pipeline} ({kind})",
                "pipeline": pipeline,
                "depends_on": [f"source:{pipeline}"],
            }
        )
    nodes.append(
        {
            "id": "seed:country_codes",
            "kind": "seed",
            "label": "country_codes",
            "target": _target("country_codes"),
        }
    )
    nodes.append(_model("stg_orders", ["load:raw_orders"], {"type": "ephemeral"}))
    nodes.append(
        _model("dim_customers", ["load:raw_customers", "seed:country_codes"], {"type": "full_refresh"})
    )
    daily = {"type": "time_interval", "time_column": "order_date", "granularity": "day"}
    nodes.append(
        _model(
            "fct_daily_orders",
            ["transformation:stg_orders", "transformation:dim_customers"],
            {**daily, "first_partition": "2026-01-01"},
            partition_shape={"granularity": "daily", "first_partition": "2026-01-01"},
            freshness={"max_lag_seconds": 86400},
        )
    )
    nodes.append(
        _model(
            "fct_payments",
            ["replication:raw_payments"],
            {"type": "incremental", "timestamp_column": "paid_at"},
        )
    )
    snapshot = {
        "id": f"snapshot:{SNAPSHOT_PIPELINE}",
        "kind": "snapshot",
        "label": f"{SNAPSHOT_PIPELINE} (snapshot)",
    }
    nodes.append(
        {
            **snapshot,
            "pipeline": SNAPSHOT_PIPELINE,
            "depends_on": ["transformation:dim_customers"],
            "target": dict(zip(("catalog", "schema", "table"), SNAPSHOT_TARGET, strict=True)),
        }
    )
    quality = {
        "id": f"quality:{QUALITY_PIPELINE}",
        "kind": "quality",
        "label": f"{QUALITY_PIPELINE} (quality)",
    }
    nodes.append({**quality, "pipeline": QUALITY_PIPELINE, "depends_on": ["transformation:fct_daily_orders"]})
    tests = {"id": "test:fct_daily_orders", "kind": "test", "label": "fct_daily_orders (tests)"}
    nodes.append({**tests, "pipeline": MODELS_PIPELINE, "depends_on": ["transformation:fct_daily_orders"]})
    return nodes


def synthetic_nodes(count: int, fan_in: int = 3) -> list[dict[str, Any]]:
    """``count`` nodes: one source + load, then models ``m00001``... each reading up to ``fan_in``
    earlier ones (every 10th model daily-partitioned, every 25th ephemeral)."""
    nodes: list[dict[str, Any]] = [
        {"id": "source:raw", "kind": "source", "label": "raw (source)", "pipeline": "raw_orders"},
        {
            "id": "load:raw",
            "kind": "load",
            "label": "raw (load)",
            "pipeline": "raw_orders",
            "depends_on": ["source:raw"],
        },
    ]
    for index in range(1, max(count - 2, 0) + 1):
        name = f"m{index:05d}"
        earlier = [
            f"transformation:m{index - step:05d}" for step in range(1, fan_in + 1) if index - step >= 1
        ]
        strategy: dict[str, Any] = {"type": "full_refresh"}
        extra: dict[str, Any] = {}
        if index % 25 == 0:
            strategy = {"type": "ephemeral"}
        elif index % 10 == 0:
            strategy = {"type": "time_interval", "time_column": "ts", "granularity": "day"}
            extra["partition_shape"] = {"granularity": "daily"}
        nodes.append(_model(name, earlier or ["load:raw"], strategy, **extra))
    return nodes[:count]


def _seed(index: int) -> dict[str, Any]:
    name = f"s{index:05d}"
    return {"id": f"seed:{name}", "kind": "seed", "label": name, "target": _target(name, "seeds")}


def shaped_nodes(shape: str, count: int) -> list[dict[str, Any]]:
    """About ``count`` nodes in a shape that resolving through ephemeral models makes costly.

    * ``hub``: ``k`` seeds, one ephemeral model reading them all, ``k`` models reading it (``k²``
      edges once the ephemeral model is resolved through pairwise);
    * ``ladder``: rung ``i`` is a seed, an ephemeral model reading the seed and the previous rung's
      ephemeral model, and a model reading that ephemeral model (model ``i`` depends on seeds
      ``1..i``: ``n²/2`` edges pairwise).
    """
    ephemeral = {"type": "ephemeral"}
    full = {"type": "full_refresh"}
    if shape == "hub":
        k = max((count - 1) // 2, 1)
        hub = _model("hub", [f"seed:s{i:05d}" for i in range(k)], ephemeral)
        return [
            *(_seed(i) for i in range(k)),
            hub,
            *(_model(f"m{i:05d}", ["transformation:hub"], full) for i in range(k)),
        ]
    if shape == "ladder":
        nodes: list[dict[str, Any]] = []
        for i in range(max(count // 3, 1)):
            previous = [f"transformation:e{i - 1:05d}"] if i else []
            nodes += [_seed(i), _model(f"e{i:05d}", [*previous, f"seed:s{i:05d}"], ephemeral)]
            nodes.append(_model(f"m{i:05d}", [f"transformation:e{i:05d}"], full))
        return nodes
    raise ValueError(f"unknown shape {shape!r} (hub, ladder)")


def dag_document(nodes: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A ``rocky dag --output json`` document: nodes, edges (``check`` into quality), layers, summary."""
    kinds = {node["id"]: node["kind"] for node in nodes}
    edges = [
        {"from": dep, "to": node["id"], "edge_type": "check" if node["kind"] == "quality" else "data"}
        for node in nodes
        for dep in node.get("depends_on", [])
    ]
    depth: dict[str, int] = {}
    for node in nodes:  # engine order puts every node after its dependencies
        depth[node["id"]] = 1 + max((depth.get(d, 0) for d in node.get("depends_on", [])), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node_id, level in depth.items():
        layers[level].append(node_id)
    counts: dict[str, int] = {}
    for kind in kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    return {
        "version": version,
        "schema_version": "1",
        "command": "dag",
        "nodes": nodes,
        "edges": edges,
        "execution_layers": layers,
        "summary": {
            "total_nodes": len(nodes),
            "total_edges": len(edges),
            "execution_layers": len(layers),
            "counts_by_kind": dict(sorted(counts.items())),
        },
    }


def project_nodes() -> list[dict[str, Any]]:
    """The project ``rocky dag`` prints and ``rocky run --dag`` runs: the demo, or a synthetic one."""
    raw = os.environ.get(ENV_DAG_NODES, "").strip()
    if raw and (not raw.isdigit() or int(raw) < 1):
        raise CommandError(f"[rocky stand-in] invalid {ENV_DAG_NODES} {raw!r}: expected an integer >= 1")
    return synthetic_nodes(int(raw)) if raw else demo_nodes()


def dag_command(inv: Invocation, scenario: Scenario, log: StderrLog, fmt: str, version: str) -> int:
    """``rocky dag``: the demo project (or ``ROCKY_STANDIN_DAG_NODES`` synthetic nodes) on stdout."""
    if scenario.hard_failure:
        raise CommandError(
            "failed to load models from models", ["models/fct_daily_orders.sql: unexpected EOF"]
        )
    if scenario.hang:
        while True:  # until signalled, like a compile that never finishes
            time.sleep(0.2)
    nodes = project_nodes()
    document = dag_document(nodes, version)
    log.info(f"dag: {len(nodes)} nodes, {len(document['edges'])} edges", nodes=len(nodes))
    text = render(document, "json") if fmt == "json" else f"{len(nodes)} nodes\n"
    write_fd(1, (text if scenario.stress != "garbage_stdout" else "dag: not json\n").encode("utf-8"))
    return 0


def pipeline_plan(inv: Invocation, catalog: str, table_count: int | None) -> tuple[str, list[Unit]] | None:
    """``run --pipeline <p>`` for a demo pipeline (no ``--model``): its type and units; else ``None``."""
    pipeline = inv.get("pipeline")
    if pipeline is None or inv.get("model") is not None:
        return None
    if pipeline in REPLICATION:
        filter_kv = ("source", REPLICATION[pipeline])
        if inv.get("filter"):
            key, _, value = str(inv.get("filter")).partition("=")
            filter_kv = (key, value)
        return "replication", replication_units(filter_kv, catalog, table_count)
    if pipeline == SNAPSHOT_PIPELINE:
        unit = Unit(
            True, SNAPSHOT_TARGET, *SNAPSHOT_TARGET, name=SNAPSHOT_PIPELINE, strategy="snapshot", rows=8
        )
        return "snapshot", [unit]
    if pipeline == QUALITY_PIPELINE:
        return "quality", []
    return None
