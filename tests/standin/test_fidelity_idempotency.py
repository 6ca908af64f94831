"""Conformance: the stand-in's idempotency claim lifecycle against the engine's (contract §3.6).

One test per row of docs/engine-fidelity.md's *Idempotency keys* section, each running the stand-in as
a real process and reading what it stored (the entry beside the state file: the engine's redb
``IDEMPOTENCY_KEYS`` table), never what a provider concluded.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standin_process import Live, error_line, rocky_run

KEY = "airflow:d:r:t:-1:try1"
STORE = Path("models") / ".rocky-state.redb.idempotency.json"


def entry(project: Path, key: str = KEY) -> dict[str, Any] | None:
    """The stored entry of ``key`` (``IdempotencyEntry``), or None."""
    path = project / STORE
    if not path.exists():
        return None
    found = json.loads(path.read_text())["keys"].get(key)
    return dict(found) if found is not None else None


def project(tmp_path: Path, idempotency: str = "") -> Path:
    """A project whose ``rocky.toml`` may carry a ``[state.idempotency]`` table."""
    (tmp_path / "rocky.toml").write_text(f"[state.idempotency]\n{idempotency}\n" if idempotency else "")
    return tmp_path


def keyed(cwd: Path, *args: str, scenario: str | None = None, env: dict[str, str] | None = None) -> Any:
    return rocky_run(
        "--filter", "source=orders", "--idempotency-key", KEY, *args, cwd=cwd, scenario=scenario, env=env
    )


def killed_holder(spawn: Callable[..., Live], cwd: Path, *args: str) -> str:
    """Start a keyed run, SIGKILL it once it claimed the key; its run id (the claim stays behind)."""
    live = spawn(
        "--output", "json", "run", "--idempotency-key", KEY, *args, scenario="success", cwd=cwd,
        env={"ROCKY_STANDIN_DELAY": "30"},
    )  # fmt: skip
    claimed = live.wait_for(lambda line: "idempotency key claimed" in line)
    live.killpg()
    assert live.proc.wait(timeout=30) == -signal.SIGKILL
    return str(json.loads(claimed)["span"]["run_id"])


def test_a_succeeded_key_is_skipped_idempotent_naming_the_run(tmp_path: Path) -> None:
    """``classify_existing``: ``Succeeded`` ⇒ ``SkipCompleted``; the skip prints no materializations."""
    first = keyed(project(tmp_path))
    assert first.json["status"] == "Success" and entry(tmp_path)["state"] == "Succeeded"  # type: ignore[index]
    again = keyed(tmp_path)
    assert again.returncode == 0 and again.json["status"] == "SkippedIdempotent"
    assert again.json["skipped_by_run_id"] == first.run_id() and again.json["materializations"] == []


def test_a_succeeded_stamp_is_kept_retention_days(tmp_path: Path) -> None:
    keyed(project(tmp_path, "retention_days = 3"))
    stored = entry(tmp_path)
    assert stored is not None and stored["state"] == "Succeeded" and stored["dedup_on"] == "success"
    kept = _at(stored["expires_at"]) - _at(stored["stamped_at"])
    assert timedelta(days=3) - timedelta(seconds=5) < kept <= timedelta(days=3)


@pytest.mark.parametrize("path", [("--filter", "source=orders"), ("--models", "models")])
def test_a_killed_holder_leaves_its_claim_in_flight_and_deflects_every_caller(
    spawn: Callable[..., Live], tmp_path: Path, path: tuple[str, ...]
) -> None:
    """No liveness check: the dead holder's claim answers ``SkippedInFlight`` until its TTL."""
    holder = killed_holder(spawn, project(tmp_path), *path)
    stored = entry(tmp_path)
    assert stored is not None and stored["state"] == "InFlight" and stored["run_id"] == holder
    ttl = _at(stored["expires_at"]) - _at(stored["stamped_at"])
    assert timedelta(hours=24) - timedelta(seconds=5) < ttl <= timedelta(hours=24)  # the default
    for _ in range(2):
        asked = keyed(tmp_path, scenario="success")
        assert asked.returncode == 0 and asked.json["status"] == "SkippedInFlight"
        assert asked.json["skipped_by_run_id"] == holder and asked.json["materializations"] == []
    assert entry(tmp_path) == stored, "a skip never touches the entry"


def test_an_in_flight_claim_past_its_ttl_is_adopted(spawn: Callable[..., Live], tmp_path: Path) -> None:
    """``expires_at <= now`` ⇒ ``AdoptStale``: the run proceeds with a warning naming the prior run."""
    holder = killed_holder(spawn, project(tmp_path))
    _expire(tmp_path)
    adopted = keyed(tmp_path)
    assert adopted.json["status"] == "Success"
    warning = next(
        e for e in adopted.tracing() if "adopted stale idempotency claim" in e["fields"]["message"]
    )
    assert warning["level"] == "WARN" and warning["fields"]["prior_run_id"] == holder
    assert entry(tmp_path)["run_id"] == adopted.run_id()  # type: ignore[index]


