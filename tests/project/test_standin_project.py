"""The stand-in's `rocky dag` and its demo project: the engine's schema, node runs by name, the lock."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from project_helpers import CORPUS_DAG

from airflow_provider_rocky._project.graph import build_graph
from airflow_provider_rocky._project.manifest import parse_manifest
from airflow_provider_rocky.testing import standin_command
from airflow_provider_rocky.testing._standin.project import synthetic_nodes

SCHEMA = CORPUS_DAG.parents[1] / "schemas" / "dag.schema.json"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKY_STANDIN_")}
    # Bare tmp dirs, as in tests/standin/: the refusal without rocky.toml is tested there.
    return {**env, "ROCKY_STANDIN_DELAY": "0", "ROCKY_STANDIN_ALLOW_NO_CONFIG": "1", **extra}


def _rocky(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*standin_command(), "--output", "json", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rocky_dag_prints_every_node_kind_in_the_engines_schema(tmp_path: Path) -> None:
    done = _rocky(tmp_path, "dag")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    kinds = {node["kind"] for node in document["nodes"]}
    assert kinds == {"source", "load", "replication", "seed", "transformation", "snapshot", "quality", "test"}
    assert document["summary"]["total_nodes"] == len(document["nodes"])
    assert any(e["edge_type"] == "check" for e in document["edges"])
    if SCHEMA.is_file():
        import jsonschema

        jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert len(build_graph(parse_manifest(done.stdout)).tasks) == 9


def test_rocky_dag_can_print_a_synthetic_project(tmp_path: Path) -> None:
    done = _rocky(tmp_path, "dag", "--models", "models", ROCKY_STANDIN_DAG_NODES="50")
    assert json.loads(done.stdout)["nodes"] == synthetic_nodes(50)
    bad = _rocky(tmp_path, "dag", ROCKY_STANDIN_DAG_NODES="lots")
    assert bad.returncode == 1 and "ROCKY_STANDIN_DAG_NODES" in bad.stderr


def _materialized(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [m["metadata"]["target_table_full_name"] for m in json.loads(done.stdout)["materializations"]]


@pytest.mark.parametrize(
    ("argv", "pipeline_type", "tables"),
    [
        (
            ["--pipeline", "raw_orders"],
            "replication",
            ["warehouse.staging__orders.orders", "warehouse.staging__orders.order_items"],
        ),
        (
            ["--pipeline", "raw_payments"],
            "replication",
            ["warehouse.staging__payments.payments", "warehouse.staging__payments.refunds"],
        ),
        (["--pipeline", "customers_history"], "snapshot", [".snapshots.customers_history"]),
        (["--pipeline", "orders_quality"], "quality", []),
        (["--model", "fct_payments", "--pipeline", "marts"], "transformation", [".marts.fct_payments"]),
        (["--model", "fct_payments", "--models", "models"], "transformation", [".marts.fct_payments"]),
    ],
)
def test_each_demo_node_runs_by_name(
    tmp_path: Path, argv: list[str], pipeline_type: str, tables: list[str]
) -> None:
    done = _rocky(tmp_path, "run", *argv)
    assert _materialized(done) == tables
    assert json.loads(done.stdout)["pipeline_type"] == pipeline_type


def test_the_demo_seed_loads_with_rocky_seed_not_run_model(tmp_path: Path) -> None:
    seeded = _rocky(tmp_path, "seed", "--filter", "country_codes")
    assert seeded.returncode == 0, seeded.stderr
    assert [t["target"] for t in json.loads(seeded.stdout)["tables"]] == [".marts.country_codes"]
    as_model = _rocky(tmp_path, "run", "--model", "country_codes", "--models", "models")
    assert as_model.returncode == 1 and "model 'country_codes' not found" in as_model.stderr


def test_a_second_writer_on_one_state_file_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [*standin_command(), "--output", "json", "run", "--model", "dim_customers"],
        cwd=tmp_path,
        env=_env(ROCKY_STANDIN_SCENARIO="slow"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # "slow" runs for at least 3 s, holding the lock throughout
        second = _rocky(tmp_path, "run", "--model", "fct_payments")
        other_file = _rocky(tmp_path, "--state-namespace", "other", "run", "--model", "fct_payments")
    finally:
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1 and second.stdout == ""
    assert "Error: state store at models/.rocky-state.redb is locked by another process" in second.stderr
    assert other_file.returncode == 0, "another state file is another writer"
    assert _materialized(_rocky(tmp_path, "run", "--model", "fct_payments")) == [".marts.fct_payments"], (
        "released"
    )


@pytest.mark.parametrize(
    ("scenario", "exit_code", "says"),
    [("hard_failure", 1, "Error: failed to load models"), ("garbage_stdout", 0, "")],
)
def test_rocky_dag_failures(tmp_path: Path, scenario: str, exit_code: int, says: str) -> None:
    done = _rocky(tmp_path, "dag", ROCKY_STANDIN_SCENARIO=scenario)
    assert done.returncode == exit_code and says in done.stderr
    with pytest.raises(ValueError):
        json.loads(done.stdout or "x")


EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags"


def test_the_example_manifest_is_what_the_standin_prints_and_the_example_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """example_dags/rocky_project_manifest.json must not go stale against the stand-in's project."""
    import runpy

    from airflow.sdk import DAG

    printed = json.loads(_rocky(tmp_path, "dag").stdout)
    saved = json.loads((EXAMPLE / "rocky_project_manifest.json").read_text())
    assert saved == printed, "rewrite it: rocky-airflow-manifest --binary-path rocky-standin --output ..."
    seen: list[DAG] = []
    original = DAG.__exit__

    def keep(self: DAG, *args: object) -> None:
        seen.append(self)
        original(self, *args)

    monkeypatch.setattr(DAG, "__exit__", keep)
    runpy.run_path(str(EXAMPLE / "rocky_project.py"))
    (dag,) = seen
    assert dag.dag_id == "rocky_project" and len(dag.tasks) == 9
    fct = dag.task_dict["rocky_project.fct_daily_orders"]
    assert fct.pool == "rocky_state__rocky_default" and fct.retries == 2
