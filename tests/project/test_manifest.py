"""The manifest reader: the corpus dag.json, newer engines' shapes, and every refusal naming the file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from project_helpers import CORPUS_DAG, write_manifest

from airflow_provider_rocky._project.manifest import ManifestError, load_manifest, parse_manifest
from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes


@pytest.mark.skipif(not CORPUS_DAG.is_file(), reason="shared corpus not present")
def test_the_recorded_dag_json_reads() -> None:
    manifest = load_manifest(CORPUS_DAG)
    assert [(n.id, n.kind, n.pipeline) for n in manifest.nodes] == [
        ("source:playground", "source", "playground"),
        ("load:playground", "load", "playground"),
    ]
    assert manifest.by_id["load:playground"].depends_on == ("source:playground",)
    assert [(e.source, e.target, e.edge_type) for e in manifest.edges] == [
        ("source:playground", "load:playground", "data")
    ]
    assert manifest.schema_version == "1"


def test_a_newer_engines_manifest_still_reads(tmp_path: Path) -> None:
    """rocky-sdk 0.15/0.16 reject a snapshot strategy and an incremental model without a timestamp
    column; newer engines also add fields and kinds. None of that may break rendering."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "transformation:hist",
            "kind": "transformation",
            "label": "hist",
            "compiled": True,
            "strategy": {
                "type": "snapshot",
                "unique_key": ["id"],
                "strategy": "check",
                "hard_deletes": "new_record",
            },
            "target": {"catalog": "c", "schema": "s", "table": "hist"},
        },
        {
            "id": "transformation:inc",
            "kind": "transformation",
            "label": "inc",
            "strategy": {
                "type": "incremental",
                "unique_key": ["id"],
                "on_schema_change": "append_new_columns",
            },
            "freshness": {"warn_after": "12h"},
            "depends_on": ["transformation:hist"],
        },
        {
            "id": "transformation:odd",
            "kind": "transformation",
            "label": "odd",
            "strategy": {"type": "iceberg_merge_v9", "whatever": 1},
        },
        {"id": "metric:revenue", "kind": "metric", "label": "revenue", "depends_on": ["transformation:inc"]},
    ]
    path = write_manifest(tmp_path, nodes, new_top_level_block={"x": 1})
    manifest = load_manifest(path)
    assert [n.strategy for n in manifest.nodes] == ["snapshot", "incremental", "iceberg_merge_v9", None]
    assert manifest.by_id["metric:revenue"].kind == "metric"


@pytest.mark.parametrize(
    ("declared", "grain"),
    [
        ("daily", "day"),
        ("day", "day"),
        ("Hourly", "hour"),
        ("monthly", "month"),
        ("year", "year"),
        ("weekly", None),
    ],
)
def test_partition_grains_are_canonical(tmp_path: Path, declared: str, grain: str | None) -> None:
    node = {
        "id": "transformation:f",
        "kind": "transformation",
        "label": "f",
        "partition_shape": {"granularity": declared},
    }
    manifest = load_manifest(write_manifest(tmp_path, [node]))
    shape = manifest.nodes[0].partitioning
    assert shape is not None and shape.grain == grain and shape.declared == declared


def test_a_time_interval_strategy_without_a_partition_shape_is_partitioned(tmp_path: Path) -> None:
    strategy = {
        "type": "time_interval",
        "time_column": "d",
        "granularity": "month",
        "first_partition": "2026-01",
    }
    node = {"id": "transformation:f", "kind": "transformation", "label": "f", "strategy": strategy}
    shape = load_manifest(write_manifest(tmp_path, [node])).nodes[0].partitioning
    assert shape is not None and (shape.grain, shape.first_partition) == ("month", "2026-01")


def _refusal(tmp_path: Path, text: str) -> ManifestError:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert (
        str(path) in message and "rocky-airflow-manifest" in message and "rocky dag --output json" in message
    )
    return caught.value


def _doc(nodes: list[Any], **top: Any) -> str:
    """A document as the engine prints it, or (malformed nodes) as a broken file would hold it."""
    if all(isinstance(n, dict) and "id" in n and not n.get("depends_on") for n in nodes):
        return json.dumps({**dag_document(nodes, "1.71.0"), **top})
    return json.dumps({"version": "1.71.0", "command": "dag", "nodes": nodes, "edges": [], **top})


SOURCE = {"id": "source:p", "kind": "source", "label": "p", "pipeline": "p"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not JSON"),
        ("[]", "is not a JSON object"),
        (json.dumps({"command": "run", "status": "Success"}), "is not the output of `rocky dag`"),
        (json.dumps({"command": "dag", "nodes": {}}), "is not the output of `rocky dag`"),
        (_doc([SOURCE, SOURCE]), "two nodes have the id 'source:p'"),
        (_doc([{**SOURCE, "depends_on": ["load:ghost"]}]), "depends on 'load:ghost', which is not a node"),
        (_doc([{"kind": "source", "label": "x"}]), "nodes[0]: 'id' must be a non-empty string"),
        (_doc([{**SOURCE, "depends_on": "source:p"}]), "'depends_on' must be a list"),
        (_doc([{**SOURCE, "target": {"catalog": "c", "schema": "", "table": "t"}}]), "'target' needs string"),
        (_doc([SOURCE], edges=[{"from": "source:p", "to": "load:nope"}]), "an edge names 'load:nope'"),
        (_doc(["source:p"]), "nodes[0] is not an object"),
    ],
)
def test_a_broken_manifest_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert problem in _refusal(tmp_path, text).problem


def test_a_missing_manifest_names_the_file_and_the_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "manifest.json"
    with pytest.raises(ManifestError, match="does not exist; write it with `rocky-airflow-manifest"):
        load_manifest(missing)


def test_an_unknown_schema_version_is_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.json"
    path.write_text(_doc(demo_nodes(), schema_version="2"))
    with caplog.at_level(logging.WARNING):
        manifest = load_manifest(path)
    assert manifest.schema_version == "2" and len(manifest.nodes) == len(demo_nodes())
    assert "schema_version 2" in caplog.text


def test_an_unchanged_file_is_read_once_and_a_changed_one_again(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, demo_nodes())
    first = load_manifest(path)
    assert load_manifest(path) is first
    path.write_text(_doc(demo_nodes()[:2]))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert len(load_manifest(path).nodes) == 2


def test_node_names_come_from_the_id() -> None:
    manifest = parse_manifest(_doc(demo_nodes()))
    assert manifest.by_id["transformation:dim_customers"].name == "dim_customers"
    assert manifest.by_id["seed:country_codes"].name == "country_codes"
    assert manifest.by_id["transformation:stg_orders"].ephemeral
