"""Gate summaries and gate logs bounded in bytes, whatever the engine printed.

A gate's result is engine output, and engine output can be hostile or broken: a 1 MB check name, a
100,000-key map, 200,000 checks. Items were capped before (:data:`~.summary.MAX_ITEMS` per list);
bytes were not (10.5 MB summaries, a 100 MB plan summary, a 34 MB task log). Here:

* :func:`text` cuts any engine-given text to :data:`MAX_TEXT` characters *and* :data:`MAX_TEXT_BYTES`
  bytes of JSON (a character can take 12 bytes escaped), so one field is bounded in bytes;
* :func:`counts` keeps the :data:`MAX_KEYS` largest entries of a count map, keys cut;
* :func:`fit` is the guarantee: a summary over :data:`MAX_SUMMARY_BYTES` of JSON has its lists
  halved until it fits (each ``*_total`` stays exact) and says ``truncated: true``;
* :func:`listed` caps what a report logs: :data:`LOGGED` entries, then one line saying how many more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_rocky._verdict.summary import MAX_ITEMS, MAX_MESSAGE

#: Characters of one text field of a summary or a report line's value.
MAX_TEXT = MAX_MESSAGE
#: Bytes of one text field as JSON (``\\uXXXX`` escapes included).
MAX_TEXT_BYTES = 2 * MAX_TEXT
#: Keys kept of a count map (``statements_by_purpose``, freshness ``counts``).
MAX_KEYS = 20
#: The largest gate summary, as JSON (what the XCom table stores): 64 KiB.
MAX_SUMMARY_BYTES = 64 * 1024
#: Entries a gate report logs one line each; the rest is counted on one line.
LOGGED = 40
#: Fields a summary keeps whatever happens: what a callback or a downstream task branches on.
ESSENTIAL = ("outcome", "exit_code", "run_id", "category", "truncated")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def text(value: Any, chars: int = MAX_TEXT) -> str | None:
    """``value`` as text, cut to ``chars`` characters and ``2 * chars`` bytes of JSON (``None`` stays)."""
    if value is None:
        return None
    out = value if isinstance(value, str) else str(value)
    if len(out) > chars:
        out = out[:chars] + "…"
    while _json_size(out) > 2 * chars + 2:  # escaped text: a few passes at most
        out = out[: max(len(out) * 2 // 3, 1)] + "…"
    return out


def names(values: Iterable[Any], limit: int = MAX_ITEMS) -> list[str | None]:
    """The first ``limit`` values, each cut."""
    out: list[str | None] = []
    for value in values:
        if len(out) == limit:
            break
        out.append(text(value))
    return out


def counts(counter: Mapping[Any, int], limit: int = MAX_KEYS) -> dict[str, int]:
    """The ``limit`` largest counts, keys cut; the rest summed under ``"(other)"``."""
    ranked = sorted(counter.items(), key=lambda item: -item[1])
    kept = {str(text(key, 100)): count for key, count in ranked[:limit]}
    rest = sum(count for _key, count in ranked[limit:])
    return {**kept, "(other)": rest} if rest else kept


def fit(summary: dict[str, Any], limit: int = MAX_SUMMARY_BYTES) -> dict[str, Any]:
    """``summary`` within ``limit`` bytes of JSON: lists halved (totals kept), then extras dropped."""
    keep = MAX_ITEMS
    while _json_size(summary) > limit and keep:
        keep //= 2
        for key, value in summary.items():
            if isinstance(value, list) and len(value) > keep:
                summary[key] = value[:keep]
        summary["truncated"] = True
    if _json_size(summary) > limit:  # unreachable with text() and counts() shaping every field
        summary = {key: summary.get(key) for key in ESSENTIAL}
        summary["truncated"] = True
    return summary


def listed(
    items: Sequence[Any], line: Callable[[Any], tuple[str, bool]], what: str, limit: int = LOGGED
) -> list[tuple[str, bool]]:
    """One report line per item for the first ``limit`` items, then ``... and N more <what>``."""
    lines = [line(item) for item in items[:limit]]
    if len(items) > limit:
        lines.append((f"    ... and {len(items) - limit:,} more {what} (XCom summary: counts)", False))
    return lines
