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
from functools import lru_cache
from typing import Any, NamedTuple

from airflow_provider_rocky._engine.untrusted import MAX_JSON_DEPTH, fast_loads, loads, one_line

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
#: What :func:`_level_of` returns for a level word rocky writes as is (``"INFO"``), found in one lookup.
_KNOWN_LEVELS = {name: (level, name, PREFIX) for name, level in _LEVELS.items()}


class LogLine(NamedTuple):
    """One rendered engine line: the ``logging`` level and the text to log (prefixed ``rocky: ``).

    ``run_id`` is the tracing span's run id (for the supervisor, which logs it once per run);
    ``label`` the engine's level word, dropped from ``text`` because the record's level carries it;
    ``record`` the parsed tracing object itself (bounded, untrusted), for a reader that needs more
    than the text (a watched ``rocky run --dag``: its spans and fields), ``None`` for a plain line.
    A named tuple, not a frozen dataclass: one is made per engine line, and a frozen dataclass's
    ``__init__`` cost more than the rest of the line's rendering (benchmarks/README.md).
    """

    level: int
    text: str
    run_id: str | None = None
    label: str | None = None
    record: dict[str, Any] | None = None

    @property
    def labelled(self) -> str:
        """``text`` with the level word back, for places without a record level (an error message)."""
        if self.label is None or not self.text.startswith(PREFIX):
            return self.text
        return f"{PREFIX}{self.label} {self.text[len(PREFIX) :]}"


#: ``LogLine(...)`` without the named tuple's ``__new__`` (a Python function): once per engine line.
_new_line = tuple.__new__


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
        rendered = _tracing(stripped, max_chars)
        if rendered is not None:
            return rendered
    return LogLine(_plain_level(stripped), cut(PREFIX + one_line(line), max_chars))


def render_raw(raw: bytes, max_chars: int = DEFAULT_MAX_LINE_CHARS) -> LogLine | None:
    """Render one stderr line as the engine wrote it (bytes, no newline); ``None`` for a blank line.

    The same result as ``render(decode(raw))``, faster for the line rocky writes thousands of: a
    tracing object in valid UTF-8 is decoded straight from the bytes by msgspec, with the depth bound
    of :func:`.untrusted.loads` checked inline; anything else (plain text, invalid UTF-8, a lone
    surrogate, a line too big or too deep to parse here) takes the ``str`` path, which decides.
    """
    if raw[:1] == b"{":
        body = raw if raw[-1:] == b"}" else raw.rstrip()  # no copy for the usual line
        if (
            body[-1:] == b"}"
            and len(body) <= 4 * max_chars
            and body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH
        ):
            rendered = _fast_tracing(body, max_chars)
            if rendered is not None:
                return rendered
    text = decode(raw)
    return render(text, max_chars) if text.strip() else None


def _fast_tracing(body: bytes, max_chars: int) -> LogLine | None:
    try:
        record = fast_loads(body)
        return _render_tracing(record, max_chars) if type(record) is dict and "level" in record else None
    except Exception:  # malformed for msgspec, or a hostile record: the str path decides
        return None


def _tracing(document: str | bytes, max_chars: int) -> LogLine | None:
    try:
        record = _record(document)
        return None if record is None else _render_tracing(record, max_chars)
    except Exception:  # any surprise in a hostile record: the caller shows the line as text
        return None


def _plain_level(line: str) -> int:
    lowered = line[:16].lower()
    if lowered.startswith(("error:", "error ", "thread 'main' panicked")):
        return logging.ERROR
    if lowered.startswith("warning:"):
        return logging.WARNING
    return logging.INFO


def _record(line: str | bytes) -> dict[str, Any] | None:
    """The tracing record of a line, or ``None`` (not JSON, too deep, not a record)."""
    try:
        record = loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "level" in record else None


def _render_tracing(record: dict[str, Any], max_chars: int) -> LogLine:
    # Called once per engine line, so written for speed: one string built in place, the common
    # level and plain values without a function call.
    level, label, text = _level_of(record["level"])
    target = record.get("target")
    if target:
        text += f"{target} "
    fields = record.get("fields")
    if isinstance(fields, dict) and fields:
        message = str(fields.get("message", ""))
        if message:
            text += f"{message} "
        for key, value in fields.items():
            if key != "message":
                plain = type(value) is str and value and " " not in value
                text += f"{key}={value if plain else _fmt(value)} "
    text = one_line(text.rstrip(" "))
    cut_text = text if len(text) <= max_chars else cut(text, max_chars)
    return _new_line(LogLine, (level, cut_text, _span_run_id(record), label, record))  # no __new__ call


def _level_of(value: Any) -> tuple[int, str | None, str]:
    """The record level, the label kept apart from the text, and the text's start, for a level value."""
    known = _KNOWN_LEVELS.get(value) if type(value) is str else None
    if known is not None:
        return known
    name = str(value).upper()
    level = _LEVELS.get(name)
    if level is None:  # a word logging has no level for: INFO, and the word stays in the text
        return logging.INFO, None, f"{PREFIX}{name} "
    return level, name, PREFIX


def _span_run_id(record: dict[str, Any]) -> str | None:
    span = record.get("span")
    run_id = span.get("run_id") if isinstance(span, dict) else None
    return _shown_run_id(str(run_id)) if run_id else None


@lru_cache(maxsize=64)
def _shown_run_id(run_id: str) -> str:
    """The run id as shown: every line of a run carries the same one, so it is made safe once."""
    return one_line(cut(run_id, MAX_RUN_ID_CHARS))


def _fmt(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value if value and " " not in value else json.dumps(value)
    if kind is int:
        return str(value)  # what json.dumps gives, for a fraction of the cost
    return json.dumps(value, separators=(",", ":"))
