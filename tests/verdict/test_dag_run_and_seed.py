"""What a ``rocky run --dag`` and a ``rocky seed`` meant, from the process outcome alone (both SDKs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.dag_run import (
    completed_nodes,
    dag_run_report,
    dag_run_summary,
    interpret_dag_run,
)
from airflow_provider_rocky._verdict.seed import interpret_seed, seed_events, seed_summary


def _node(node_id: str, status: str, error: str | None = None, layer: int = 0) -> dict[str, Any]:
    kind, _, label = node_id.partition(":")
    return {
        "id": node_id,
        "kind": kind,
        "label": label,
        "layer": layer,
        "status": status,
        "duration_ms": 5,
        "error": error,
    }


def _dag_run(*nodes: dict[str, Any]) -> bytes:
    counts = {s: sum(1 for n in nodes if n["status"] == s) for s in ("completed", "failed", "skipped")}
    doc = {
        "version": "1.71.0",
        "command": "run --dag",
        "warnings": [],
        "total_nodes": len(nodes),
        "total_layers": 2,
    }
    return json.dumps({**doc, **counts, "duration_ms": 12, "nodes": list(nodes)}).encode()


def test_a_clean_dag_run_succeeds_and_lists_its_nodes() -> None:
    stdout = _dag_run(_node("seed:s", "completed"), _node("test:t", "skipped", layer=1))
    verdict = interpret_dag_run(ProcessOutcome(exit_code=0, stdout=stdout))
    assert verdict.outcome == "success" and completed_nodes(verdict.result) == {"seed:s"}
    summary = dag_run_summary(verdict)
    assert (summary["completed"], summary["skipped"], summary["nodes_completed"]) == (1, 1, ["seed:s"])
    json.dumps(summary)


def test_a_failed_node_fails_naming_it_and_keeps_what_completed() -> None:
    stdout = _dag_run(
        _node("seed:s", "completed"),
        _node("load:raw", "failed", "1 table(s) failed"),
        _node("transformation:m", "skipped", "upstream failure", layer=1),
    )
    tail = ["Error: DAG execution had 1 failed node(s)"]
    verdict = interpret_dag_run(ProcessOutcome(exit_code=1, stdout=stdout, stderr_tail=tail))
    assert (
        isinstance(verdict.error, exc.RockyEngineError) and verdict.error.retryable
    )  # nothing says a retry cannot help
    assert "load:raw: 1 table(s) failed" in verdict.error.reason
    assert dag_run_summary(verdict)["nodes_completed"] == ["seed:s"], "what landed is reported"
    lines = dag_run_report(verdict)
    assert ("  FAILED load:raw: 1 table(s) failed", True) in lines


def test_nodes_failing_on_a_held_state_store_are_retryable() -> None:
    held = "state store at models/.rocky-state.redb is locked by another process"
    verdict = interpret_dag_run(
        ProcessOutcome(exit_code=1, stdout=_dag_run(_node("load:raw", "failed", held)))
    )
    assert isinstance(verdict.error, exc.RockyStateBusyError) and verdict.error.retryable


def test_a_shutdown_signal_from_outside_is_an_interruption() -> None:
    """main.rs: the --dag arm bails "interrupted by shutdown signal" (exit 1, not 130, no JSON)."""
    outcome = ProcessOutcome(exit_code=1, stderr_tail=["Error: interrupted by shutdown signal"])
    verdict = interpret_dag_run(outcome)
    assert isinstance(verdict.error, exc.RockyInterruptedError) and verdict.error.retryable
    other = interpret_dag_run(ProcessOutcome(exit_code=1, stderr_tail=["Error: failed to build unified DAG"]))
    assert type(other.error) is exc.RockyEngineError


def _seed_output(*tables: dict[str, Any]) -> bytes:
    failed = sum(1 for t in tables if t.get("error"))
    doc = {"version": "1.71.0", "command": "seed", "seeds_dir": "seeds", "duration_ms": 3}
    return json.dumps(
        {**doc, "tables_loaded": len(tables) - failed, "tables_failed": failed, "tables": list(tables)}
    ).encode()


def _table(name: str, target: str, error: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "target": target,
        "rows": 0 if error else 3,
        "columns": 2,
        "duration_ms": 1,
        "error": error,
    }


def test_a_loaded_seed_is_one_event_for_its_table() -> None:
    verdict = interpret_seed(
        ProcessOutcome(exit_code=0, stdout=_seed_output(_table("cc", "wh.ref.cc"))),
        command=["rocky", "seed", "--filter=cc"],
    )
    assert verdict.outcome == "success"
    (spec,) = seed_events(verdict.result, namespace="duckdb:///data/wh.duckdb")
    assert spec.uri.endswith("/wh/ref/cc") and spec.extra["rows_copied"] == 3 and spec.extra["seed"] == "cc"
    assert seed_summary(verdict)["tables"] == [{"seed": "cc", "table": "wh.ref.cc", "rows": 3}]


@pytest.mark.parametrize(
    ("stdout", "code", "cls", "says"),
    [
        (
            _seed_output(_table("cc", "wh.ref.cc", "DDL execution failed for cc: boom")),
            1,
            exc.RockyEngineError,
            "cc -> wh.ref.cc: DDL",
        ),
        (_seed_output(), 0, exc.RockyUsageError, "loaded no seed named 'cc'"),
        (b"", 1, exc.RockyEngineError, "failed to resolve pipeline for seed"),
    ],
)
def test_what_fails_a_seed(stdout: bytes, code: int, cls: type[exc.RockyError], says: str) -> None:
    tail = [
        "Error: failed to resolve pipeline for seed",
        "",
        "Caused by:",
        "    0: multiple pipelines defined",
    ]
    verdict = interpret_seed(
        ProcessOutcome(exit_code=code, stdout=stdout, stderr_tail=tail),
        command=["rocky", "seed", "--filter=cc"],
    )
    assert type(verdict.error) is cls and says in verdict.error.reason
