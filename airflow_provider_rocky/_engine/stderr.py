"""Turn one line of rocky's stderr into a readable log record at the right level.

Under ``--output json`` the engine writes one ``tracing`` JSON object per line (contract §4); a person
reading the Airflow log at 3 a.m. wants ``rocky: WARN rocky::run drift on acme.orders run_id=...``,
not JSON. Lines that are not tracing JSON (``Error: ...``, clap usage text, ``[rocky] shutdown ...``)
pass through, with ``Error:``/``warning:`` prefixes mapped to their level.

Pure functions, no I/O: the same renderer serves the worker and the triggerer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

#: Lines longer than this (in characters, after decoding) are cut in the log; the tail keeps the cut
#: line too. A single 10 MB line must not become a 10 MB log record (Airflow issue #66158).
DEFAULT_MAX_LINE_CHARS = 8192

PREFIX = "rocky: "

_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}

#: Span fields worth showing after the message; everything else in a span is noise in a log view.
_SPAN_FIELDS = ("run_id",)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One rendered engine line: the ``logging`` level and the text to log (prefixed ``rocky: ``)."""

    level: int
    text: str


def decode(raw: bytes) -> str:
    """Decode a raw stderr line without ever failing: invalid UTF-8 becomes ``\\xNN`` escapes."""
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def cut(text: str, max_chars: int = DEFAULT_MAX_LINE_CHARS) -> str:
    """Cut ``text`` to ``max_chars``, saying how much was dropped."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]} ... [cut {len(text) - max_chars} more characters]"


def render(line: str, max_chars: int = DEFAULT_MAX_LINE_CHARS) -> LogLine:
    """Render one decoded stderr line; never raises."""
    stripped = line.strip()
    # Only parse lines of a sane size; a multi-MB "JSON" line is shown cut, as text.
    if stripped.startswith("{") and stripped.endswith("}") and len(stripped) <= 4 * max_chars:
        rendered = _render_tracing(stripped)
        if rendered is not None:
            return LogLine(rendered.level, cut(rendered.text, max_chars))
    return LogLine(_plain_level(stripped), cut(PREFIX + line, max_chars))


def _plain_level(line: str) -> int:
    lowered = line[:16].lower()
    if lowered.startswith(("error:", "error ", "thread 'main' panicked")):
        return logging.ERROR
    if lowered.startswith("warning:"):
        return logging.WARNING
    return logging.INFO


def _render_tracing(line: str) -> LogLine | None:
    # Called once per engine line, so written for speed: no copies, one string built in place.
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "level" not in record:
        return None
    level_name = str(record["level"]).upper()
    text = PREFIX + level_name
    target = record.get("target")
    if target:
        text += " " + str(target)
    fields = record.get("fields")
    if isinstance(fields, dict) and fields:
        message = str(fields.get("message", ""))
        if message:
            text += " " + message
        extras = [f"{key}={_fmt(value)}" for key, value in fields.items() if key != "message"]
        if extras:
            text += " " + " ".join(extras)
    span = record.get("span")
    if isinstance(span, dict):
        text += "".join(f" {key}={_fmt(span[key])}" for key in _SPAN_FIELDS if key in span)
    return LogLine(_LEVELS.get(level_name, logging.INFO), text)


def _fmt(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value if value and " " not in value else json.dumps(value)
    if kind is int:
        return str(value)  # what json.dumps gives, for a fraction of the cost
    return json.dumps(value, separators=(",", ":"))


def run_id_of(line: str) -> str | None:
    """Return ``span.run_id`` of a tracing line, if any: the only place rocky names its run id."""
    if '"run_id"' not in line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    span = record.get("span") if isinstance(record, dict) else None
    run_id = span.get("run_id") if isinstance(span, dict) else None
    return str(run_id) if run_id else None
