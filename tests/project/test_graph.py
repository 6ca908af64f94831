"""Node → task mapping: what runs, what depends on what (through ephemerals), selection, task ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_rocky._project.graph import build_graph, task_id_for
from airflow_provider_rocky._project.manifest import ManifestError, Node, parse_manifest
from airflow_provider_rocky._project.select import SelectorError
from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes, synthetic_nodes


def _manifest(nodes: list[dict[str, Any]], edges: list[dict[str, str]] | None = None) -> Any:
    doc = dag_document(nodes, "1.71.0")
    if edges is not None:
        doc["edges"] = edges
    return parse_manifest(json.dumps(doc))


def _tasks(nodes: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {t.node.id: t for t in build_graph(_manifest(nodes), **kwargs).tasks}


def test_the_demo_project_maps_every_kind() -> None:
    tasks = _tasks(demo_nodes())
    assert {node_id: dict(t.runs) for node_id, t in tasks.items()} == {
        "load:raw_orders": {"pipeline": "raw_orders"},
        "load:raw_customers": {"pipeline": "raw_customers"},
        "replication:raw_payments": {"pipeline": "raw_payments"},
        "seed:country_codes": {"seed": "country_codes"},
        "transformation:dim_customers": {"model": "dim_customers", "pipeline": "marts"},
        "transformation:fct_daily_orders": {"model": "fct_daily_orders", "pipeline": "marts"},
        "transformation:fct_payments": {"model": "fct_payments", "pipeline": "marts"},
        "snapshot:customers_history": {"pipeline": "customers_history"},
        "quality:orders_quality": {"pipeline": "orders_quality"},
    }, "no task for sources, the ephemeral stg_orders or the test node"
    fct = tasks["transformation:fct_daily_orders"]
    assert set(fct.upstream) == {"load:raw_orders", "transformation:dim_customers"}, "through stg_orders"
    assert tasks["quality:orders_quality"].upstream == ("transformation:fct_daily_orders",)
    assert tasks["load:raw_orders"].upstream == (), "through the source node"
    assert tasks["quality:orders_quality"].table is None and tasks["load:raw_orders"].table is None
    assert tasks["snapshot:customers_history"].table is not None


def test_a_transformation_with_a_pipeline_passes_it() -> None:
    node = {"id": "transformation:m", "kind": "transformation", "label": "m", "pipeline": "marts"}
    assert dict(_tasks([node])["transformation:m"].runs) == {"model": "m", "pipeline": "marts"}


@pytest.mark.parametrize("kind", ["snapshot", "load"])
def test_a_pipeline_node_without_a_pipeline_is_refused(kind: str) -> None:
    """Every snapshot (and load) node names its pipeline at 1.71 (unified_dag.rs ~651): 0.1.0 ran a
    snapshot without one as ``--model``, a command line for a node the engine never emits."""
    with pytest.raises(ManifestError, match=f"node '{kind}:x' \\(kind {kind}\\) names no pipeline"):
        _tasks([{"id": f"{kind}:x", "kind": kind, "label": "x"}])


def test_a_seed_runs_as_a_seed_never_as_a_model_of_its_name() -> None:
    """0.1.0 ran a seed node as ``rocky run --model=<seed>``: refused by the engine (``model '<seed>'
    not found``), or, with a model of that name, the model ran and the seed never did."""
    nodes = [
        {"id": "seed:orders", "kind": "seed", "label": "orders"},
        {"id": "transformation:orders", "kind": "transformation", "label": "orders", "pipeline": "marts"},
    ]
    tasks = _tasks(nodes)
    assert dict(tasks["seed:orders"].runs) == {"seed": "orders"}
    assert dict(tasks["transformation:orders"].runs) == {"model": "orders", "pipeline": "marts"}


def test_two_nodes_that_would_run_the_same_command_are_refused_naming_both() -> None:
    """Two models of one name without a pipeline would both run `--model=orders`: one never would."""
    nodes = [
        {"id": "transformation:orders", "kind": "transformation", "label": "orders"},
        {"id": "model:orders", "kind": "transformation", "label": "orders"},
    ]
    with pytest.raises(ManifestError, match=r"'model:orders' and 'transformation:orders' would both run"):
        _tasks(nodes)
    assert set(_tasks(nodes, exclude=["id:model:orders"])) == {"transformation:orders"}


def test_dependencies_resolve_through_chains_of_ephemerals_and_unknown_kinds() -> None:
    nodes = [
        {"id": "seed:s", "kind": "seed", "label": "s"},
        {
            "id": "transformation:e1",
            "kind": "transformation",
            "label": "e1",
            "depends_on": ["seed:s"],
            "strategy": {"type": "ephemeral"},
        },
        {"id": "metric:x", "kind": "metric", "label": "x", "depends_on": ["transformation:e1"]},
        {
            "id": "transformation:e2",
            "kind": "transformation",
            "label": "e2",
            "depends_on": ["metric:x"],
            "strategy": {"type": "ephemeral"},
        },
        {
            "id": "transformation:f",
            "kind": "transformation",
            "label": "f",
            "depends_on": ["transformation:e2", "seed:s"],
        },
    ]
    tasks = _tasks(nodes)
    assert set(tasks) == {"seed:s", "transformation:f"}
    assert tasks["transformation:f"].upstream == ("seed:s",), "once, though reached twice"


@pytest.mark.parametrize("edge", [("transformation:t", "quality:q"), ("quality:q", "transformation:t")])
def test_a_quality_pipeline_runs_after_what_it_checks_whichever_way_the_edge_points(
    edge: tuple[str, str],
) -> None:
    nodes = [
        {"id": "transformation:t", "kind": "transformation", "label": "t"},
        {"id": "quality:q", "kind": "quality", "label": "q", "pipeline": "q"},
    ]
    if edge[0] == "quality:q":
        nodes[0]["depends_on"] = ["quality:q"]  # a manifest that wrote the check backwards
    manifest = _manifest(nodes, [{"from": edge[0], "to": edge[1], "edge_type": "check"}])
    tasks = {t.node.id: t for t in build_graph(manifest).tasks}
    assert tasks["quality:q"].upstream == ("transformation:t",)
    assert tasks["transformation:t"].upstream == ()


def test_a_cycle_is_refused_naming_it() -> None:
    nodes = [
        {
            "id": "transformation:a",
            "kind": "transformation",
            "label": "a",
            "depends_on": ["transformation:b"],
        },
        {
            "id": "transformation:b",
            "kind": "transformation",
            "label": "b",
            "depends_on": ["transformation:a"],
        },
    ]
    with pytest.raises(
        ManifestError, match="cycle: transformation:a -> transformation:b -> transformation:a"
    ):
        _tasks(nodes)


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [
        (["kind:seed"], [], {"seed:country_codes"}),
        (["pipeline:raw_*"], [], {"load:raw_orders", "load:raw_customers", "replication:raw_payments"}),
        (["fct_*"], [], {"transformation:fct_daily_orders", "transformation:fct_payments"}),
        (
            ["+fct_daily_orders"],
            ["kind:load"],
            {"transformation:fct_daily_orders", "transformation:dim_customers", "seed:country_codes"},
        ),
        (
            ["dim_customers+"],
            ["kind:quality"],
            {"transformation:dim_customers", "transformation:fct_daily_orders", "snapshot:customers_history"},
        ),
        (
            ["id:transformation:*"],
            ["name:fct_payments"],
            {"transformation:dim_customers", "transformation:fct_daily_orders"},
        ),
        (
            [],
            ["kind:transformation", "kind:load", "kind:replication"],
            {"seed:country_codes", "snapshot:customers_history", "quality:orders_quality"},
        ),
    ],
)
def test_select_and_exclude(select: list[str], exclude: list[str], expected: set[str]) -> None:
    assert set(_tasks(demo_nodes(), select=select, exclude=exclude)) == expected


def test_a_deselected_node_is_resolved_through() -> None:
    tasks = _tasks(demo_nodes(), exclude=["dim_customers"])
    assert set(tasks["transformation:fct_daily_orders"].upstream) == {
        "load:raw_orders",
        "load:raw_customers",
        "seed:country_codes",
    }
    assert set(tasks["snapshot:customers_history"].upstream) == {"load:raw_customers", "seed:country_codes"}


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ("fct_dialy_orders", "matches no node"),
        ("tag:nightly", "unknown field 'tag'"),
        ("+", "names nothing"),
        ("kind:", "empty pattern"),
    ],
)
def test_a_selector_that_selects_nothing_is_an_error(selector: str, problem: str) -> None:
    with pytest.raises(SelectorError, match=problem):
        _tasks(demo_nodes(), select=[selector])
    with pytest.raises(SelectorError, match="must be a list"):
        _tasks(demo_nodes(), select="kind:seed")  # type: ignore[arg-type]


def test_an_exclude_glob_may_match_nothing_an_exact_exclude_may_not() -> None:
    """The README's own exclude=["pipeline:legacy_*"] refused every project without such a pipeline."""
    assert len(_tasks(demo_nodes(), exclude=["pipeline:legacy_*"])) == len(_tasks(demo_nodes()))
    with pytest.raises(SelectorError, match="'fct_dialy_orders' matches no node"):
        _tasks(demo_nodes(), exclude=["fct_dialy_orders"])


