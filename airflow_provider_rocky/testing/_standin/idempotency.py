"""``--idempotency-key``: the engine's claim lifecycle (contract §3.6), on a JSON file beside the state.

Follows rocky-data/rocky at 1.71 (paths relative to its root):

* the entry is ``rocky_core::idempotency::IdempotencyEntry`` (``engine/crates/rocky-core/src/
  idempotency.rs``): ``key``, ``run_id``, ``state`` (``InFlight``/``Succeeded``/``Failed``),
  ``stamped_at``, ``expires_at``, ``dedup_on``;
* the claim is ``StateStore::idempotency_check_and_claim`` (``state.rs``) over ``classify_existing``
  (``idempotency.rs``): ``Succeeded`` skips (``SkippedIdempotent``); ``Failed`` skips under
  ``dedup_on = "any"`` and is adopted under ``"success"``; ``InFlight`` skips (``SkippedInFlight``)
  until its ``expires_at`` and is adopted after it. **Nobody checks whether the holder lives**: a
  claim left by a killed run deflects every caller until ``in_flight_ttl_hours`` pass;
* the finalize is ``StateStore::idempotency_finalize``: ``Succeeded`` is kept ``retention_days``;
  ``Failed`` is kept under ``"any"`` and deleted under ``"success"``; an entry held by another run id
  (or absent) is left alone;
* the settings are ``[state.idempotency]`` of ``rocky.toml`` (``config.rs`` ``IdempotencyConfig``,
  ``deny_unknown_fields``): ``retention_days`` (30), ``dedup_on`` (``"success"``), ``in_flight_ttl_hours``
  (24).

Which outcome finalizes as what is the run's business (``run_command.py``: ``commands/run.rs``
``finalize_idempotency*``). The store is read and written under the state file's writer lock
(``state_lock.py``), as the engine's local backend does inside its redb write transaction.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.tracing import rfc3339, utc_now

#: ``IdempotencyConfig``'s fields and defaults (``config.rs``).
DEFAULTS: dict[str, Any] = {"retention_days": 30, "dedup_on": "success", "in_flight_ttl_hours": 24}
DEDUP_POLICIES = ("success", "any")


def state_file(state_path: str | None, state_namespace: str | None, cwd: Path) -> Path:
    """The state file the engine would open (``rocky_core::state::resolve_state_path``)."""
    if state_path is not None:
        return cwd / state_path
    if state_namespace is not None:
        return cwd / "models" / ".rocky-state" / f"{state_namespace}.redb"
    return cwd / "models" / ".rocky-state.redb"


def store_path(state: Path) -> Path:
    """Where the stand-in keeps idempotency entries for ``state`` (the engine: a redb table in it)."""
    return state.with_name(state.name + ".idempotency.json")


@dataclass(frozen=True)
class Settings:
    """``[state.idempotency]``: how long claims and stamps live, and which outcomes dedup."""

    retention_days: int = DEFAULTS["retention_days"]
    dedup_on: str = DEFAULTS["dedup_on"]
    in_flight_ttl_hours: int = DEFAULTS["in_flight_ttl_hours"]

    @classmethod
    def from_toml(cls, block: object) -> Settings:
        """Read the TOML table like serde would (unknown fields refused, ``u32`` and the enum checked)."""
        if block is None:
            return cls()
        if not isinstance(block, dict):
            raise _config_error("invalid type: expected struct IdempotencyConfig for key `state.idempotency`")
        for name in block:
            if name not in DEFAULTS:
                expected = ", ".join(f"`{field}`" for field in DEFAULTS)
                raise _config_error(f"unknown field `{name}`, expected one of {expected}")
        values = {**DEFAULTS, **block}
        for name in ("retention_days", "in_flight_ttl_hours"):
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
                raise _config_error(f"invalid value: {value!r} for `{name}`, expected u32")
        if values["dedup_on"] not in DEDUP_POLICIES:
            raise _config_error(
                f"unknown variant `{values['dedup_on']}`, expected `success` or `any` for `dedup_on`"
            )
        return cls(values["retention_days"], values["dedup_on"], values["in_flight_ttl_hours"])


def _config_error(cause: str) -> CommandError:
    return CommandError("failed to load config from rocky.toml", [f"TOML parse error: {cause}"])


@dataclass(frozen=True)
class ClaimResult:
    """``claimed`` / ``adopted`` (go ahead), ``skip_completed`` / ``skip_in_flight`` (short-circuit).

    ``prior_run_id``: the run that holds (skips) or held (``adopted``) the key.
    """

    verdict: str
    prior_run_id: str | None = None

    @property
    def proceeds(self) -> bool:
        """True when this run claimed the key and runs (``Proceed`` or ``AdoptStale``)."""
        return self.verdict in ("claimed", "adopted")


def _parse(stamp: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None


class IdempotencyStore:
    """The entries of one state file; the caller holds the state file's writer lock."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        keys = data.get("keys") if isinstance(data, dict) else None
        return {k: v for k, v in keys.items() if isinstance(v, dict)} if isinstance(keys, dict) else {}

    def _save(self, keys: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        temp.write_text(json.dumps({"version": 1, "keys": keys}, indent=2, sort_keys=True) + "\n")
        os.replace(temp, self.path)  # a reader never sees half a file

    def entry(self, key: str) -> dict[str, Any] | None:
        """The stored entry of ``key`` (tests and the conformance suite read it)."""
        return self._load().get(key)

    def claim(self, key: str, run_id: str) -> ClaimResult:
        """``check_and_claim``: skip, or stamp a fresh ``InFlight`` entry for ``run_id`` and proceed."""
        now = utc_now()
        keys = self._load()
        prior = keys.get(key)
        verdict = ClaimResult("claimed")
        if prior is not None:
            verdict = self._classify(prior, now)
            if not verdict.proceeds:
                return verdict
        expires = now + timedelta(hours=self.settings.in_flight_ttl_hours)
        keys[key] = self._entry(key, run_id, "InFlight", now, expires)
        self._save(keys)
        return verdict

    def _classify(self, prior: dict[str, Any], now: datetime) -> ClaimResult:
        """``classify_existing``: the prior entry's state decides (``dedup_on`` is the new run's)."""
        holder = str(prior.get("run_id") or "")
        state = prior.get("state")
        if state == "Succeeded":
            return ClaimResult("skip_completed", holder)
        if state == "Failed":
            return ClaimResult("skip_completed" if self.settings.dedup_on == "any" else "adopted", holder)
        expires = _parse(prior.get("expires_at"))
        if expires is not None and expires > now:
            return ClaimResult("skip_in_flight", holder)
        return ClaimResult("adopted", holder)

    def finalize(self, key: str, run_id: str, *, succeeded: bool) -> None:
        """``idempotency_finalize``: stamp the terminal state, or delete a failure under ``"success"``."""
        keys = self._load()
        prior = keys.get(key)
        if prior is None or prior.get("run_id") != run_id:
            return  # already swept, or adopted by another run: left alone
        if succeeded or self.settings.dedup_on == "any":
            now = utc_now()
            state = "Succeeded" if succeeded else "Failed"
            keys[key] = self._entry(
                key, run_id, state, now, now + timedelta(days=self.settings.retention_days)
            )
        else:
            del keys[key]
        self._save(keys)

    def _entry(
        self, key: str, run_id: str, state: str, stamped: datetime, expires: datetime
    ) -> dict[str, Any]:
        return {
            "key": key,
            "run_id": run_id,
            "state": state,
            "stamped_at": rfc3339(stamped, micros=True),
            "expires_at": rfc3339(expires, micros=True),
            "dedup_on": self.settings.dedup_on,
        }
