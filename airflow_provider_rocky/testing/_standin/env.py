"""What one stand-in invocation runs with, and how its process ends (shared by every command)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.record import Recorder
from airflow_provider_rocky.testing._standin.settings import Knobs
from airflow_provider_rocky.testing._standin.signals import Interrupts
from airflow_provider_rocky.testing._standin.tracing import StderrLog
from airflow_provider_rocky.testing.scenarios import Scenario


@dataclass
class Outcome:
    """How the process ends: exit code, and the RunOutput status when JSON was printed."""

    exit_code: int
    status: str | None = None


@dataclass
class RunEnv:
    """Process-level inputs shared by every step of a run."""

    inv: Invocation
    scenario: Scenario
    knobs: Knobs
    env: Mapping[str, str]
    cwd: Path
    log: StderrLog
    recorder: Recorder
    interrupts: Interrupts
    output_format: str