def test_task_ids_are_readable_safe_and_unique() -> None:
    nodes = [
        {"id": "transformation:orders", "kind": "transformation", "label": "orders"},
        # Same name, another kind: told apart by its pipeline (else refused, test above).
        {"id": "seed:orders", "kind": "seed", "label": "orders", "pipeline": "seeds"},
        {"id": "transformation:seed__orders", "kind": "transformation", "label": "seed__orders"},
        {"id": "transformation:café.daily revenue", "kind": "transformation", "label": "x"},
        {"id": "transformation:" + "x" * 300, "kind": "transformation", "label": "long"},
    ]
    ids = [t.task_id for t in build_graph(_manifest(nodes)).tasks]
    assert ids[:3] == ["orders", "seed__orders", "seed__orders__2"]
    assert ids[3].startswith("cafe_daily_revenue__") and len(ids[3]) == len("cafe_daily_revenue__") + 8
    assert len(ids[4]) <= 200 and len(set(ids)) == len(ids)
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for i in ids)
    assert task_id_for(Node("load:raw", "load", "raw (load)", pipeline="raw")) == "load__raw"


def test_a_thousand_node_project_and_a_deep_chain_resolve() -> None:
    graph = build_graph(_manifest(synthetic_nodes(1000)))
    assert len(graph.tasks) == 1000 - 1 - 39, "no task for the source and the 39 ephemeral models"
    chain = [
        {
            "id": f"transformation:c{i}",
            "kind": "transformation",
            "label": f"c{i}",
            "depends_on": [f"transformation:c{i - 1}"] if i else [],
        }
        for i in range(3000)
    ]
    last = build_graph(_manifest(chain), select=["c2999", "c0"]).tasks
    assert [(t.task_id, t.upstream) for t in last] == [("c0", ()), ("c2999", ("transformation:c0",))]
