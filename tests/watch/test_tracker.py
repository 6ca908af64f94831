"""The producer's reading of ``rocky run --dag``'s stderr, fed the stand-in's real stream line by line.

What is checked is what a node task may act on: a node is ``failed``/``skipped`` the moment the engine
says so, ``completed`` only once a later layer starts (never earlier), a node that logged nothing
only at the end (``DagRunOutput``), and the published documents read back as written.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from rocky_sdk.types_generated import DagRunOutput
from standin.test_standin import base_env

from airflow_provider_rocky._engine.stderr import render_raw
from airflow_provider_rocky._watch.protocol import HEAD_KEY, Detail, Head, detail_key
from airflow_provider_rocky._watch.publisher import publish
from airflow_provider_rocky._watch.tracker import MAX_NODE_CHARS, WatchTracker
from airflow_provider_rocky.testing import standin_command


def _dag_run(tmp_path: Path, **env: str) -> tuple[list[bytes], DagRunOutput | None]:
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    done = subprocess.run(
        [*standin_command(), "--output", "json", "run", "--dag"],
        cwd=tmp_path,
        env=base_env(**env),
        capture_output=True,
        timeout=120,
    )
    out = DagRunOutput.model_validate_json(done.stdout) if done.stdout.strip() else None
    return done.stderr.splitlines(), out


def _statuses(tracker: WatchTracker) -> dict[str, str | None]:
    return {node_id: node.status for node_id, node in tracker.nodes.items()}


def _is_layer(raw: bytes, layer: int) -> bool:
    return b'"executing DAG layer"' in raw and f'"layer":{layer},'.encode() in raw


def test_completion_is_read_at_the_next_layer_failure_and_skip_at_once(tmp_path: Path) -> None:
    raws, out = _dag_run(tmp_path, ROCKY_STANDIN_FAIL_NODES="dim_customers")
    assert out is not None
    layer_of = {n.id: n.layer for n in out.nodes}
    tracker = WatchTracker("g", 1)
    for raw in raws:
        before = _statuses(tracker)
        line = render_raw(raw)
        if line is not None:
            tracker.feed(line)
        after = _statuses(tracker)
        changed = {n: s for n, s in after.items() if s != before.get(n)}
        for node_id, status in changed.items():
            if status == "completed":  # only when a later layer starts, and only for earlier nodes
                assert b'"executing DAG layer"' in raw, (node_id, raw)
                started = json.loads(raw)["fields"]["layer"]
                assert layer_of[node_id] < started
            elif status == "failed":
                assert b'"node failed"' in raw and node_id == "transformation:dim_customers"
            elif status == "skipped":
                assert b"skipping node" in raw
    live = _statuses(tracker)
    assert live["transformation:dim_customers"] == "failed"
    assert live["transformation:fct_daily_orders"] == live["snapshot:customers_history"] == "skipped"
    last = max(layer_of.values())
    # the last layer's nodes have no later layer: only the DagRunOutput decides them
    assert all(live.get(n) != "completed" for n, layer in layer_of.items() if layer == last)
    tracker.finish(out.nodes)
    assert _statuses(tracker) == {n.id: n.status for n in out.nodes}
    assert tracker.contradictions == []
    failed = tracker.nodes["transformation:dim_customers"]
    assert failed.error is not None and failed.error.startswith("1 model(s) failed (run_id: run-")
    assert failed.engine_run_id is not None and failed.engine_run_id in failed.error, "its own sub-run"


def test_a_node_that_logs_nothing_is_decided_only_by_the_final_report(tmp_path: Path) -> None:
    """``RUST_LOG=warn`` hides every INFO line: nothing completes live; failures still arrive at once."""
    raws, out = _dag_run(tmp_path, RUST_LOG="warn", ROCKY_STANDIN_FAIL_NODES="dim_customers")
    assert out is not None
    tracker = WatchTracker("g", 1)
    for raw in raws:
        if (line := render_raw(raw)) is not None:
            tracker.feed(line)
    live = _statuses(tracker)
    assert "completed" not in live.values()
    assert live["transformation:dim_customers"] == "failed"
    tracker.finish(out.nodes)
    assert _statuses(tracker) == {n.id: n.status for n in out.nodes}


def test_the_published_documents_read_back_and_only_changes_are_written_again(tmp_path: Path) -> None:
    raws, out = _dag_run(tmp_path)
    assert out is not None
    store: dict[str, Any] = {}
    writes: list[str] = []

    def push(key: str, value: Any) -> None:
        writes.append(key)
        store[key] = json.loads(json.dumps(value))

    tracker = WatchTracker("gen-1", 2)
    cut = next(i for i, raw in enumerate(raws) if _is_layer(raw, 2))
    for raw in raws[: cut + 1]:
        if (line := render_raw(raw)) is not None:
            tracker.feed(line)
    first = publish(tracker, push)
    head = Head.read(store[HEAD_KEY])
    assert head is not None and head.generation == "gen-1" and head.try_number == 2 and not head.final
    assert head.layer == 2 and set(head.nodes.values()) == {"completed"}
    seed = Detail.read(store[detail_key("seed:country_codes")])
    assert seed is not None and seed.status == "completed" and seed.live and seed.layer == 0
    assert any("seed loaded" in line for line in seed.lines)
    writes.clear()
    assert publish(tracker, push) == 0 and writes == [HEAD_KEY], "nothing new: the head only (a heartbeat)"
    for raw in raws[cut + 1 :]:
        if (line := render_raw(raw)) is not None:
            tracker.feed(line)
    tracker.finish(out.nodes)
    second = publish(tracker, push)
    assert first + second == len(out.nodes), "each node's detail written once"
    final = Head.read(store[HEAD_KEY])
    assert final is not None and final.final and final.nodes == {n.id: n.status for n in out.nodes}
    model = Detail.read(store[detail_key("transformation:fct_daily_orders")])
    assert model is not None and model.engine_run_id is not None and model.duration_ms is not None


def test_a_nodes_lines_are_bounded_and_the_dropped_ones_counted() -> None:
    from airflow_provider_rocky._engine.stderr import LogLine

    tracker = WatchTracker("g", 1)
    span = {"rocky.model.fqn": "transformation:m", "name": "materialize.table"}
    record = {"level": "INFO", "fields": {"message": "x"}, "target": "t", "span": span, "spans": [span]}
    for index in range(1000):
        tracker.feed(LogLine(20, f"line {index} " + "y" * 200, None, "INFO", record))
    node = tracker.nodes["transformation:m"]
    assert sum(len(text) for text in node.lines) <= MAX_NODE_CHARS
    assert node.dropped == 1000 - len(node.lines) and node.lines[-1].startswith("line 999 ")


def test_a_compile_error_for_the_nodes_own_model_is_kept_for_its_category() -> None:
    from airflow_provider_rocky._engine.stderr import LogLine

    tracker = WatchTracker("g", 1)
    span = {"rocky.model.fqn": "transformation:orders", "name": "materialize.table"}

    def feed(model: str, code: str) -> None:
        fields = {"message": "compile error", "model": model, "code": code, "message_": ""}
        record = {"level": "WARN", "fields": fields, "target": "rocky_cli::commands::run", "spans": [span]}
        tracker.feed(LogLine(30, "x", None, "WARN", record))

    feed("customers", "E001")  # every sub-run compiles the project: another model's error is not this one's
    assert tracker.nodes["transformation:orders"].compile_error is None
    feed("orders", "E010")
    assert tracker.nodes["transformation:orders"].compile_error == "E010: compile error"
