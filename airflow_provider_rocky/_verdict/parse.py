"""Engine stdout → a rocky-sdk model, read right whatever the engine generation and the SDK version.

Fast path first: the SDK model validates the JSON directly (pydantic-core, no Python dict). Only when
that fails does the slow path load the document and:

* **repair the known older shapes**: engine 1.71 prints drift actions and anomalies without
  ``asset_key``, which rocky-sdk 0.16+ require (upstream #2073); the key is the dotted ``table``
  split on ``.``, the same key the engine emits since;
* **drop, with a note, what an informational block cannot hold**: an unknown enum value (a newer
  engine's decision, severity or verdict) or a malformed row inside diagnostics, volume, decisions,
  source syncs, anomalies, quarantine and the like is removed and said, never a failed task;
* and otherwise fail: a problem in an essential field (status, counts, materializations, errors,
  checks, budget) is an unreadable result (``output``).

Each command declares which top-level blocks are informational and which repairs apply
(:class:`Tolerance`); ``rocky run`` and ``rocky apply`` share :data:`RUN_TOLERANCE`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")
Repair = Callable[[dict[str, Any], list[str]], None]

#: Rounds of drop-and-retry before the slow path gives up (each round drops every reported row).
MAX_ROUNDS = 8
#: Characters of an offending value quoted in a note.
_QUOTE = 60


class ResultError(ValueError):
    """stdout is JSON but not a result this command's model can hold, even after the repairs."""


@dataclass(frozen=True)
class Tolerance:
    """What may be repaired or dropped in one command's output."""

    #: Top-level lists whose rows are informational: a bad row is dropped with a note.
    rows: frozenset[str] = frozenset()
    #: Top-level objects that are informational: a bad one becomes ``null`` with a note.
    blocks: frozenset[str] = frozenset()
    #: Per-row informational parts of an essential list, with what replaces a bad one
    #: (``materializations[].volume`` → ``None``, ``materializations[].notes`` → ``[]``).
    nested: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Informational rows inside an essential object (``drift.actions_taken``).
    inner_rows: Mapping[str, str] = field(default_factory=dict)
    repairs: Sequence[Repair] = ()


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """The validated model and what was repaired or dropped on the way (empty on the fast path)."""

    result: M
    notes: tuple[str, ...] = ()


def parse(model: type[M], stdout: bytes, tolerance: Tolerance) -> Parsed[M]:
    """Validate ``stdout`` as ``model``; raise :class:`ResultError` with a short reason."""
    from pydantic import ValidationError

    try:
        return Parsed(model.model_validate_json(stdout))
    except ValidationError as first:
        problem = first
    except RecursionError:
        raise ResultError("the document is nested too deeply to read") from None
    try:
        data = json.loads(stdout)
    except (ValueError, RecursionError) as err:
        raise ResultError(
            f"not JSON ({err})" if isinstance(err, ValueError) else "nested too deeply"
        ) from None
    if not isinstance(data, dict):
        raise ResultError(short(problem))
    return _repaired(model, data, tolerance)


def _repaired(model: type[M], data: dict[str, Any], tolerance: Tolerance) -> Parsed[M]:
    from pydantic import ValidationError

    notes: list[str] = []
    for repair in tolerance.repairs:
        repair(data, notes)
    for _ in range(MAX_ROUNDS):
        try:
            return Parsed(model.model_validate(data), tuple(notes))
        except ValidationError as err:
            if not _drop(data, err, tolerance, notes):
                raise ResultError(short(err)) from None
    raise ResultError("too many unreadable rows")


