"""Turn one line of rocky's stderr into a readable log record at the right level.

Under ``--output json`` the engine writes one ``tracing`` JSON object per line (contract §4); a person
reading the Airflow log at 3 a.m. wants ``rocky: rocky::run drift on acme.orders reason=...`` at
WARNING, not JSON. The level travels once, as the record's level: the word is not repeated in the
text (a level the logging module has no name for, say ``FATAL``, keeps its word). The run id is not
repeated on every line either: :class:`LogLine` carries it, and the supervisor logs it once per run
(``rocky: run id: run-...``; it is also the summary's ``run_id``). Lines that are not tracing JSON
(``Error: ...``, clap usage text, ``[rocky] shutdown ...``) pass through, with ``Error:``/``warning:``
prefixes mapped to their level.

Whatever the engine writes, :func:`render` returns one visible line and never raises: JSON is parsed
with a bounded depth and size, and the text is escaped (:mod:`.untrusted`); anything that cannot be
rendered is shown as plain text.

Pure functions, no I/O: the same renderer serves the worker and the triggerer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.untrusted import loads, one_line

#: Lines longer than this (in characters, after decoding) are cut in the log; the tail keeps the cut
#: line too. A single 10 MB line must not become a 10 MB log record (Airflow issue #66158).
DEFAULT_MAX_LINE_CHARS = 8192
#: A run id longer than this is cut (rocky's are 23 characters: ``run-YYYYMMDD-HHMMSS-NNN``).
MAX_RUN_ID_CHARS = 128

#: Marks every engine line in the task log, so it is recognisable among Airflow's own records.
PREFIX = "rocky: "

_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


@dataclass(frozen=True, slots=True)
class LogLine:
    """One rendered engine line: the ``logging`` level and the text to log (prefixed ``rocky: ``).

    ``run_id`` is the tracing span's run id (for the supervisor, which logs it once per run);
    ``label`` the engine's level word, dropped from ``text`` because the record's level carries it.
    """

    level: int
    text: str
    run_id: str | None = None
    label: str | None = None

    @property
    def labelled(self) -> str:
        """``text`` with the level word back, for places without a record level (an error message)."""
        if self.label is None or not self.text.startswith(PREFIX):
            return self.text
        return f"{PREFIX}{self.label} {self.text[len(PREFIX) :]}"


def decode(raw: bytes) -> str:
    """Decode a raw stderr line without ever failing: invalid UTF-8 becomes ``\\xNN`` escapes."""
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def cut(text: str, max_chars: int = DEFAULT_MAX_LINE_CHARS) -> str:
    """Cut ``text`` to ``max_chars``, saying how much was dropped."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]} ... [cut {len(text) - max_chars} more characters]"


def render(line: str, max_chars: int = DEFAULT_MAX_LINE_CHARS) -> LogLine:
    """Render one decoded stderr line as one visible log line; never raises."""
    stripped = line.strip()
    # Only parse lines of a sane size; a multi-MB "JSON" line is shown cut, as text.
    if stripped.startswith("{") and stripped.endswith("}") and len(stripped) <= 4 * max_chars:
        try:
            rendered = _render_tracing(_record(stripped))
        except Exception:  # any surprise in a hostile record: show the line as text
            rendered = None
        if rendered is not None:
            return LogLine(rendered.level, cut(rendered.text, max_chars), rendered.run_id, rendered.label)
    return LogLine(_plain_level(stripped), cut(PREFIX + one_line(line), max_chars))


def _plain_level(line: str) -> int:
    lowered = line[:16].lower()
    if lowered.startswith(("error:", "error ", "thread 'main' panicked")):
        return logging.ERROR
    if lowered.startswith("warning:"):
        return logging.WARNING
    return logging.INFO


def _record(line: str) -> dict[str, Any] | None:
    """The tracing record of a line, or ``None`` (not JSON, too deep, not a record)."""
    try:
        record = loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "level" in record else None


def _render_tracing(record: dict[str, Any] | None) -> LogLine | None:
    # Called once per engine line, so written for speed: no copies, one string built in place.
    if record is None:
        return None
    level_name = str(record["level"]).upper()
    level = _LEVELS.get(level_name)
    text = PREFIX if level is not None else f"{PREFIX}{level_name} "
    target = record.get("target")
    if target:
        text += str(target) + " "
    fields = record.get("fields")
    if isinstance(fields, dict) and fields:
        message = str(fields.get("message", ""))
        if message:
            text += message + " "
        text += " ".join(f"{key}={_fmt(value)}" for key, value in fields.items() if key != "message")
    return LogLine(
        logging.INFO if level is None else level,
        one_line(text.rstrip(" ")),
        _span_run_id(record),
        level_name if level is not None else None,
    )


def _span_run_id(record: dict[str, Any]) -> str | None:
    span = record.get("span")
    run_id = span.get("run_id") if isinstance(span, dict) else None
    return one_line(cut(str(run_id), MAX_RUN_ID_CHARS)) if run_id else None


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
    record = _record(line.strip())
    return _span_run_id(record) if record is not None else None
