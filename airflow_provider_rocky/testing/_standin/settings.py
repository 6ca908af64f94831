"""Constants and environment knobs of the stand-in engine (stdlib only).

The knobs are read once per process from ``os.environ`` so a test can steer one subprocess without
touching the others. A malformed knob is a test-setup bug, so it fails loudly (see ``KnobError``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: The engine version the stand-in impersonates by default (``rocky --version``, ``RunOutput.version``):
#: the engine contract this provider was first written against.
STANDIN_VERSION = "1.71.0"
#: Today's engine: ``ROCKY_STANDIN_ENGINE_VERSION=1.77.0`` prints its shapes.
CURRENT_VERSION = "1.77.0"
#: The first engine after 1.71: drift/anomaly asset keys (#2073), gated runs as PartialFailure.
_CURRENT_FROM = (1, 72, 0)

#: Exit code for a stand-in setup error (unknown scenario, malformed knob). The real engine never uses
#: it, so a typo in a test cannot masquerade as an engine failure.
SETUP_ERROR_EXIT = 64

ENV_SCENARIO = "ROCKY_STANDIN_SCENARIO"
ENV_DELAY = "ROCKY_STANDIN_DELAY"
ENV_RECORD = "ROCKY_STANDIN_RECORD"
ENV_TABLES = "ROCKY_STANDIN_TABLES"
ENV_LINES = "ROCKY_STANDIN_LINES"
ENV_LINES_PER_SEC = "ROCKY_STANDIN_LINES_PER_SEC"
ENV_SECONDS = "ROCKY_STANDIN_SECONDS"
ENV_ENGINE_VERSION = "ROCKY_STANDIN_ENGINE_VERSION"
ENV_SYNC_EVERY = "ROCKY_STANDIN_SYNC_EVERY"
ENV_COOLDOWN = "ROCKY_STANDIN_COOLDOWN"
ENV_DRAIN = "ROCKY_STANDIN_DRAIN"
#: ``1``: every run starts the quiet helper of the ``grandchild`` scenario in its process group (a
#: process that never writes, so a closed pipe cannot end it: only a group kill does).
ENV_GRANDCHILD = "ROCKY_STANDIN_GRANDCHILD"


class KnobError(ValueError):
    """A ``ROCKY_STANDIN_*`` variable holds a value the stand-in cannot use."""


@dataclass(frozen=True)
class Generation:
    """Which engine the stand-in is: its version, and whether it prints the shapes after 1.71.

    1.71 shapes: drift actions and anomalies without ``asset_key``; a gated run exits 1 with status
    ``Success`` and no gate fields. Current shapes (1.72 and later; 1.77 is today's): ``asset_key`` on
    both; ``check_gate_failed``/``verify_after_failed``, a gated run that landed tables is
    ``PartialFailure`` with exit 2; the observation blocks (``anomaly_evaluated``, ``volume_warnings``,
    ``materializations[].volume``/``notes``, ``source_syncs``, ``consumer_diagnostics``, checks'
    ``not_evaluated``).
    """

    version: str = STANDIN_VERSION

    @property
    def current(self) -> bool:
        """True for engines after 1.71."""
        return tuple(int(part) for part in self.version.split(".")) >= _CURRENT_FROM


@dataclass(frozen=True)
class Knobs:
    """Parsed ``ROCKY_STANDIN_*`` environment variables."""

    scenario: str
    delay: float
    record_path: str | None
    tables: int | None
    lines: int
    lines_per_sec: float
    seconds: float | None
    engine: Generation = Generation()
    #: ``discover``: seconds between two syncs of each source (``None``: synced at midnight UTC).
    sync_every: float | None = None
    #: ``cooldown_seconds`` of the transient failures, instead of the scenario's 30/60.
    cooldown: int | None = None
    grandchild: bool = False
    #: Seconds the in-flight statements take to finish after the first shutdown signal (0: at once).
    drain: float = 0.0


def _number(
    env: Mapping[str, str], name: str, default: float | None, *, minimum: float = 0.0
) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise KnobError(f"invalid {name} {raw!r}: expected a number") from None
    if value < minimum or value != value or value in (float("inf"), float("-inf")):
        raise KnobError(f"invalid {name} {raw!r}: expected a finite number >= {minimum:g}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise KnobError(f"invalid {name} {raw!r}: expected an integer") from None
    if value < minimum:
        raise KnobError(f"invalid {name} {raw!r}: expected an integer >= {minimum}")
    return value


def read_knobs(env: Mapping[str, str] | None = None) -> Knobs:
    """Read every knob from ``env`` (default ``os.environ``); raise ``KnobError`` on a bad value."""
    env = os.environ if env is None else env
    delay = _number(env, ENV_DELAY, 0.02)
    lines = _integer(env, ENV_LINES, 10000)
    rate = _number(env, ENV_LINES_PER_SEC, 100.0, minimum=0.001)
    assert delay is not None and lines is not None and rate is not None
    version = env.get(ENV_ENGINE_VERSION, "").strip() or STANDIN_VERSION
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise KnobError(f"invalid {ENV_ENGINE_VERSION} {version!r}: expected MAJOR.MINOR.PATCH, e.g. 1.77.0")
    return Knobs(
        scenario=env.get(ENV_SCENARIO, "").strip() or "success",
        delay=delay,
        record_path=env.get(ENV_RECORD) or None,
        tables=_integer(env, ENV_TABLES, None, minimum=1),
        lines=lines,
        lines_per_sec=rate,
        seconds=_number(env, ENV_SECONDS, None),
        engine=Generation(version),
        sync_every=_number(env, ENV_SYNC_EVERY, None, minimum=0.001),
        cooldown=_integer(env, ENV_COOLDOWN, None, minimum=1),
        grandchild=env.get(ENV_GRANDCHILD, "").strip().lower() in ("1", "true", "yes"),
        drain=_number(env, ENV_DRAIN, 0.0) or 0.0,
    )