def _drop(data: dict[str, Any], err: ValidationError, tolerance: Tolerance, notes: list[str]) -> bool:
    """Remove every informational part the errors point at; ``False`` if one points elsewhere."""
    doomed: dict[tuple[Any, ...], str] = {}
    for problem in err.errors():
        target = _informational(problem["loc"], tolerance)
        if target is None:
            return False
        doomed.setdefault(target, f"{problem['msg']}: {_quote(problem.get('input'))}")
    for target in sorted(doomed, key=_row_order, reverse=True):  # rows from the end: indices hold
        _remove(data, target, tolerance)
        notes.append(f"dropped {_path(target)} ({doomed[target]})")
    return True


def _row_order(target: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in target)


def _informational(loc: Sequence[Any], tolerance: Tolerance) -> tuple[Any, ...] | None:
    """The row or block a validation error sits in, if that part may be dropped."""
    head = loc[0] if loc else None
    if head in tolerance.rows and len(loc) > 1 and isinstance(loc[1], int):
        return (head, loc[1])
    if head in tolerance.blocks:
        return (head,)
    parts = tolerance.nested.get(str(head))
    if parts and len(loc) > 2 and isinstance(loc[1], int) and loc[2] in parts:
        return (head, loc[1], loc[2])
    inner = tolerance.inner_rows.get(str(head))
    if inner and len(loc) > 2 and loc[1] == inner and isinstance(loc[2], int):
        return (head, inner, loc[2])
    return None


def _remove(data: dict[str, Any], target: tuple[Any, ...], tolerance: Tolerance) -> None:
    if len(target) == 1:
        data[target[0]] = None
    elif len(target) == 2:
        del data[target[0]][target[1]]
    elif isinstance(target[1], int):
        value = tolerance.nested[target[0]][target[2]]
        data[target[0]][target[1]][target[2]] = list(value) if isinstance(value, list) else value
    else:
        del data[target[0]][target[1]][target[2]]


def _path(target: tuple[Any, ...]) -> str:
    text = str(target[0])
    for part in target[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _quote(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _QUOTE else text[:_QUOTE] + "..."


def short(err: ValidationError) -> str:
    """One line for a validation error: how many problems, and the first one's place and message."""
    problems = err.errors()
    if not problems:
        return "invalid result"
    where = ".".join(str(part) for part in problems[0]["loc"]) or "<document>"
    return f"{len(problems)} problem(s), first at {where}: {problems[0]['msg']}"


def add_asset_key(block: str, rows: str | None = None) -> Repair:
    """Rows of ``block`` (``block[rows]`` when given) without ``asset_key`` get the dotted table's."""

    def repair(data: dict[str, Any], notes: list[str]) -> None:
        container = data.get(block)
        items = container.get(rows) if rows and isinstance(container, dict) else container
        if not isinstance(items, list):
            return
        fixed = 0
        for item in items:
            if isinstance(item, dict) and "asset_key" not in item and isinstance(item.get("table"), str):
                item["asset_key"] = item["table"].split(".")
                fixed += 1
        if fixed:
            where = f"{block}.{rows}" if rows else block
            notes.append(f"added asset_key to {fixed} {where} row(s) from their table (engine before #2073)")

    return repair


#: ``rocky run`` / ``rocky apply``: what the verdict rests on is essential, the rest informational.
RUN_TOLERANCE = Tolerance(
    rows=frozenset(
        {
            "model_decisions",
            "consumer_diagnostics",
            "source_syncs",
            "anomalies",
            "anomaly_evaluated",
            "contained",
            "quarantine",
            "excluded_tables",
            "override_warnings",
            "override_match_counts",
            "scheduling_warnings",
            "volume_warnings",
            "partition_summaries",
        }
    ),
    blocks=frozenset({"metrics", "execution", "cost_summary", "shadow_comparison"}),
    nested={
        "materializations": {
            "volume": None,
            "upstream_reads": None,
            "attempts": [],
            "notes": [],
            "job_ids": [],
        },
    },
    inner_rows={"drift": "actions_taken"},
    repairs=(
        add_asset_key("drift", "actions_taken"),
        add_asset_key("anomalies"),
        add_asset_key("anomaly_evaluated"),
    ),
)
