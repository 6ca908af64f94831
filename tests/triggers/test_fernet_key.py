"""The Fernet key a trigger opens its sealed command with: read once per process, never on the event loop.

``[core] fernet_key_cmd`` runs a command (a secrets manager's CLI, say) each time Airflow's config is
asked for the key. 0.1.0 asked on the triggerer's event loop for every trigger that started, so every
run on that triggerer stalled for as long as the command took, each time.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._task import secrets, wire
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger


@pytest.fixture
def key_by_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``[core] fernet_key_cmd`` printing a key and counting its runs (one line per run)."""
    from cryptography.fernet import Fernet

    runs = tmp_path / "runs"
    key = Fernet.generate_key().decode()
    monkeypatch.delenv("AIRFLOW__CORE__FERNET_KEY", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY_CMD", f"sh -c 'echo run >> {runs}; echo {key}'")
    return runs


def _sealed() -> dict[str, Any]:
    command = RockyCommand(
        argv=("/bin/sh", "-c", 'echo "{}"'),
        env={"TOKEN": "tok-fernet-cmd-1"},
        cwd=os.environ["ROCKY_TEST_WORKDIR"],
        secret_keys=("TOKEN",),
    )
    kwargs, sealed = secrets.seal_command(command)
    assert sealed and secrets.SEALED_ENV in kwargs
    return kwargs


def test_the_key_is_read_once_and_off_the_event_loop(
    key_by_command: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.configuration import conf

    kwargs = _sealed()  # the worker's process
    assert key_by_command.read_text().count("run") == 1
    secrets.forget_fernet()  # the triggerer is another process
    asked_on: list[int] = []
    real_get = conf.get

    def spying_get(section: str, key: str, *args: Any, **kw: Any) -> Any:
        if (section, key) == ("core", "fernet_key"):
            asked_on.append(threading.get_ident())
        return real_get(section, key, *args, **kw)

    monkeypatch.setattr(conf, "get", spying_get)

    async def two_triggers_start() -> tuple[int, list[Any]]:
        loop_thread = threading.get_ident()
        events = await asyncio.gather(*(anext(RockyRunTrigger(dict(kwargs)).run()) for _ in range(2)))
        return loop_thread, events

    loop_thread, events = asyncio.run(two_triggers_start())
    assert all(isinstance(wire.unpack(e.payload), wire.Finished) for e in events), "both opened it"
    assert key_by_command.read_text().count("run") == 2, "once in each process"
    assert asked_on and loop_thread not in asked_on, "never asked on the event loop's thread"
