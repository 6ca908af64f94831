"""First steps (issue 20, item 10): a project from ``rocky init``, ``dag`` refusing a folder without one,
a selector typo answered with the nearest names, the manifest file's mode, and where the binary is.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_helpers import asset_events, run_dag
from project_helpers import demo_manifest

from airflow_provider_rocky import manifest as manifest_cli

WORK = Path(os.environ["ROCKY_TEST_WORKDIR"])
STANDIN = [sys.executable, "-m", "airflow_provider_rocky.testing.engine"]


def standin(cwd: Path, *args: str, allow_no_config: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKY_STANDIN_")}
    env["ROCKY_STANDIN_DELAY"] = "0"
    if allow_no_config:
        env["ROCKY_STANDIN_ALLOW_NO_CONFIG"] = "1"
    return subprocess.run(
        [*STANDIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_init_writes_the_engines_duckdb_project_and_refuses_to_overwrite(tmp_path: Path) -> None:
    done = standin(tmp_path, "init", "proj")
    assert done.returncode == 0 and done.stdout.startswith("Initialized Rocky project in proj")
    project = tmp_path / "proj"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "models/_defaults.toml",
        "models/stg_orders.sql",
        "models/stg_orders.toml",
        "rocky.toml",
        "seeds/seed.sql",
    ]
    again = standin(tmp_path, "init", "proj")
    assert (again.returncode, again.stderr.strip()) == (1, "Error: rocky.toml already exists in proj")
    other = standin(tmp_path, "init", "p2", "--template", "nope")
    assert other.returncode == 1 and "Available: duckdb, databricks-fivetran, snowflake, bigquery, trino" in (
        other.stderr
    )


def test_the_initialized_project_runs_doctors_and_graphs_without_any_opt_in(tmp_path: Path) -> None:
    assert standin(tmp_path, "init").returncode == 0  # PATH defaults to "." as the engine's does
    run = standin(tmp_path, "--output", "json", "run", "--filter=source=orders")
    assert run.returncode == 0 and '"status": "Success"' in run.stdout
    assert (tmp_path / "playground.duckdb").exists(), "the DuckDB adapter's file was really written"
    assert standin(tmp_path, "--output", "json", "doctor").returncode == 0
    assert standin(tmp_path, "--output", "json", "dag").returncode == 0


def test_dag_refuses_a_folder_without_rocky_toml_as_run_does(tmp_path: Path) -> None:
    """Before: ``dag`` answered in any folder, where ``run`` refused (dag.rs loads the config first)."""
    for argv in (("run", "--filter=a=b"), ("dag",)):
        done = standin(tmp_path, "--output", "json", *argv)
        assert done.returncode == 1 and done.stdout == ""
        assert "Error: failed to load config from rocky.toml" in done.stderr


@pytest.mark.usefixtures("airflow_db", "standin_bin")
@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_plain_operator_runs_the_initialized_project(mode: str) -> None:
    project = WORK / "first_steps"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    assert standin(project, "init").returncode == 0
    result = run_dag("rocky_first_steps", f"first_steps__{mode}")
    assert result.task_state == "success" and result.summary["tables_copied"] == 2
    uris = sorted(uri for uri, _ in asset_events(f"first_steps__{mode}", result.run_id))
    assert uris == [
        f"duckdb:{project}/playground.duckdb/playground/staging__orders/{table}"
        for table in ("order_items", "orders")
    ]


def test_a_selector_that_matches_nothing_names_the_nearest_nodes(tmp_path: Path) -> None:
    """Before: ``selector 'fct_daly_orders' matches no node of the manifest``, and nothing more."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    manifest = demo_manifest(tmp_path)
    dag_file = tmp_path / "dags" / "typo_dag.py"
    dag_file.parent.mkdir()
    dag_file.write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_rocky import RockyTaskGroup\n"
        "with DAG('typo', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        f"    RockyTaskGroup('p', manifest={str(manifest)!r}, select=['+fct_daly_orders', 'kind:sed'])\n"
    )
    (message,) = DagBag(dag_folder=str(dag_file.parent)).import_errors.values()
    assert "selector '+fct_daly_orders' matches no node of the manifest (did you mean 'fct_daily_orders'" in (
        message
    )


def test_the_manifest_is_written_like_any_file_of_its_user(tmp_path: Path, standin_bin: Path) -> None:
    """Before: 0600 (``mkstemp``), unreadable by a DAG processor running as another user."""
    assert standin(tmp_path, "init").returncode == 0
    out = tmp_path / "dags" / "rocky_dag.json"
    previous = os.umask(0o022)
    try:
        code = manifest_cli.main(
            ["--project-dir", str(tmp_path), "--binary-path", str(standin_bin), "--output", str(out)]
        )
    finally:
        os.umask(previous)
    assert code == 0 and stat.S_IMODE(out.stat().st_mode) == 0o644


def test_no_binary_on_path_names_the_flag_that_gives_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code = manifest_cli.main(["--project-dir", str(tmp_path), "--output", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert code == 2 and "'rocky' not found" in err and "Pass --binary-path /path/to/rocky" in err
