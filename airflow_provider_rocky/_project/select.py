"""``select=`` / ``exclude=``: which nodes of the manifest become tasks.

A selector is ``kind:<glob>``, ``pipeline:<glob>``, ``name:<glob>``, ``id:<glob>`` or a bare glob
(matched against the node's name and its id), with optional graph operators: ``+x`` adds everything
``x`` depends on, ``x+`` everything that depends on ``x`` (dbt's and cosmos's spelling). Globs are
``fnmatch`` patterns, case-sensitive. No ``select`` means every node; ``exclude`` then removes nodes.
A selector that matches nothing is an error naming it and the nearest names the manifest has (its node
names and ids, or the values of the field it names: ``kind:sed`` → ``seed``): a typo must not
silently render an empty group.
The one exception is an ``exclude`` glob (``pipeline:legacy_*``): a guard against what may not exist
(yet), so matching nothing is fine there; an exact name in ``exclude`` must still match.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from airflow_provider_rocky._project.manifest import Node

FIELDS: dict[str, Callable[[Node], Sequence[str]]] = {
    "kind": lambda node: (node.kind,),
    "pipeline": lambda node: (node.pipeline,) if node.pipeline else (),
    "name": lambda node: (node.name,),
    "id": lambda node: (node.id,),
}


class SelectorError(ValueError):
    """A selector that is malformed or matches no node."""


def _matcher(selector: str) -> Callable[[Node], bool]:
    field, sep, pattern = selector.partition(":")
    if sep and field in FIELDS:
        values = FIELDS[field]
    elif sep and field:
        known = ", ".join(f"{name}:" for name in FIELDS)
        raise SelectorError(f"selector {selector!r}: unknown field {field!r} (use {known} or a bare glob)")
    else:
        pattern = selector
        values = FIELDS["name"]
    if not pattern:
        raise SelectorError(f"selector {selector!r} has an empty pattern")
    if not sep:
        return lambda node: fnmatchcase(node.name, pattern) or fnmatchcase(node.id, pattern)
    return lambda node: any(fnmatchcase(value, pattern) for value in values(node))


def _nearest(core: str, nodes: Sequence[Node]) -> str:
    """``" (did you mean ...?)"``: up to 3 names of the manifest closest to the selector's pattern."""
    field, sep, pattern = core.partition(":")
    if sep and field in FIELDS:
        candidates = [{value for node in nodes for value in FIELDS[field](node)}]
        prefix = f"{field}:"
    else:  # a bare selector: the node names first, their ids only when no name is close
        candidates = [{node.name for node in nodes}, {node.id for node in nodes}]
        pattern, prefix = core, ""
    plain = pattern.replace("*", "").replace("?", "")
    for known in candidates:
        if near := difflib.get_close_matches(plain, sorted(known), n=3, cutoff=0.5):
            return f" (did you mean {', '.join(repr(prefix + name) for name in near)}?)"
    return ""


def _closure(start: Iterable[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node_id = stack.pop()
        if node_id not in seen:
            seen.add(node_id)
            stack.extend(edges.get(node_id, ()))
    return seen


def _matches(
    selector: str,
    nodes: Sequence[Node],
    upstream: Mapping[str, Sequence[str]],
    downstream: Mapping[str, Sequence[str]],
    *,
    may_match_nothing: bool = False,
) -> set[str]:
    text = selector.strip()
    with_up, with_down = text.startswith("+"), text.endswith("+")
    core = text.removeprefix("+").removesuffix("+").strip()
    if not core:
        raise SelectorError(f"selector {selector!r} names nothing")
    matcher = _matcher(core)
    found = {node.id for node in nodes if matcher(node)}
    if not found and not may_match_nothing:
        raise SelectorError(f"selector {selector!r} matches no node of the manifest{_nearest(core, nodes)}")
    result = set(found)
    if with_up:
        result |= _closure(found, upstream)
    if with_down:
        result |= _closure(found, downstream)
    return result


def selected_ids(
    nodes: Sequence[Node],
    select: Sequence[str],
    exclude: Sequence[str],
    upstream: Mapping[str, Sequence[str]],
    downstream: Mapping[str, Sequence[str]],
) -> set[str]:
    """Ids of the nodes ``select`` picks (all when empty) minus those ``exclude`` picks."""
    for name, given in (("select", select), ("exclude", exclude)):
        if isinstance(given, str):
            raise SelectorError(f"{name}= must be a list of selectors, got the string {given!r}")
    chosen = {node.id for node in nodes}
    if select:
        chosen = set().union(*(_matches(s, nodes, upstream, downstream) for s in select))
    for selector in exclude:
        glob = any(char in selector for char in "*?[")
        chosen -= _matches(selector, nodes, upstream, downstream, may_match_nothing=glob)
    return chosen
