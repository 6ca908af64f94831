"""What the producer publishes in XCom while ``rocky run --dag`` runs, and what a node task leaves there.

Everything lives on the producer's task instance. Airflow clears a task instance's XComs when its
next try starts (not when it resumes from a deferral), so every document below lives exactly as long
as the producer try that wrote it: one *generation*, named by a random id.

* :data:`HEAD_KEY`: the try's head, rewritten as the run goes: its generation, whether it is final,
  the run-level error (no ``DagRunOutput``: config, compile, a missing binary, a signal), the current
  layer and every node's status so far (``completed``, ``failed``, ``skipped``);
* :func:`detail_key`: one document per node, written once its status is known, before the head
  names the status: the node's error, its engine lines (bounded), its sub-run id, layer, duration;
* :func:`taken_key`: written by a node *task* when a try of it acted on this generation's report
  for its node (succeeded or failed on it), so that a later try (a retry, a clear) knows the
  report was used and runs the node alone instead of acting on it again (cosmos#3001, #2947).

Documents are read tolerantly: unknown keys are ignored and a malformed document reads as absent,
so rows written by an older or newer release load (the upgrade rule). Values are JSON-native.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

VERSION = 1
HEAD_KEY = "rocky_watch"
#: A running producer rewrites its head at least this often, even when nothing changed.
HEARTBEAT_SECONDS = 10.0
#: A head not rewritten for this long while its producer still shows as running is a dead try's
#: (SIGKILLed before a new try cleared it): not trusted. Hosts' clocks must agree within it.
STALE_SECONDS = 60.0
#: The generation of a producer try that ended without publishing anything.
NO_REPORT = "-"
STATUSES = ("completed", "failed", "skipped")
#: Seconds between two reads of a producer by its waiting node tasks (one shared read per interval).
POLL_SECONDS = 2.0
UPSTREAM_FAILURE = "upstream failure"


def digest(node_id: str) -> str:
    """A short fixed-length name for a node id (ids are arbitrary text; XCom keys are bounded)."""
    return hashlib.sha256(node_id.encode("utf-8")).hexdigest()[:24]


def detail_key(node_id: str) -> str:
    """The XCom key of a node's detail document."""
    return f"{HEAD_KEY}.{digest(node_id)}"


def taken_key(node_id: str) -> str:
    """The XCom key a node task writes when a try of it acted on a generation's report."""
    return f"{HEAD_KEY}_taken.{digest(node_id)}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Head:
    """One producer try's report on the whole run."""

    generation: str
    try_number: int
    started_at: float
    updated_at: float
    final: bool = False
    #: The run-level failure: ``{"class", "category", "message"}`` (no ``DagRunOutput`` was read).
    error: Mapping[str, Any] | None = None
    layer: int | None = None
    nodes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, raw: Any) -> Head | None:
        """The head in ``raw`` (an XCom value), or ``None`` when it is absent or unreadable."""
        if not isinstance(raw, Mapping):
            return None
        generation = _text(raw.get("generation"))
        started, updated = _number(raw.get("started_at")), _number(raw.get("updated_at"))
        if not generation or started is None or updated is None:
            return None
        given = raw.get("nodes")
        nodes: Mapping[Any, Any] = given if isinstance(given, Mapping) else {}
        error = raw.get("error") if isinstance(raw.get("error"), Mapping) else None
        layer = raw.get("layer")
        return cls(
            generation=generation,
            try_number=int(raw.get("try_number") or 0),
            started_at=started,
            updated_at=updated,
            final=raw.get("final") is True,
            error=dict(error) if error else None,
            layer=layer if isinstance(layer, int) and not isinstance(layer, bool) else None,
            nodes={str(k): str(v) for k, v in nodes.items() if isinstance(v, str)},
        )

    def as_xcom(self) -> dict[str, Any]:
        """The JSON-native XCom value."""
        return {"v": VERSION, **asdict(self), "nodes": dict(self.nodes)}


@dataclass(frozen=True)
class Detail:
    """What the producer saw of one node."""

    generation: str
    node: str
    status: str
    at: float
    layer: int | None = None
    error: str | None = None
    #: The node's own ``rocky run`` sub-run (``run-...``), from the ``run`` span of its lines.
    engine_run_id: str | None = None
    #: The engine's ``duration_ms`` (``DagRunOutput``), or ``None`` when decided before it.
    duration_ms: int | None = None
    #: ``True`` when decided from the live stream, before the run ended.
    live: bool = False
    #: A compile error the engine logged for this model (``run.rs`` ``compile error``), if any.
    compile_error: str | None = None
    lines: tuple[str, ...] = ()
    lines_dropped: int = 0

    @classmethod
    def read(cls, raw: Any) -> Detail | None:
        """The detail in ``raw``, or ``None`` when absent or unreadable."""
        if not isinstance(raw, Mapping):
            return None
        generation, node, status = (
            _text(raw.get("generation")),
            _text(raw.get("node")),
            _text(raw.get("status")),
        )
        at = _number(raw.get("at"))
        if not generation or not node or not status or at is None:
            return None
        given = raw.get("lines")
        lines: list[Any] = given if isinstance(given, list) else []
        duration, layer = raw.get("duration_ms"), raw.get("layer")
        return cls(
            generation=generation,
            node=node,
            status=status,
            at=at,
            layer=layer if isinstance(layer, int) and not isinstance(layer, bool) else None,
            error=_text(raw.get("error")),
            engine_run_id=_text(raw.get("engine_run_id")),
            duration_ms=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
            live=raw.get("live") is True,
            compile_error=_text(raw.get("compile_error")),
            lines=tuple(str(line) for line in lines),
            lines_dropped=int(raw.get("lines_dropped") or 0),
        )

    def as_xcom(self) -> dict[str, Any]:
        """The JSON-native XCom value."""
        return {"v": VERSION, **asdict(self), "lines": list(self.lines)}


def taken_generation(raw: Any) -> str | None:
    """The generation a node task's earlier try acted on (``taken_key``'s value), if any."""
    return _text(raw.get("generation")) if isinstance(raw, Mapping) else None


def taken_value(generation: str, try_number: int) -> dict[str, Any]:
    """What a node task writes under :func:`taken_key`."""
    return {"v": VERSION, "generation": generation, "try_number": try_number}
