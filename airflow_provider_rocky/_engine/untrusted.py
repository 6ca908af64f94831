"""Engine output is untrusted input: JSON is parsed with a bounded depth, text is shown as one line.

Everything the engine writes (stderr lines, Pipes messages) reaches Python's JSON decoder and then a
log view. Two rules follow, applied by every parser of engine output (:mod:`.stderr`, :mod:`.pipes`):

* **Bounded JSON.** CPython's decoder recurses once per nesting level, so ~1,000 levels raise
  ``RecursionError``, which is not a ``ValueError`` and used to escape the parsers (the stderr reader
  died and the engine then blocked on a full pipe). :func:`loads` refuses a document nested deeper than
  :data:`MAX_JSON_DEPTH` *before* decoding it, with a ``ValueError`` like any other malformed input,
  so the caller's fallback (show the line as text, count a Pipes problem) applies. The bound is far
  above what rocky writes (3 levels for a tracing line, 4 for Pipes metadata) and far below the
  recursion limit, so whatever is decoded is also safe for every later consumer (``json.dumps``,
  Airflow's serializers). Decoding is msgspec's (a C decoder, ~3x ``json.loads`` on a tracing line, and
  already installed: Airflow's task SDK depends on it; orjson would be a new dependency for the same
  gain); a document msgspec refuses but Python accepts (a lone ``\\ud800`` escape, ``NaN``, an integer
  past 64 bits) goes to ``json.loads``, so what is accepted, and how it decodes, is Python's.
* **One visible line.** An engine line must stay one line in the task log: a ``\\n`` inside a JSON
  message must not start a line of its own (a forged ``Marking task as SUCCESS``), and terminal
  controls (ESC, CR, BS...) must not rewrite what a person sees. :func:`one_line` escapes them
  visibly. It also breaks ``::group::`` / ``::endgroup::`` *anywhere* in the text: Airflow's log view
  folds every record whose message *contains* one (``includes``, not ``startsWith``, in the UI's
  bundle), so a prefix would not neutralize it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

#: Deepest JSON nesting any parser of engine output accepts (objects and arrays count one level each).
MAX_JSON_DEPTH = 32

# A JSON string (skipped whole, so brackets inside strings do not count) or one bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')

#: Characters that would break a log line or change how it looks: C0/C1 controls except TAB (LF, CR,
#: ESC, BS, NUL, VT, FF...), DEL, Unicode line/paragraph separators, bidirectional overrides and
#: isolates, lone surrogates (from JSON ``\\ud800`` escapes; a UTF-8 log file cannot hold them).
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_MARKERS = {"::group::": "\\x3a:group::", "::endgroup::": "\\x3a:endgroup::"}


#: msgspec's decoder alone, for a caller that has bounded the depth already and falls back to
#: :func:`loads` on ``msgspec.DecodeError`` (the stderr fast path).
fast_loads = _DECODE = msgspec.json.Decoder().decode


def depth_within(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """``True`` when the JSON text ``text`` nests at most ``limit`` levels (strings are skipped)."""
    if isinstance(text, bytes):
        if text.count(b"{") + text.count(b"[") <= limit:
            return True
        text = text.decode("utf-8", "surrogateescape")
    if text.count("{") + text.count("[") <= limit:  # cannot nest deeper than it has openers
        return True
    depth = 0
    for match in _TOKENS.finditer(text):
        bracket = match.group()
        if bracket in "{[":
            depth += 1
            if depth > limit:
                return False
        elif bracket in "}]":
            depth -= 1
    return True


def loads(text: str | bytes) -> Any:
    """Decode JSON, raising only ``ValueError``, also for a document nested too deep to decode.

    ``bytes`` must be UTF-8 (a line as the engine wrote it: no decoding to ``str`` first); invalid
    UTF-8 is a ``ValueError`` too.
    """
    if not depth_within(text):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        try:
            return _DECODE(text)
        except (msgspec.DecodeError, UnicodeEncodeError):  # also refused by Python? Then malformed.
            # bytes decoded here, strictly: json.loads would guess UTF-16 from a NUL byte.
            return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:  # a caller already deep in its own stack: still only a bad document
        raise ValueError("JSON nested too deep to decode") from None


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def one_line(text: str, *, markers: bool = True) -> str:
    """``text`` as one visible log line: controls escaped (``\\n``, ``\\x1b``...), group markers broken.

    ``::group::`` becomes ``\\x3a:group::`` (and likewise ``::endgroup::``): still readable, no longer
    a marker Airflow's log view folds on. ``markers=False`` leaves markers alone, for a raw line kept
    to be parsed later (a JSON document has no raw control character, so escaping those keeps it valid;
    ``\\x3a`` would not).
    """
    if not text.isprintable():  # rare: isprintable() is the C-speed test for the common case
        text = _UNSAFE.sub(_escape, text)
    if markers and "group::" in text:
        for marker, broken in _MARKERS.items():
            while marker in text:  # again: breaking one can reveal another (``::group::group::``)
                text = text.replace(marker, broken)
    return text
