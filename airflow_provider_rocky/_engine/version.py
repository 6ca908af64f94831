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

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from airflow_provider_rocky._engine.command import RockyCommand
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


def _identity(command: RockyCommand) -> str | None:
    """The binary file behind argv[0] (as the child's PATH resolves it), or ``None`` if none."""
    env = command.child_env()
    found = shutil.which(command.argv[0], path=env.get("PATH"))
    if found is None:
        return None
    real = os.path.realpath(found if os.path.isabs(found) else os.path.join(command.cwd or ".", found))
    try:
        stat = os.stat(real)
    except OSError:
        return None
    standin = sorted((k, v) for k, v in env.items() if k.startswith(_STANDIN_PREFIX) and "VERSION" in k)
    return f"{real}|{stat.st_size}|{stat.st_mtime_ns}|{standin}"


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
        found = _from_disk(identity)
        if found is None and (found := await _ask(command)) is not None:
            _to_disk(identity, found)
        _SEEN[identity] = found
    return _SEEN[identity]


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
