"""Constants and environment knobs of the stand-in engine (stdlib only).

The knobs are read once per process from ``os.environ`` so a test can steer one subprocess without
touching the others. A malformed knob is a test-setup bug, so it fails loudly (see ``KnobError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The engine version the stand-in impersonates (``rocky --version`` and ``RunOutput.version``).
STANDIN_VERSION = "1.71.0"

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


class KnobError(ValueError):
    """A ``ROCKY_STANDIN_*`` variable holds a value the stand-in cannot use."""


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
    return Knobs(
        scenario=env.get(ENV_SCENARIO, "").strip() or "success",
        delay=delay,
        record_path=env.get(ENV_RECORD) or None,
        tables=_integer(env, ENV_TABLES, None, minimum=1),
        lines=lines,
        lines_per_sec=rate,
        seconds=_number(env, ENV_SECONDS, None),
    )
