"""Manifests for the project tests, DAGs built from them, and what their runs left behind."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes, synthetic_nodes

CORPUS_DAG = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "recorded" / "dag.json"
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
START = datetime(2026, 1, 1)


def write_manifest(
    directory: Path, nodes: list[dict[str, Any]], name: str = "manifest.json", **top: Any
) -> Path:
    """A ``rocky dag --output json`` document made of ``nodes``, saved under ``directory``."""
    path = directory / name
    path.write_text(json.dumps({**dag_document(nodes, "1.71.0"), **top}))
    return path


def demo_manifest(directory: Path) -> Path:
    """The stand-in demo project's manifest (what its ``rocky dag`` prints)."""
    return write_manifest(directory, demo_nodes())


def synthetic_manifest(directory: Path, count: int) -> Path:
    return write_manifest(directory, synthetic_nodes(count), name=f"synthetic-{count}.json")


def operator_args(workdir: Path, record: Path, **extra: Any) -> dict[str, Any]:
    """Every node task runs the stand-in in ``workdir``, recording its argv to ``record``."""
    env = {"ROCKY_STANDIN_RECORD": str(record), "ROCKY_STANDIN_DELAY": "0", **extra.pop("env", {})}
    return {"binary_path": STANDIN, "project_dir": str(workdir), "env_vars": env, **extra}


def spaced(argv: list[str]) -> list[str]:
    """``--flag=value`` tokens (how the provider passes values) as ``--flag value`` pairs."""
    out: list[str] = []
    for token in argv:
        out.extend(token.split("=", 1) if token.startswith("--") and "=" in token else [token])
    return out


def starts(record: Path) -> list[dict[str, Any]]:
    """The recorded engine starts, each argv in ``--flag value`` form."""
    return [{**e, "argv": spaced(e["argv"])} for e in read_record(record) if e["event"] == "start"]


def argv_of(record: Path, flag: str, value: str) -> list[str]:
    """The argv of the one recorded run that passed ``flag value``."""
    found = [e["argv"] for e in starts(record) if _has(e["argv"], flag, value)]
    assert len(found) == 1, f"expected one run with {flag} {value}, got {found}"
    return list(found[0])


def _has(argv: list[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in itertools.pairwise(argv))


def run_order(record: Path) -> list[str]:
    """The node each recorded run ran (``--model``'s or ``--pipeline``'s value; a seed's ``--filter``)."""
    out = []
    for event in starts(record):
        argv = event["argv"]
        for flag in ("--filter",) if "seed" in argv else ("--model", "--pipeline"):
            if flag in argv:
                out.append(argv[argv.index(flag) + 1])
                break
    return out


def plain(value: Any) -> Any:
    """A task's ``model``/``pipeline`` as the engine gets it: a group passes them as ``literal(...)``."""
    return getattr(value, "value", value)


def runs(task: Any) -> tuple[Any, Any]:
    """``(model, pipeline)`` of a group's task, unwrapped."""
    return plain(task.model), plain(task.pipeline)


def events_by_uri(events: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for uri, extra in events:
        grouped.setdefault(uri, []).append(extra)
    return grouped


def forbid_spawns_and_lookups(monkeypatch: Any) -> None:
    """Parse time is free: from here on, a spawn or a connection lookup fails the test."""
    import asyncio
    import subprocess

    # croniter's first import runs `file` (platform.architecture): Airflow's own, when a DAG builds its
    # default cron timetable; imported first so that only what the provider does is forbidden
    import croniter  # noqa: F401
    from airflow.sdk import BaseHook

    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("parse time must not spawn or look up a connection")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", forbidden)
    monkeypatch.setattr(BaseHook, "get_connection", forbidden)
