"""A result's own counts against its own rows: where they disagree, the result contradicts itself.

An engine result carries both a tally (``failed: 5``, ``summary.error: 3``) and the rows it counted.
When the tally says more failed than the rows show, rows went missing somewhere (a truncated or
hand-edited result, a broken writer): the gate then fails closed, naming the disagreement, instead of
passing on the rows alone (issue 25: ``declarative: {failed: 5, results: []}`` exited 0 and passed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def count(block: Any, *names: str) -> int:
    """The sum of a block's (model's or mapping's) positive integer counts; anything else counts 0."""
    values = [block.get(n) if isinstance(block, dict) else getattr(block, n, None) for n in names]
    return sum(v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0)


def disagreements(tallies: Iterable[tuple[str, int, int]]) -> list[str]:
    """``(what, counted, shown)`` triples where the count exceeds the rows shown, as sentences."""
    return [
        f"{what} counts {counted} but lists {shown}" for what, counted, shown in tallies if counted > shown
    ]


def failing_closed(found: Iterable[str]) -> str:
    """The clause an error message ends with when the result contradicts itself (``""`` if not)."""
    listed = "; ".join(found)
    return f"; the result contradicts itself ({listed}): failing closed" if listed else ""
