"""The stand-in's ``rocky seed`` and ``rocky run --dag``, as real subprocesses (engine 1.71 rules).

Outputs parse with both rocky-sdk's models (``SeedOutput``, ``DagRunOutput``: ``schemas/seed.schema.json``
and ``schemas/dag_run.schema.json`` upstream); exit codes, messages and signal handling follow
``commands/seed.rs``, ``commands/run_dag_exec.rs`` and ``main.rs``'s ``--dag`` arm.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rocky_sdk.types_generated import DagRunOutput, SeedOutput
from standin_process import Live, run_standin

ROCKY_TOML = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'


def _project(tmp_path: Path, toml: str = ROCKY_TOML) -> Path:
    (tmp_path / "rocky.toml").write_text(toml)
    return tmp_path


def _rows(project: Path, table: str) -> list[tuple[Any, ...]]:
    duckdb = pytest.importorskip("duckdb")
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        return list(con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())


def test_seed_loads_the_demo_seed(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = run_standin("--output", "json", "seed", "--filter", "country_codes", cwd=project)
    assert done.returncode == 0
    out = SeedOutput.model_validate_json(done.stdout)
    assert (out.command, out.seeds_dir, out.tables_loaded, out.tables_failed) == ("seed", "seeds", 1, 0)
    assert [(t.name, t.target, t.rows) for t in out.tables] == [("country_codes", ".marts.country_codes", 3)]
    assert len(_rows(project, "marts.country_codes")) == 3


def test_seed_reads_csv_files_and_sidecars(tmp_path: Path) -> None:
    project = _project(tmp_path)
    seeds = project / "seeds"
    seeds.mkdir()
    (seeds / "regions.csv").write_text("code,name\nEU,Europe\nNA,North America\n")
    (seeds / "regions.toml").write_text('[target]\ncatalog = "wh"\nschema = "ref"\n')
    (seeds / "tiers.csv").write_text("tier\ngold\n")
    (seeds / "notes.txt").write_text("not a seed\n")
    done = run_standin("--output", "json", "seed", cwd=project)
    out = SeedOutput.model_validate_json(done.stdout)
    assert [(t.name, t.target, t.rows, t.columns) for t in out.tables] == [
        ("regions", "wh.ref.regions", 2, 2),
        ("tiers", "main.seeds.tiers", 1, 1),
    ]
    assert _rows(project, "ref.regions") == [("EU", "Europe"), ("NA", "North America")]


def test_a_filter_that_matches_no_seed_loads_nothing_and_exits_0(tmp_path: Path) -> None:
    """``run_seed`` filters by name and prints an empty table list: not an error in the engine."""
    done = run_standin("--output", "json", "seed", "--filter", "no_such_seed", cwd=_project(tmp_path))
    assert done.returncode == 0 and SeedOutput.model_validate_json(done.stdout).tables == []


def test_a_failed_seed_prints_json_then_fails(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "seeds").mkdir()
    (project / "seeds" / "empty.csv").write_text("")
    done = run_standin("--output", "json", "seed", cwd=project)
    assert done.returncode == 1
    out = SeedOutput.model_validate_json(done.stdout)
    assert out.tables_failed == 1 and "has no header row" in str(out.tables[0].error)
    assert done.stderr_lines[-1] == "Error: 1 seed(s) failed"


def test_seed_resolves_the_pipeline_first(tmp_path: Path) -> None:
    toml = ROCKY_TOML + '[pipeline.raw]\ntype = "replication"\n[pipeline.marts]\ntype = "transformation"\n'
    project = _project(tmp_path, toml)
    done = run_standin("--output", "json", "seed", cwd=project)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: failed to resolve pipeline for seed\n")
    assert "multiple pipelines defined (raw, marts). Use --pipeline <name> to select one." in done.stderr
    assert run_standin("--output", "json", "seed", "--pipeline", "raw", cwd=project).returncode == 0


def test_a_seed_is_not_a_model(tmp_path: Path) -> None:
    """What 0.1.0 spawned for a seed node: the engine has no model of that name (run.rs ~6887)."""
    done = run_standin(
        "--output", "json", "run", "--model", "country_codes", "--models", "models", cwd=tmp_path
    )
    assert done.returncode == 1
    assert (
        done.stderr_lines[-1]
        == "Error: model 'country_codes' not found (no transformation model with that name)"
    )


def _dag(done: Any) -> DagRunOutput:
    out = DagRunOutput.model_validate_json(done.stdout)
    assert out.command == "run --dag"
    assert [(n.layer, n.id) for n in out.nodes] == sorted((n.layer, n.id) for n in out.nodes)
    assert out.total_nodes == len(out.nodes) == out.completed + out.failed + out.skipped
    return out


def test_run_dag_runs_every_node(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = run_standin("--output", "json", "run", "--dag", "--partition", "2026-04-07", cwd=project)
    assert done.returncode == 0
    out = _dag(done)
    status = {n.id: n.status for n in out.nodes}
    assert status["test:fct_daily_orders"] == "skipped" and out.skipped == 1 and out.failed == 0
    assert status["seed:country_codes"] == status["snapshot:customers_history"] == "completed"
    assert out.total_layers == 5
    assert len(_rows(project, "marts.country_codes")) == 3
    assert _rows(project, "marts.fct_daily_orders")[0][0].isoformat() == "2026-04-07"


def test_a_failed_node_skips_what_depends_on_it(tmp_path: Path) -> None:
    done = run_standin("--output", "json", "run", "--dag", cwd=_project(tmp_path), scenario="partial")
    assert done.returncode == 1
    out = _dag(done)
    failed = {n.id for n in out.nodes if n.status == "failed"}
    skipped = {n.id: n.error for n in out.nodes if n.status == "skipped"}
    assert failed and out.failed == len(failed)
    assert skipped["transformation:dim_customers"] == "upstream failure"  # after load:raw_customers
    assert skipped["test:fct_daily_orders"] == "upstream failure"
    assert done.stderr_lines[-1] == f"Error: DAG execution had {len(failed)} failed node(s)"


def test_run_dag_stops_on_a_shutdown_signal_with_exit_1(spawn: Callable[..., Live], tmp_path: Path) -> None:
    """main.rs: ``tokio::select!`` on a shutdown signal, ``bail!("interrupted by shutdown signal")``."""
    _project(tmp_path)
    live = spawn("--output", "json", "run", "--dag", scenario="hang")
    live.wait_for(lambda line: '"executing DAG layer"' in line)
    time.sleep(0.3)
    live.proc.send_signal(signal.SIGTERM)
    assert live.proc.wait(timeout=30) == 1
    for thread in live.threads:
        thread.join(timeout=10)
    assert bytes(live.stdout) == b""
    assert live.lines[-1] == "Error: interrupted by shutdown signal"
    assert any("received shutdown signal, aborting DAG run" in line for line in live.lines)


def test_run_dag_ignores_the_idempotency_key(tmp_path: Path) -> None:
    """DAG sub-runs do not accept --idempotency-key (run_dag_exec.rs default_sub_runner): no claim."""
    project = _project(tmp_path)
    for _ in range(2):
        done = run_standin("--output", "json", "run", "--dag", "--idempotency-key", "k", cwd=project)
        assert done.returncode == 0 and _dag(done).completed == 13
    assert json.loads(done.stdout)["failed"] == 0
