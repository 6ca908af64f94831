"""The producer's reading of ``rocky run --dag``'s stderr: each node's status as the engine reports it.

The engine (1.71) has no "node started" or "node completed" event. What it writes, and what this
reads (``rocky-core/src/dag_executor.rs`` ``DagExecutor::execute``):

* ``executing DAG layer`` (``layer``), outside any span, when a layer starts. Layers are barriers:
  every node of layer L has ended (and logged its failure, if it failed) before L+1 is logged;
* ``node failed`` (``node``, ``error``), inside the node's span, before the node's task returns;
* ``skipping node — upstream failure`` (``node``), outside any span, at the start of its layer;
* every event of a node's own work inside its ``materialize.table`` span, whose
  ``rocky.model.fqn`` is the node id (and, for a pipeline node, a nested ``run`` span with the
  sub-run's ``run_id``).

So a node is ``failed`` or ``skipped`` the moment the engine says so, and ``completed`` once a
later layer starts with no failure from it (it was seen in an earlier layer: it logged a line in
its span). A node that logged nothing (a quiet kind, or a ``RUST_LOG`` that hides ``info``) is
decided by the ``DagRunOutput`` at the end, which is authoritative for every node either way.

Pure bookkeeping, no I/O: :meth:`WatchTracker.feed` runs on the supervising loop for every stderr
line (cheap, never raises); :meth:`WatchTracker.snapshot` is taken by the publishing thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky._engine.stderr import LogLine
from airflow_provider_rocky._watch.protocol import UPSTREAM_FAILURE, Detail, Head

EXECUTOR_TARGET = "rocky_core::dag_executor"
NODE_SPAN = "materialize.table"
NODE_FIELD = "rocky.model.fqn"
#: A node's lines kept for its task's log: the last ones, within both bounds.
MAX_NODE_LINES = 200
MAX_NODE_CHARS = 16_000


@dataclass
class _Node:
    id: str
    layer: int | None = None
    status: str | None = None
    error: str | None = None
    engine_run_id: str | None = None
    duration_ms: int | None = None
    live: bool = False
    compile_error: str | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_NODE_LINES))
    chars: int = 0
    dropped: int = 0
    #: Bumped on every change of what its detail holds; published up to ``published``.
    version: int = 0
    published: int = 0

    def add(self, text: str) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.chars -= len(self.lines[0])
            self.dropped += 1
        self.lines.append(text)
        self.chars += len(text)
        while self.chars > MAX_NODE_CHARS and len(self.lines) > 1:
            self.chars -= len(self.lines.popleft())
            self.dropped += 1

    def decide(self, status: str, *, live: bool, error: str | None = None) -> None:
        self.status, self.live, self.version = status, live, self.version + 1
        if error is not None:
            self.error = error


def _node_of(record: dict[str, Any]) -> str | None:
    """The node id of the ``materialize.table`` span the event was written in, if any."""
    spans = record.get("spans")
    if isinstance(spans, list):
        for span in spans:
            if isinstance(span, dict) and span.get("name") == NODE_SPAN:
                fqn = span.get(NODE_FIELD)
                return fqn if isinstance(fqn, str) else None
    return None


class WatchTracker:
    """Every node's status, lines and sub-run so far; thread-safe between the loop and the publisher."""

    def __init__(self, generation: str, try_number: int, clock: Callable[[], float] = time.time) -> None:
        self.generation, self.try_number, self.clock = generation, try_number, clock
        self.started_at = clock()
        self.layer: int | None = None
        self.nodes: dict[str, _Node] = {}
        self.final = False
        self.error: dict[str, Any] | None = None
        #: Statuses the ``DagRunOutput`` changed after the stream had decided them (should not happen).
        self.contradictions: list[str] = []
        self._lock = threading.Lock()
        self._head_version = 0
        self._head_published = -1

    # -- the stream (the supervising loop) ------------------------------------------------------

    def feed(self, line: LogLine) -> None:
        """One rendered stderr line; only tracing records carry anything this reads."""
        record = line.record
        if record is None:
            return
        with self._lock:
            fields = record.get("fields")
            fields = fields if isinstance(fields, dict) else {}
            message = fields.get("message")
            node_id = _node_of(record)
            if node_id is None:
                if record.get("target") == EXECUTOR_TARGET:
                    self._executor_event(str(message), fields, line.text)
                return
            node = self._node(node_id)
            if node.layer is None:
                node.layer = self.layer
            node.add(line.text)
            if line.run_id and line.run_id != node.engine_run_id:
                node.engine_run_id, node.version = line.run_id, node.version + 1
            if message == "node failed" and record.get("target") == EXECUTOR_TARGET:
                node.decide("failed", live=True, error=str(fields.get("error") or "node failed"))
                self._head_version += 1
            elif message == "compile error" and fields.get("model") == node_id.partition(":")[2]:
                node.compile_error = f"{fields.get('code', '')}: {fields.get('message', '')}".strip(": ")

    def _executor_event(self, message: str, fields: dict[str, Any], text: str) -> None:
        if message == "executing DAG layer" and isinstance(fields.get("layer"), int):
            self._layer_started(fields["layer"])
        elif message.startswith("skipping node") and isinstance(fields.get("node"), str):
            node = self._node(fields["node"])
            node.layer = self.layer if node.layer is None else node.layer
            node.add(text)
            node.decide("skipped", live=True, error=UPSTREAM_FAILURE)
            self._head_version += 1

    def _layer_started(self, layer: int) -> None:
        """Every node seen in an earlier layer that did not fail has completed (the layer barrier)."""
        for node in self.nodes.values():
            if node.status is None and node.layer is not None and node.layer < layer:
                node.decide("completed", live=True)
        self.layer = layer
        self._head_version += 1

    def _node(self, node_id: str) -> _Node:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = _Node(node_id)
        return node

    # -- the end ------------------------------------------------------------------------------------

    def finish(self, nodes: Iterable[Any]) -> None:
        """The ``DagRunOutput``'s nodes (``id``, ``status``, ``layer``, ``duration_ms``, ``error``)."""
        with self._lock:
            for row in nodes:
                node = self._node(str(row.id))
                if node.status is not None and node.status != row.status:
                    self.contradictions.append(
                        f"{row.id}: {node.status} while running, {row.status} at the end"
                    )
                node.layer, node.duration_ms = row.layer, row.duration_ms  # published with a change
                if node.status != row.status:
                    node.decide(str(row.status), live=False, error=row.error)
            self.final = True
            self._head_version += 1

    def fail(self, error: dict[str, Any]) -> None:
        """The run ended without a ``DagRunOutput``: the nodes not decided get this error."""
        with self._lock:
            self.error, self.final = error, True
            self._head_version += 1

    # -- publishing (the publisher thread) ------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Something changed since the last published snapshot."""
        return self._head_version != self._head_published

    def snapshot(self, *, full: bool = False) -> tuple[Head, list[Detail], Callable[[], None]]:
        """The head, the details changed since the last commit, and the commit to call once published."""
        with self._lock:
            now = self.clock()
            decided = [node for node in self.nodes.values() if node.status is not None]
            changed = [node for node in decided if full or node.version != node.published]
            versions = [(node, node.version) for node in changed]
            head_version = self._head_version
            details = [self._detail(node, now) for node in changed]
            head = Head(
                generation=self.generation,
                try_number=self.try_number,
                started_at=self.started_at,
                updated_at=now,
                final=self.final,
                error=self.error,
                layer=self.layer,
                nodes={node.id: str(node.status) for node in decided},
            )

        def commit() -> None:
            with self._lock:
                for node, version in versions:
                    node.published = max(node.published, version)
                self._head_published = max(self._head_published, head_version)

        return head, details, commit

    def _detail(self, node: _Node, now: float) -> Detail:
        return Detail(
            generation=self.generation,
            node=node.id,
            status=str(node.status),
            at=now,
            layer=node.layer,
            error=node.error,
            engine_run_id=node.engine_run_id,
            duration_ms=node.duration_ms,
            live=node.live,
            compile_error=node.compile_error,
            lines=tuple(node.lines),
            lines_dropped=node.dropped,
        )