def test_in_flight_ttl_hours_is_read_from_rocky_toml(spawn: Callable[..., Live], tmp_path: Path) -> None:
    """``in_flight_ttl_hours = 0``: a claim expires as it is stamped, so the next caller adopts it."""
    killed_holder(spawn, project(tmp_path, "in_flight_ttl_hours = 0"))
    assert keyed(tmp_path).json["status"] == "Success"


@pytest.mark.parametrize("scenario", ["partial", "total_failure"])
def test_partial_and_total_failures_finalize_failed_which_dedup_on_success_deletes(
    tmp_path: Path, scenario: str
) -> None:
    failed = keyed(project(tmp_path), scenario=scenario)
    assert failed.json["status"] in ("PartialFailure", "Failure")
    assert entry(tmp_path) is None, "deleted: a retry with the key proceeds"
    assert keyed(tmp_path).json["status"] == "Success"


def test_under_dedup_on_any_a_failure_is_kept_and_deflects(tmp_path: Path) -> None:
    failed = keyed(project(tmp_path, 'dedup_on = "any"'), scenario="partial")
    assert entry(tmp_path)["state"] == "Failed"  # type: ignore[index]
    again = keyed(tmp_path)
    assert again.json["status"] == "SkippedIdempotent" and again.json["skipped_by_run_id"] == failed.run_id()


@pytest.mark.parametrize(
    ("path", "state"), [(("--filter", "source=orders"), "Succeeded"), (("--models", "models"), None)]
)
def test_a_budget_breach_finalizes_by_path(tmp_path: Path, path: tuple[str, ...], state: str | None) -> None:
    """Replication finalizes on the derived status (``Success``, though exit 1); the transformation arm
    returns ``Err`` and finalizes ``Failed`` (deleted)."""
    breached = rocky_run(*path, "--idempotency-key", KEY, cwd=project(tmp_path), scenario="budget_breach")
    assert breached.returncode == 1 and breached.json["status"] == "Success"
    stored = entry(tmp_path)
    assert (stored["state"] if stored else None) == state


def test_sigterm_on_the_replication_fan_out_finalizes_the_interrupted_run_as_failed(
    spawn: Callable[..., Live], tmp_path: Path
) -> None:
    live = spawn(
        "--output", "json", "run", "--filter", "source=orders", "--idempotency-key", KEY, scenario="hang",
        cwd=project(tmp_path),
    )  # fmt: skip
    live.wait_for(lambda line: "copying" in line)
    live.proc.send_signal(signal.SIGTERM)
    assert live.finish().returncode == 130
    assert entry(tmp_path) is None, "interrupted ⇒ PartialFailure ⇒ Failed ⇒ deleted"


def test_sigterm_on_the_transformation_path_leaves_the_claim_in_flight(
    spawn: Callable[..., Live], tmp_path: Path
) -> None:
    """No handler there: the default disposition ends the process before any finalize."""
    live = spawn(
        "--output", "json", "run", "--models", "models", "--idempotency-key", KEY, scenario="success",
        cwd=project(tmp_path), env={"ROCKY_STANDIN_DELAY": "30"},
    )  # fmt: skip
    claimed = live.wait_for(lambda line: "idempotency key claimed" in line)
    live.proc.send_signal(signal.SIGTERM)
    assert live.proc.wait(timeout=30) == -signal.SIGTERM
    stored = entry(tmp_path)
    assert stored is not None and stored["state"] == "InFlight"
    assert stored["run_id"] == json.loads(claimed)["span"]["run_id"]


@pytest.mark.parametrize(
    ("setting", "cause"),
    [
        ("ttl_hours = 1", "unknown field `ttl_hours`"),
        ('dedup_on = "always"', "unknown variant `always`"),
        ("in_flight_ttl_hours = -1", "expected u32"),
    ],
)
def test_state_idempotency_settings_are_checked_like_serde(tmp_path: Path, setting: str, cause: str) -> None:
    """``IdempotencyConfig`` is ``deny_unknown_fields``: a bad setting fails the config load (exit 1)."""
    result = keyed(project(tmp_path, setting))
    assert result.returncode == 1 and result.json is None
    assert error_line(result) == "Error: failed to load config from rocky.toml"
    assert cause in result.stderr


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _expire(cwd: Path) -> None:
    """Move the stored claim's ``expires_at`` into the past (what 24 hours of waiting would do)."""
    path = cwd / STORE
    data = json.loads(path.read_text())
    data["keys"][KEY]["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    path.write_text(json.dumps(data))
