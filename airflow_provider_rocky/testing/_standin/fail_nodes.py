"""``ROCKY_STANDIN_FAIL_NODES``: make named models and seeds fail, always or their first N builds.

The knob lets a test show one node of a project failing (in ``rocky run --dag``, in ``rocky run
--model``, in ``rocky seed``) and then, with a count, a retry of that node alone succeeding::

    ROCKY_STANDIN_FAIL_NODES="fct_daily_orders"        # every build of the model fails
    ROCKY_STANDIN_FAIL_NODES="fct_daily_orders:1"      # its first build fails, the next ones succeed
    ROCKY_STANDIN_FAIL_NODES="transformation:a,seed:country_codes:2"

A name is a model's or a seed's (a node label); a ``transformation:`` or ``seed:`` id prefix is
accepted. Builds are counted per project directory in ``.rocky/standin-failures/<name>`` (one byte
per failed build, appended), so separate engine processes (the DAG run, then a retry) share the count.
One build is one process building the node, whatever number of partitions it runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from airflow_provider_rocky.testing._standin.settings import KnobError

ENV_FAIL_NODES = "ROCKY_STANDIN_FAIL_NODES"
#: The node kinds the knob can fail (a pipeline node fails through the scenarios instead).
KINDS = ("transformation", "seed")
OTHER_KINDS = ("load", "replication", "quality", "snapshot", "source", "test")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
COUNTS_DIR = Path(".rocky") / "standin-failures"


def parse(raw: str) -> dict[str, int | None]:
    """``name[:N],...`` → name → how many builds fail (``None``: every one)."""
    wanted: dict[str, int | None] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kind, sep, rest = item.partition(":")
        if sep and kind in KINDS:
            item = rest
        elif sep and kind in OTHER_KINDS:
            raise KnobError(
                f"invalid {ENV_FAIL_NODES} entry {item!r}: the stand-in fails {' and '.join(KINDS)} nodes"
            )
        name, _, count = item.partition(":")
        if not _NAME.fullmatch(name) or (count and not count.isdigit()):
            raise KnobError(f"invalid {ENV_FAIL_NODES} entry {item!r}: expected NAME or NAME:COUNT")
        wanted[name] = int(count) if count else None
    return wanted


class FailNodes:
    """This process's view of the knob: each named node decided once, counted once."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        self.wanted = parse(env.get(ENV_FAIL_NODES, ""))
        self.cwd = cwd
        self.decided: dict[str, bool] = {}

    def fails(self, name: str) -> bool:
        """Whether this build of ``name`` fails (the first call for a name counts the build)."""
        if name not in self.wanted:
            return False
        if name not in self.decided:
            self.decided[name] = self._count(name, self.wanted[name])
        return self.decided[name]

    def _count(self, name: str, times: int | None) -> bool:
        if times is None:
            return True
        counts = self.cwd / COUNTS_DIR
        counts.mkdir(parents=True, exist_ok=True)
        path = counts / name
        failed = path.stat().st_size if path.exists() else 0
        if failed >= times:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        return True


def model_error(name: str, target: str) -> str:
    """``errors[].error`` of a model the knob fails: a statement the warehouse rejected."""
    return (
        f"model '{name}' failed: statement failed on {target.lstrip('.')}: Binder Error: "
        'Referenced column "discount_code" not found in FROM clause!'
    )


def seed_error(name: str) -> str:
    """The error of a seed the knob fails (``SeedOutput.tables[].error``)."""
    return f"failed to load seed '{name}': Conversion Error: Could not convert string 'n/a' to INT32"
