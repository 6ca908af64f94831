"""A stand-in ``rocky`` engine for testing DAGs and the provider without the real binary.

The stand-in behaves like rocky 1.71.0 for a named scenario (``ROCKY_STANDIN_SCENARIO``; the table is in
``airflow_provider_rocky.testing.scenarios``): real argv parsing, tracing lines on stderr, one
``RunOutput`` JSON on stdout, the engine's exit codes and SIGTERM handling. Stdlib only: importing this
package never imports Airflow, pydantic or rocky-sdk.

Typical use in a test::

    from airflow_provider_rocky.testing import install_standin, read_record

    rocky = install_standin(tmp_path)             # an executable named "rocky"
    monkeypatch.setenv("ROCKY_STANDIN_SCENARIO", "partial")
    monkeypatch.setenv("ROCKY_STANDIN_RECORD", str(tmp_path / "record.jsonl"))
    ...                                           # run the DAG with binary_path=str(rocky)
    starts = [e for e in read_record(tmp_path / "record.jsonl") if e["event"] == "start"]
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.settings import CURRENT_VERSION, STANDIN_VERSION
from airflow_provider_rocky.testing.scenarios import SCENARIO_NAMES

__all__ = [
    "CURRENT_ENGINE_VERSION",
    "SCENARIOS",
    "STANDIN_VERSION",
    "install_standin",
    "read_record",
    "standin_command",
]

#: Today's engine version: ``ROCKY_STANDIN_ENGINE_VERSION`` set to it prints today's shapes.
CURRENT_ENGINE_VERSION = CURRENT_VERSION

#: Every scenario name ``ROCKY_STANDIN_SCENARIO`` accepts.
SCENARIOS: tuple[str, ...] = SCENARIO_NAMES

_MODULE = "airflow_provider_rocky.testing.engine"


def standin_command() -> list[str]:
    """argv prefix that runs the stand-in with this interpreter (no PATH or install step needed)."""
    return [sys.executable, "-m", _MODULE]


def install_standin(directory: str | os.PathLike[str]) -> Path:
    """Write an executable ``rocky`` into ``directory`` so it can be a ``binary_path`` or go on PATH."""
    target = Path(directory) / "rocky"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"#!{sys.executable}\n"
        '"""rocky stand-in (airflow_provider_rocky.testing); see ROCKY_STANDIN_SCENARIO."""\n'
        "import sys\n\n"
        f"from {_MODULE} import main\n\n"
        'if __name__ == "__main__":\n'
        "    sys.exit(main())\n",
        encoding="utf-8",
    )
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def read_record(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Events a ``ROCKY_STANDIN_RECORD`` file holds, in write order (``[]`` when it does not exist)."""
    record = Path(path)
    if not record.exists():
        return []
    events: list[dict[str, Any]] = []
    for line in record.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events
