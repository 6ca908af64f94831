"""The single-writer state store: parallel tasks of one project must not open one state file at once.

The engine keeps its state (incremental watermarks, partition records, run history, idempotency keys)
in one redb file per project, and a second writer fails fast: ``state store at P is locked by another
process`` (category ``state``, retryable). Two parallel branches of a group would hit it on every run.

``state_isolation="pool"`` (the default) puts every task of the group into one Airflow pool per state
file, so the scheduler runs at most one of them at a time (the pool's slot count is the writer count:
create it with one slot that counts deferred tasks,
``airflow pools set <name> 1 "rocky state" --include-deferred``, since a deferred task's engine runs
while Airflow would otherwise have given its slot back; Airflow shows a DAG warning naming a pool
that does not exist, and does not schedule its tasks). Why it is the default: every node
keeps reading and writing the project's one state file, the same one ``rocky run --all`` and the CLI
use, so a model's incremental watermark and a time_interval model's partition record stay where the
engine looks for them, whichever shape or tool ran it last. The price is that branches do not run
in parallel (the engine's own parallelism is the one-run shape).

``state_isolation="namespace"`` gives each node its own ``--state-namespace`` (``<base>__<task id>``),
so branches run in parallel without a pool. The price: each node's watermark lives in its own
namespace file. Safe as long as a node always runs under this group; a ``rocky run --all`` or a CLI run
on the default state file then starts that model from no watermark (a full reprocess for an
incremental model). ``"none"`` turns the guard off (a pool of your own, or ``max_active_tasks=1``).

The pool is named after what locates the state file and is known at parse time without a connection
lookup: ``rocky_state__<conn_id>``, plus a short hash of the ``project_dir`` / ``state_path`` /
``state_namespace`` overrides when ``operator_args`` set any (``state_pool=`` names it yourself).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

ISOLATIONS = ("pool", "namespace", "none")
#: Task arguments that decide which state file the engine opens (``config_path`` and ``models_dir``
#: do not: the default state file is ``./models/.rocky-state.redb`` under the project directory).
STATE_LOCATORS = ("project_dir", "state_path", "state_namespace")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
DEFAULT_CONN_ID = "rocky_default"


def check_isolation(isolation: str, operator_args: Mapping[str, Any]) -> str:
    """Refuse an unknown mode, and a namespace per node on top of an explicit ``state_path``."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"state_isolation={isolation!r} must be one of {', '.join(map(repr, ISOLATIONS))}")
    if isolation == "namespace" and operator_args.get("state_path"):
        raise ValueError(
            "state_isolation='namespace' gives each node a --state-namespace, which the engine ignores "
            "with --state-path: drop state_path from operator_args or use state_isolation='pool'"
        )
    return isolation


def pool_name(operator_args: Mapping[str, Any]) -> str:
    """One pool per state file: ``rocky_state__<conn>`` (+ a hash of the state locators given)."""
    conn = str(operator_args.get("rocky_conn_id") or DEFAULT_CONN_ID)
    name = "rocky_state__" + _UNSAFE.sub("_", conn)
    locators = {key: str(operator_args[key]) for key in STATE_LOCATORS if operator_args.get(key)}
    if locators:
        digest = hashlib.sha256(json.dumps(locators, sort_keys=True).encode()).hexdigest()[:8]
        name += f"__{digest}"
    return name


def node_namespace(base: str | None, node_name: str) -> str:
    """A node's own ``--state-namespace`` (``^[a-zA-Z0-9_]+$``, as the engine requires)."""
    own = _UNSAFE.sub("_", node_name).strip("_") or "node"
    if len(own) > 80 or own != node_name:  # lossy or long: keep it unique with a short hash
        own = f"{own[:64]}_{hashlib.sha256(node_name.encode()).hexdigest()[:8]}"
    return f"{_UNSAFE.sub('_', base)}__{own}" if base else own
