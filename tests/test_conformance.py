"""Conformance with the real engine: recorded outputs through our interpreter; stand-in vs schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS
from rocky_sdk import parse_rocky_output

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import summary
from airflow_provider_rocky._verdict.events import asset_events
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky.assets import rocky_asset

RECORDED = sorted((CORPUS / "recorded").rglob("*.json")) if CORPUS.exists() else []
needs_corpus = pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is absent")


@needs_corpus
@pytest.mark.parametrize("path", RECORDED, ids=lambda p: str(p.relative_to(CORPUS / "recorded")))
def test_every_recorded_output_parses(path: Path) -> None:
    text = path.read_text()
    document = json.loads(text)
    if document.get("command") != "run":  # other commands: rocky-sdk's own dispatch
        assert type(parse_rocky_output(text)).__name__ != "RunResult"
        return
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=text.encode()))
    assert verdict.outcome == "success" and verdict.error is None and verdict.result is not None
    # The reference is what the engine printed, not the provider's reading of it.
    printed = [
        (m["metadata"]["target_table_full_name"], (m.get("partition") or {}).get("key"))
        for m in document["materializations"]
    ]
    assert printed, "a recording without materializations proves nothing here"
    built = summary.build(verdict)
    assert built["materializations_total"] == len(printed)
    json.dumps(built)  # JSON-native
    namespace = "duckdb:///data/warehouse.duckdb"
    specs = asset_events(verdict.result, namespace=namespace)
    assert [(spec.extra["target_table"], spec.partition_key) for spec in specs] == printed
    for spec in specs:  # the DAG author's helper names the same asset as the emitted event
        assert rocky_asset(spec.extra["target_table"], namespace=namespace) == spec.asset()


SCENARIOS_WITH_JSON = [
    "success",
    "transformation",
    "partitioned",
    "partial",
    "partial_transient",
    "total_failure",
    "adapter_transient",
    "adapter_auth",
    "compile_error",
    "contract_violation",
    "budget_breach",
    "quality_gate",
    "quality_warn",
    "drift",
    "huge_stdout",
    "non_utf8_stderr",
]


@needs_corpus
@pytest.mark.parametrize("scenario", SCENARIOS_WITH_JSON)
def test_standin_output_validates_against_the_engine_schema(scenario: str, tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((CORPUS / "schemas" / "run.schema.json").read_text())
    args = ["--output", "json", "run", "--filter", "source=orders"]
    if scenario == "partitioned":
        args += ["--models", "models", "--all", "--from", "2026-04-04", "--to", "2026-04-06"]
    env = {
        **os.environ,
        "ROCKY_STANDIN_SCENARIO": scenario,
        "ROCKY_STANDIN_DELAY": "0",
        "ROCKY_STANDIN_TABLES": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rocky.testing.engine", *args],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.stdout.lstrip().startswith(b"{"), done.stderr[-500:]
    jsonschema.validate(json.loads(done.stdout), schema)
