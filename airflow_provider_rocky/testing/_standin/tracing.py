"""stderr of the stand-in: ``tracing`` JSON lines (contract §4), the compact text format, plain lines.

Every write goes straight to file descriptor 2 with ``os.write`` (one call per line where the kernel
allows it), so a reader sees each line the moment it is produced and lines of concurrent writers are
never split by a userspace buffer.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_RANK["OFF"] = -1


def write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (looping over short writes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime, *, micros: bool = False) -> str:
    """Format ``moment`` as RFC 3339 in UTC with a ``Z`` suffix (what serde/chrono print)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f" if micros else "%Y-%m-%dT%H:%M:%S")
    return text + "Z"


def new_run_id(moment: datetime | None = None) -> str:
    """A run id in the engine's ``run-YYYYMMDD-HHMMSS-NNN`` format (NNN = milliseconds)."""
    moment = moment or utc_now()
    return f"run-{moment.strftime('%Y%m%d-%H%M%S')}-{moment.microsecond // 1000:03d}"


def max_level(rust_log: str | None) -> int:
    """Most verbose level rank enabled by ``RUST_LOG`` (engine default ``info,salsa=warn``)."""
    if not rust_log:
        return _RANK["INFO"]
    best: int | None = None
    for directive in rust_log.split(","):
        target, sep, level = directive.strip().rpartition("=")
        if not sep:
            level = target or level
        elif not target.startswith("rocky"):
            continue
        rank = _RANK.get(level.strip().upper())
        if rank is not None:
            best = rank if best is None else max(best, rank)
    return _RANK["INFO"] if best is None else best


#: A tracing span as ``tracing_subscriber``'s JSON layer prints it: its fields, then ``name``.
Span = dict[str, Any]


def run_span(run_id: str) -> Span:
    """The ``run`` span of ``commands/run.rs`` (``#[tracing::instrument(name = "run", fields(run_id))]``)."""
    return {"run_id": run_id, "name": "run"}


class StderrLog:
    """The engine's stderr: structured events in JSON or text mode, plus raw/plain lines.

    ``spans`` is the span stack events are written in, root first (``tracing_subscriber``'s JSON
    layer prints the innermost as ``span`` and the stack as ``spans``, and neither key outside any
    span); by default the one ``run`` span of a ``rocky run``. :meth:`scoped` gives a log writing
    in another stack (``rocky run --dag``: the executor's events outside any span, a node's inside
    ``materialize.table``).
    """

    def __init__(
        self,
        *,
        json_mode: bool,
        run_id: str,
        rust_log: str | None = None,
        spans: list[Span] | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.run_id = run_id
        self.limit = max_level(rust_log)
        self.lines_written = 0
        self.spans: list[Span] = [run_span(run_id)] if spans is None else spans

    def scoped(self, spans: list[Span], run_id: str | None = None) -> StderrLog:
        """The same stderr, writing events inside ``spans`` (a sub-run: its own ``run_id``)."""
        scoped = StderrLog(json_mode=self.json_mode, run_id=run_id or self.run_id, spans=spans)
        scoped.limit = self.limit
        return scoped

    def enabled(self, level: str) -> bool:
        """True when an event at ``level`` passes the ``RUST_LOG`` filter."""
        return _RANK[level] <= self.limit

    def format_event(self, level: str, message: str, target: str, fields: dict[str, Any]) -> str:
        """Render one event the way ``tracing_subscriber::fmt`` does (JSON or compact text)."""
        stamp = rfc3339(utc_now(), micros=True)
        if self.json_mode:
            record: dict[str, Any] = {
                "timestamp": stamp,
                "level": level,
                "fields": {"message": message, **fields},
                "target": target,
            }
            if self.spans:  # no current span: the JSON layer prints neither key
                record["span"] = self.spans[-1]
                record["spans"] = self.spans
            return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        extra = "".join(f" {key}={value}" for key, value in fields.items())
        return f"{stamp} {level:>5} {_compact_spans(self.spans)}{message}{extra}"

    def event(
        self,
        level: str,
        message: str,
        *,
        target: str = "rocky::run",
        fields: dict[str, Any] | None = None,
        **more: Any,
    ) -> None:
        """Write one tracing event (dropped when ``RUST_LOG`` filters its level out).

        ``fields`` holds fields whose names are this method's own (an event's ``target`` field).
        """
        if self.enabled(level):
            self.plain(self.format_event(level, message, target, {**(fields or {}), **more}))

    def info(self, message: str, **fields: Any) -> None:
        """An INFO event on ``rocky::run``."""
        self.event("INFO", message, **fields)

    def warn(self, message: str, **fields: Any) -> None:
        """A WARN event on ``rocky::run``."""
        self.event("WARN", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        """An ERROR event on ``rocky::run``."""
        self.event("ERROR", message, **fields)

    def debug(self, message: str, **fields: Any) -> None:
        """A DEBUG event on ``rocky::run`` (visible with ``RUST_LOG=debug``)."""
        self.event("DEBUG", message, **fields)

    def plain(self, line: str) -> None:
        """A non-tracing stderr line (``Error: ...``, ``[rocky] ...``, ``warning: ...``)."""
        self.raw((line + "\n").encode("utf-8", "surrogateescape"))

    def raw(self, data: bytes) -> None:
        """Bytes exactly as given (used by the stress scenarios)."""
        write_fd(2, data)
        self.lines_written += data.count(b"\n")


def _compact_spans(spans: list[Span]) -> str:
    """The compact formatter's span prefix: ``name{field=value ...}:`` per span, root first."""
    parts = []
    for span in spans:
        fields = " ".join(f"{key}={value}" for key, value in span.items() if key != "name")
        parts.append(f"{span.get('name', '')}{{{fields}}}:")
    return "".join(parts) + (" " if parts else "")
