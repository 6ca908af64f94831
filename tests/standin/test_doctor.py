"""The stand-in's ``rocky doctor`` against the engine's (``commands/doctor.rs`` at 1.71) and its recording.

The engine runs a check *group* only when ``--check`` is absent or equals the group's name exactly
(``should_run``): ``--check=auth/default`` runs nothing and exits 0. ``auth`` reports
``auth/<adapter>`` per adapter, and a summary ``auth`` only when every warehouse adapter answered.
The state store is never critical (a warning when it cannot be opened); a config that cannot be
loaded makes every check that reads it critical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DUCKDB_TOML = '[adapter]\ntype = "duckdb"\npath = "playground.duckdb"\n'


def doctor(cwd: Path, *args: str, scenario: str = "success", allow_no_config: bool = True) -> tuple[int, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKY_STANDIN_")}
    env |= {"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_DELAY": "0"}
    if allow_no_config:
        env["ROCKY_STANDIN_ALLOW_NO_CONFIG"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--output", "json", "doctor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def names(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(check["name"], check["status"]) for check in document["checks"]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rocky.toml").write_text(DUCKDB_TOML)
    return tmp_path


def test_the_checks_and_their_order_are_the_engines_recording(project: Path) -> None:
    recorded = CORPUS / "recorded" / "doctor.json"
    if not recorded.exists():
        pytest.skip("the shared corpus is absent")
    code, document = doctor(project)
    expected = json.loads(recorded.read_text())
    assert code == 0 and document["overall"] == expected["overall"] == "healthy"
    assert [c["name"] for c in document["checks"]] == [c["name"] for c in expected["checks"]]


@pytest.mark.parametrize("group", ["config", "state", "state_schema", "adapters", "pipelines", "state_rw"])
def test_check_runs_exactly_one_group(project: Path, group: str) -> None:
    code, document = doctor(project, f"--check={group}")
    assert code == 0 and names(document) == [(group, "healthy")]


def test_check_auth_runs_the_whole_auth_group(project: Path) -> None:
    code, document = doctor(project, "--check=auth")
    assert code == 0
    assert names(document) == [("auth/default", "healthy"), ("auth", "healthy"), ("auth/default", "healthy")]


def test_a_check_name_inside_a_group_runs_no_check_at_all(project: Path) -> None:
    """``should_run``: ``filter.is_none_or(|f| f == name)``, and no group is named ``auth/default``."""
    code, document = doctor(project, "--check=auth/default", scenario="doctor_critical")
    assert (code, document["overall"], document["checks"]) == (0, "healthy", [])


def test_a_failed_ping_names_the_adapter_and_drops_the_summary(project: Path) -> None:
    code, document = doctor(project, scenario="adapter_auth")
    assert code == 3 and document["overall"] == "critical"
    auth = [row for row in names(document) if row[0].startswith("auth")]
    assert auth == [("auth/default", "critical"), ("auth/default", "healthy")]
    assert "Adapter 'default': verify credentials and network access" in document["suggestions"]


def test_a_held_state_store_is_a_warning_never_critical(project: Path) -> None:
    code, document = doctor(project, scenario="state_locked")
    assert code == 0 and document["overall"] == "warning"
    assert ("state", "warning") in names(document)
    assert document["checks"][1]["message"].startswith("Cannot open state store: state store at ")


def test_a_newer_state_schema_is_critical(project: Path) -> None:
    code, document = doctor(project, "--check=state_schema", scenario="state_schema_mismatch")
    assert code == 3 and names(document) == [("state_schema", "critical")]


def test_without_a_config_every_check_that_reads_it_is_critical(tmp_path: Path) -> None:
    code, document = doctor(tmp_path, allow_no_config=False)
    assert code == 3 and document["overall"] == "critical"
    critical = {name for name, status in names(document) if status == "critical"}
    reads_config = {"adapters", "pipelines", "state_sync", "state_rw", "state_concurrency", "auth"}
    assert critical == {"config", *reads_config}  # config_load_failed, doctor.rs:1039 (and :688)
