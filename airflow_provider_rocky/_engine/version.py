"""The engine version gate: an engine older than the provider's floor is refused before the run.

The version is what ``rocky --version`` prints, read the way rocky-sdk reads it (``rocky 1.77.0``,
``1.77.0-dev``, ``1.77.0+sha`` and ``1.77`` all count; anything else is unreadable). Asking costs one
short process, so the answer is cached per binary file (its real path, size and modification time):
in this process, and on disk under the user's cache directory, so the next task on the same worker
or triggerer does not ask again. The probe runs through the same off-loop supervisor as a run, so it
never blocks the triggerer's event loop.

The gate is fail-open where rocky-sdk's is: an engine that cannot be asked (missing binary: the run
itself then reports it truthfully) or that prints something unreadable is let through with a
warning. Only a readable version below the floor is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from airflow_provider_rocky._engine.command import UNSET_ENV_NAMES, RockyCommand
from airflow_provider_rocky._engine.process import LineSink, ProcessRunner
from airflow_provider_rocky._engine.stderr import LogLine

#: The oldest engine this provider is written against: the contract it was read from (engine 1.71).
#: Older engines lack flags it may pass (``--state-namespace``, ``--idempotency-key`` ...).
MIN_ENGINE_VERSION = "1.71.0"
#: Seconds ``rocky --version`` may take.
PROBE_SECONDS = 30.0

_SEEN: dict[str, str | None] = {}


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``rocky 1.77.0`` → ``(1, 77, 0)``; ``None`` when the text names no version."""
    word = text.strip().removeprefix("rocky ").strip().split(maxsplit=1)
    if not word:
        return None
    core = word[0].split("-", 1)[0].split("+", 1)[0]
    try:
        parts = [int(part) for part in core.split(".")[:3]]
    except ValueError:
        return None
    major, minor, patch = (*parts, 0, 0, 0)[:3]
    return major, minor, patch


#: The stand-in engine (``airflow_provider_rocky.testing``) is one file that can be any engine: its
#: ``ROCKY_STANDIN_*`` environment says which, so it is part of the cached binary's identity.
_STANDIN_PREFIX = "ROCKY_STANDIN_"


#: The one ``ROCKY_STANDIN_*`` variable that changes what the stand-in says its version is.
_STANDIN_VERSION = f"{_STANDIN_PREFIX}ENGINE_VERSION"
#: Seconds a resolved ``argv[0]`` (a ``PATH`` search, a ``realpath``) is reused: a triggerer starting
#: 1,000 runs at once searched ``PATH`` 1,000 times on its loop. The file is still ``stat``-ed each time.
_RESOLVED_SECONDS = 1.0
_RESOLVED: dict[tuple[str, str | None, str | None], tuple[float, str | None]] = {}


def _child_value(command: RockyCommand, key: str) -> str | None:
    """``command.child_env()[key]`` without building the whole environment (one lookup)."""
    if key in command.env:
        return command.env[key]
    if key in UNSET_ENV_NAMES or any(key.startswith(prefix) for prefix in command.unset_env_prefixes):
        return None
    return os.environ.get(key)


def _resolved(binary: str, path: str | None, cwd: str | None) -> str | None:
    key, now = (binary, path, cwd), time.monotonic()
    hit = _RESOLVED.get(key)
    if hit is not None and now - hit[0] < _RESOLVED_SECONDS:
        return hit[1]
    found = shutil.which(binary, path=path)
    real = None if found is None else os.path.realpath(os.path.join(cwd or ".", found))
    _RESOLVED[key] = (now, real)
    return real


def _identity(command: RockyCommand) -> str | None:
    """The binary file behind argv[0] (as the child's PATH resolves it), or ``None`` if none."""
    real = _resolved(command.argv[0], _child_value(command, "PATH"), command.cwd)
    if real is None:
        return None
    try:
        stat = os.stat(real)
    except OSError:
        return None
    standin = _child_value(command, _STANDIN_VERSION)
    standin_items = [] if standin is None else [(_STANDIN_VERSION, standin)]
    return f"{real}|{stat.st_size}|{stat.st_mtime_ns}|{standin_items}"


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "airflow-provider-rocky" / "engine-versions.json"


def _from_disk(identity: str) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        value = json.loads(_cache_file().read_text()).get(_key(identity))
        return value if isinstance(value, str) else None
    return None


def _to_disk(identity: str, version: str) -> None:
    """Best effort (a read-only home just means asking again next time); atomic replace."""
    path = _cache_file()
    with contextlib.suppress(OSError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        known = json.loads(path.read_text()) if path.exists() else {}
        known[_key(identity)] = version
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".versions-")
        with os.fdopen(fd, "w") as handle:
            json.dump(known, handle)
        os.replace(tmp, path)


def _key(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


async def _ask(command: RockyCommand) -> str | None:
    probe = RockyCommand(argv=(command.argv[0], "--version"), env=command.env, cwd=command.cwd)
    runner = ProcessRunner(probe, on_line=lambda _line: None, deadline=time.time() + PROBE_SECONDS)
    outcome = await runner.run()
    text = outcome.stdout.decode("utf-8", "replace").strip()
    return text if outcome.exit_code == 0 and parse_version(text) is not None else None


async def engine_version(command: RockyCommand) -> str | None:
    """What the command's binary says it is (``rocky 1.77.0``), cached; ``None`` if it cannot say."""
    identity = _identity(command)
    if identity is None:
        return None
    if identity not in _SEEN:
        _SEEN[identity] = await _learn(command, identity)
    return _SEEN[identity]


#: Probes under way, by loop and binary: runs starting together wait for one ``--version``, not
#: one each (1,000 triggers loaded at once after an upgrade of rocky spawned 1,000 probes).
_PROBING: dict[tuple[int, str], asyncio.Task[str | None]] = {}


async def _learn(command: RockyCommand, identity: str) -> str | None:
    loop = asyncio.get_running_loop()
    key = (id(loop), identity)
    task = _PROBING.get(key)
    if task is None or task.done() or task.get_loop() is not loop:
        task = loop.create_task(_from_disk_or_ask(command, identity))
        _PROBING[key] = task
        task.add_done_callback(lambda done: _PROBING.pop(key, None) if _PROBING.get(key) is done else None)
    return await asyncio.shield(task)


async def _from_disk_or_ask(command: RockyCommand, identity: str) -> str | None:
    found = await asyncio.to_thread(_from_disk, identity)  # file I/O stays off the loop
    if found is None and (found := await _ask(command)) is not None:
        await asyncio.to_thread(_to_disk, identity, found)
    return found


async def refusal(command: RockyCommand, floor: str, on_line: LineSink) -> str | None:
    """Why this engine may not run (``None``: it may); warns when its version cannot be read."""
    seen = await engine_version(command)
    if seen is None:
        if _identity(command) is not None:
            on_line(
                LogLine(logging.WARNING, f"could not read `{command.argv[0]} --version`; not checking it")
            )
        return None
    version, lowest = parse_version(seen), parse_version(floor)
    if version is None or lowest is None or version >= lowest:
        return None
    sub = next((token for token in command.argv[1:] if not token.startswith("-")), "")
    needs = (
        "the oldest engine airflow-provider-rocky supports"
        if floor == MIN_ENGINE_VERSION
        else f"the oldest engine with `rocky {sub}`"
    )
    return (
        f"{command.argv[0]} is {seen}, older than {floor}, {needs}: upgrade rocky on this host "
        "(https://github.com/rocky-data/rocky/releases)"
    )
