"""What ``rocky run --dag`` means: a status per node of the project, read from its ``DagRunOutput``.

Read with rocky-sdk's ``DagRunOutput`` (``schemas/dag_run.schema.json``; rocky-sdk 0.15 and 0.29 both
model it; 0.29 adds ``consumer_diagnostics``). Upstream ``commands/run_dag_exec.rs`` ``run_with_dag``
and ``rocky-core/src/dag_executor.rs``: every node is ``completed``, ``failed`` or ``skipped`` (a
``test`` node always, a node downstream of a failure with ``error: "upstream failure"``); with a failed
node the JSON is followed by ``Error: DAG execution had N failed node(s)`` and exit 1; a shutdown
signal aborts the run with ``Error: interrupted by shutdown signal``, exit 1 and no JSON (``main.rs``).

The verdict:

* a failed node fails the task, naming each failed node and its error; ``state`` (retryable) when
  every failure is the state store being held by another writer, else ``engine``;
* exit 1 without JSON saying ``interrupted by shutdown signal``: ``interrupted`` (retryable);
* otherwise success. The output names no tables, so the task's events are its declared outlets, and
  only those of nodes that ``completed`` (:func:`completed_nodes`): the operator drops the rest.

Kept apart from ``rocky run``'s interpreter so another command that prints a ``DagRunOutput``
(a watched DAG) can read it the same way.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.parse import Tolerance
from airflow_provider_rocky._verdict.summary import MAX_ITEMS, capped, cut, head
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with

INTERRUPTED = "interrupted by shutdown signal"
_STATE_BUSY = ("locked by another process", "is busy")


def _dag_run_model() -> Any:
    from rocky_sdk.types_generated import DagRunOutput

    return DagRunOutput


#: ``warnings`` and 0.29's ``consumer_diagnostics`` are informational: a bad row is dropped, noted.
DAG_RUN_READING = Reading(
    _dag_run_model, "DagRunOutput", Tolerance(rows=frozenset({"warnings", "consumer_diagnostics"}))
)


def completed_nodes(result: Any) -> set[str]:
    """Ids of the nodes that completed: the only ones whose tables may get asset events."""
    return {node.id for node in result.nodes if node.status == "completed"}


def failed_nodes(result: Any) -> list[Any]:
    """The nodes that failed, in the engine's order (layer, id)."""
    return [node for node in result.nodes if node.status == "failed"]


def decide_dag_run(outcome: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
    """A ``rocky run --dag`` that printed its ``DagRunOutput``."""
    failed = failed_nodes(result)
    if failed:
        shown = "; ".join(f"{node.id}: {str(node.error)[:300]}" for node in failed[:10])
        more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
        message = f"{len(failed)} node(s) of the project failed: {shown}{more}"
        busy = all(any(m in str(node.error).lower() for m in _STATE_BUSY) for node in failed)
        cls = exc.RockyStateBusyError if busy else exc.RockyEngineError
        return make.failed(make(cls, message, result), result)
    if outcome.exit_code != 0:
        message = make.error_text or f"rocky run --dag exited {outcome.exit_code} with no failed node"
        return make.failed(make(exc.RockyEngineError, message, result), result)
    return make.verdict("success", result, None)


def interpret_dag_run(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """Decide one finished ``rocky run --dag``; never raises."""
    verdict = interpret_with(outcome, DAG_RUN_READING, decide_dag_run, **kwargs)
    error = verdict.error
    if type(error) is exc.RockyEngineError and verdict.result is None and INTERRUPTED in error.reason:
        make = ErrorFactory(outcome, kwargs.get("command", ()))
        reason = f"rocky run --dag was stopped by a shutdown signal from outside this task ({INTERRUPTED})"
        verdict.error = make(exc.RockyInterruptedError, reason)
    return verdict


def dag_run_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """The XCom summary: counts, the failed and skipped nodes with their errors, the completed ones."""
    result = verdict.result
    summary = {**head(verdict), "engine_version": getattr(result, "version", None)}
    if result is None:
        return summary
    keys = ("total_nodes", "total_layers", "completed", "failed", "skipped", "duration_ms")
    summary.update({key: getattr(result, key) for key in keys})
    nodes = list(result.nodes)
    capped(summary, "nodes_failed", [n for n in nodes if n.status == "failed"], _node)
    capped(summary, "nodes_skipped", [n for n in nodes if n.status == "skipped"], _node)
    capped(summary, "nodes_completed", [n.id for n in nodes if n.status == "completed"])
    capped(summary, "warnings", list(result.warnings or []), cut)
    return summary


def _node(node: Any) -> dict[str, Any]:
    return {"id": node.id, "kind": node.kind, "error": cut(node.error)}


def dag_run_report(verdict: Verdict, pipes: PipesRecord | None = None) -> list[tuple[str, bool]]:
    """The end-of-run log lines: the counts, each failed or skipped node, the scheduling warnings."""
    result = verdict.result
    if result is None:
        return [(f"rocky run --dag: {verdict.outcome}", verdict.error is not None)]
    head = (
        f"rocky run --dag: {result.completed} of {result.total_nodes} node(s) completed, {result.failed} "
        f"failed, {result.skipped} skipped, in {result.total_layers} layer(s) ({result.duration_ms} ms)"
    )
    lines = [(head, bool(result.failed))]
    for node in [n for n in result.nodes if n.status != "completed"][:MAX_ITEMS]:
        reason = f": {node.error}" if node.error else ""
        lines.append((f"  {node.status.upper()} {node.id}{reason}", node.status == "failed"))
    lines += [(f"  scheduling warning: {text}", True) for text in list(result.warnings or [])[:MAX_ITEMS]]
    return lines
