"""The stand-in as engine 1.71 and as today's engine (1.77): the shapes each prints, read right.

Every scenario with a result, in both generations: 1.71 output validates against the engine's own
recorded schema (``../shared/corpus/schemas/run.schema.json``, when present), current output against
rocky-sdk 0.29's generated ``RunOutput`` (when that SDK is installed), and both go through the
provider's reader whatever the installed SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS
from run_results import read_run

from airflow_provider_rocky.testing import CURRENT_ENGINE_VERSION, STANDIN_VERSION

WITH_JSON = [
    "success",
    "partial",
    "total_failure",
    "compile_error",
    "budget_breach",
    "quality_gate",
    "quality_warn",
    "verify_after_gate",
    "observations",
    "contained",
    "drift",
]
GENERATIONS = [STANDIN_VERSION, CURRENT_ENGINE_VERSION]


def run(tmp_path: Path, scenario: str, version: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **os.environ,
        "ROCKY_STANDIN_SCENARIO": scenario,
        "ROCKY_STANDIN_DELAY": "0",
        "ROCKY_STANDIN_ENGINE_VERSION": version,
    }
    args = ["--output", "json", "run", "--filter", "source=orders", *extra]
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rocky.testing.engine", *args],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout), done.stderr.decode()


@pytest.mark.parametrize("version", GENERATIONS)
@pytest.mark.parametrize("scenario", WITH_JSON)
def test_each_generation_prints_its_own_valid_shape(scenario: str, version: str, tmp_path: Path) -> None:
    _, doc, _ = run(tmp_path, scenario, version)
    assert doc["version"] == version
    if version == STANDIN_VERSION:
        schema_path = CORPUS / "schemas" / "run.schema.json"
        if schema_path.exists():
            import jsonschema

            jsonschema.validate(doc, json.loads(schema_path.read_text()))
        assert not {"check_gate_failed", "verify_after_failed", "anomaly_evaluated", "volume_warnings"} & set(
            doc
        )
    else:
        generated = pytest.importorskip("rocky_sdk.types_generated.run_schema")
        if "source_syncs" in generated.RunOutput.model_fields:  # rocky-sdk 0.29: today's schema
            generated.RunOutput.model_validate(doc)
    assert read_run(json.dumps(doc)).version == version  # the provider reads it, whatever the SDK


def test_drift_and_anomalies_carry_asset_keys_only_after_1_71(tmp_path: Path) -> None:
    for version, keyed in ((STANDIN_VERSION, False), (CURRENT_ENGINE_VERSION, True)):
        _, drift, _ = run(tmp_path, "drift", version)
        _, seen, _ = run(tmp_path, "observations", version)
        rows = [*drift["drift"]["actions_taken"], *seen["anomalies"]]
        assert rows and all(("asset_key" in row) is keyed for row in rows), version
        if keyed:
            assert all(row["asset_key"] == row["table"].split(".") for row in rows)


def test_a_gated_run_is_partial_with_exit_2_on_current_engines(tmp_path: Path) -> None:
    code, old, old_err = run(tmp_path, "quality_gate", STANDIN_VERSION)
    assert (code, old["status"], old["materializations"]) == (1, "Success", [])
    assert "Error: quality pipeline failed: 1 error-severity check(s) failed" in old_err
    code, new, new_err = run(tmp_path, "quality_gate", CURRENT_ENGINE_VERSION)
    assert (code, new["status"], new["check_gate_failed"]) == (2, "PartialFailure", True)
    assert new["tables_failed"] == 0 and new["materializations"], "the gate is the only failure"
    assert "Error: check gate failed: 1 error-severity check(s) failed" in new_err
    code, verify, _ = run(tmp_path, "verify_after_gate", CURRENT_ENGINE_VERSION)
    assert (code, verify["status"], verify["verify_after_failed"]) == (2, "PartialFailure", True)


def test_current_observations_fill_every_block(tmp_path: Path) -> None:
    _, doc, _ = run(tmp_path, "observations", CURRENT_ENGINE_VERSION)
    assert [row["evaluated"] for row in doc["anomaly_evaluated"]] == [True, False]
    assert doc["volume_warnings"] and doc["consumer_diagnostics"][0]["code"] == "E060"
    assert {row["outcome"] for row in doc["source_syncs"]} == {"succeeded", "paused"}
    verdicts = [m["volume"]["verdict"] for m in doc["materializations"]]
    assert verdicts[0] == "below_min" and set(verdicts[1:]) == {"in_range"}
    assert doc["materializations"][0]["notes"]
    not_evaluated = [c for t in doc["check_results"] for c in t["checks"] if c.get("not_evaluated")]
    assert len(not_evaluated) == 1 and not not_evaluated[0]["passed"]


def test_contained_models_name_what_blocked_them(tmp_path: Path) -> None:
    code, doc, _ = run(tmp_path, "contained", STANDIN_VERSION)
    (contained,) = doc["contained"]
    (failed,) = doc["errors"]
    assert code == 2 and contained["blocked_by"] == failed["asset_key"] and contained["unblock_hint"]


@pytest.mark.parametrize("version", GENERATIONS)
def test_version_flag_prints_the_generation(tmp_path: Path, version: str) -> None:
    env = {**os.environ, "ROCKY_STANDIN_ENGINE_VERSION": version}
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert done.stdout == f"rocky {version}\n"


def test_a_malformed_engine_version_is_a_setup_error(tmp_path: Path) -> None:
    env = {**os.environ, "ROCKY_STANDIN_ENGINE_VERSION": "latest"}
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64 and "ROCKY_STANDIN_ENGINE_VERSION" in done.stderr
