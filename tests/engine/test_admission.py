"""Bursts of starts on one loop: start slots, and one ``--version`` probe for runs that start together."""

from __future__ import annotations

import asyncio
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_rocky._engine import admission, version
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.run import EngineRun, RunLimits


def test_start_slots_bound_the_starts_and_free_once() -> None:
    held = most = 0

    async def one() -> None:
        nonlocal held, most
        free = await admission.start_slot()
        held += 1
        most = max(most, held)
        await asyncio.sleep(0.01)
        held -= 1
        free()
        free()  # idempotent: a second call must not hand out a ninth slot

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(5 * admission.MAX_STARTING)))

    asyncio.run(main())
    assert most == admission.MAX_STARTING


def test_a_running_engine_holds_no_start_slot(tmp_path: Path) -> None:
    """More runs than slots all run at once: a slot is given back at spawn, not at the end."""
    runs = admission.MAX_STARTING + 4
    started = tmp_path / "started"
    started.mkdir()
    code = textwrap.dedent(
        f"""
        import os, sys, time
        open(os.path.join({str(started)!r}, str(os.getpid())), "w").close()
        deadline = time.time() + 30
        while len(os.listdir({str(started)!r})) < {runs} and time.time() < deadline:
            time.sleep(0.05)
        sys.exit(0 if len(os.listdir({str(started)!r})) >= {runs} else 3)
        """
    )
    command = RockyCommand(argv=(sys.executable, "-c", code))

    async def main() -> list[int | None]:
        engine_runs = [EngineRun(command, RunLimits(), lambda _line: None) for _ in range(runs)]
        records = await asyncio.gather(*(run.run() for run in engine_runs))
        return [record.outcome.exit_code for record in records]

    assert asyncio.run(main()) == [0] * runs  # each saw all the others alive


def test_runs_starting_together_share_one_version_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(version, "_SEEN", {})
    probes = tmp_path / "probes"
    binary = tmp_path / "rocky"
    binary.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"open({str(probes)!r}, 'a').write('probe\\n')\n"
        "time.sleep(0.3)\n"
        "print('rocky 1.77.0')\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    command = RockyCommand(argv=(str(binary), "run"), cwd=str(tmp_path))

    async def main() -> list[str | None]:
        return await asyncio.gather(*(version.engine_version(command) for _ in range(20)))

    assert asyncio.run(main()) == ["rocky 1.77.0"] * 20
    assert probes.read_text().count("probe") == 1
