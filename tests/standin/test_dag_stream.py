"""What the stand-in's ``rocky run --dag`` writes on stderr node by node, and its failure knob.

The engine at 1.71 (``rocky-core/src/dag_executor.rs``, ``commands/run_dag_exec.rs``, ``commands/run.rs``):
the executor's ``executing DAG layer`` / ``skipping node — upstream failure`` outside any span; every
event of a node's work inside ``materialize.table`` (``rocky.model.fqn`` = the node id), a pipeline
node's sub-run inside a nested ``run`` span of its own; ``node failed`` inside the node span, whose
error for a model is only the ``RunFailed`` sentinel (``N model(s) failed (run_id: <sub-run>, ...)``).
``ROCKY_STANDIN_FAIL_NODES`` fails named models and seeds, always or their first N builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rocky_sdk.types_generated import DagRunOutput
from standin.test_standin import run_standin

ROCKY_TOML = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
EXECUTOR = "rocky_core::dag_executor"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "rocky.toml").write_text(ROCKY_TOML)
    return tmp_path


def _node(event: dict[str, Any]) -> str | None:
    spans = event.get("spans") or []
    fqns = [s["rocky.model.fqn"] for s in spans if s.get("name") == "materialize.table"]
    return fqns[0] if fqns else None


def _tables(project: Path) -> set[str]:
    duckdb = pytest.importorskip("duckdb")
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
    return {row[0] for row in rows}


def test_every_node_event_is_in_its_span_and_the_executor_events_are_in_none(tmp_path: Path) -> None:
    done = run_standin("--output", "json", "run", "--dag", cwd=_project(tmp_path))
    assert done.returncode == 0
    events = done.tracing()
    executor = [e for e in events if e["target"] == EXECUTOR]
    assert executor and all("span" not in e and "spans" not in e for e in executor)
    layers = [e["fields"]["layer"] for e in executor if e["fields"]["message"] == "executing DAG layer"]
    assert layers == [0, 1, 2, 3, 4]
    out = DagRunOutput.model_validate_json(done.stdout)
    ran = {n.id for n in out.nodes if n.status == "completed"}
    seen = {_node(e) for e in events} - {None}
    assert seen == ran, "every node that ran wrote its work inside its own span, and only those"
    # a node's events come after its layer started and before the next one did
    current = -1
    for event in events:
        if event["target"] == EXECUTOR and event["fields"]["message"] == "executing DAG layer":
            current = event["fields"]["layer"]
        elif (node := _node(event)) is not None:
            assert next(n.layer for n in out.nodes if n.id == node) == current, event
    model = [e for e in events if _node(e) == "transformation:dim_customers"]
    assert [e["fields"]["message"] for e in model] == [
        "compiling and executing transformation models",
        "executing model",
        "model execution complete",
    ]
    assert [s["name"] for s in model[0]["spans"]] == ["materialize.table", "run"], "the sub-run's own span"
    assert model[0]["span"]["name"] == "run" and model[0]["span"]["run_id"].startswith("run-")


def test_a_failed_model_node_says_only_the_run_failed_sentinel_inside_its_span(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = run_standin(
        "--output", "json", "run", "--dag", cwd=project, env={"ROCKY_STANDIN_FAIL_NODES": "dim_customers"}
    )
    assert done.returncode == 1
    events = done.tracing()
    (failed,) = [e for e in events if e["fields"]["message"] == "node failed"]
    assert failed["target"] == EXECUTOR and failed["level"] == "WARN"
    assert failed["fields"]["node"] == "transformation:dim_customers"
    assert [s["name"] for s in failed["spans"]] == ["materialize.table"], "after the sub-run's span closed"
    sub_run = next(
        e["span"]["run_id"]
        for e in events
        if _node(e) == "transformation:dim_customers" and "run_id" in e["span"]
    )
    assert failed["fields"]["error"] == (
        f"1 model(s) failed (run_id: {sub_run}, see the `errors` array in the JSON output)"
    )
    model_events = [e["fields"]["message"] for e in events if _node(e) == "transformation:dim_customers"]
    assert "executing model" not in model_events and "model execution complete" not in model_events
    skips = [
        e["fields"]["node"] for e in events if e["fields"]["message"] == "skipping node — upstream failure"
    ]
    assert set(skips) >= {"transformation:fct_daily_orders", "snapshot:customers_history"}
    out = DagRunOutput.model_validate_json(done.stdout)
    assert {n.id: n.error for n in out.nodes if n.status == "failed"} == {
        "transformation:dim_customers": failed["fields"]["error"]
    }
    tables = _tables(project)
    assert "marts.dim_customers" not in tables and "marts.fct_payments" in tables, "siblings still ran"


def test_a_counted_failure_fails_the_dag_run_and_the_node_run_alone_then_succeeds(tmp_path: Path) -> None:
    project = _project(tmp_path)
    knob = {"ROCKY_STANDIN_FAIL_NODES": "transformation:dim_customers:1"}
    first = run_standin("--output", "json", "run", "--dag", cwd=project, env=knob)
    assert first.returncode == 1
    assert "marts.dim_customers" not in _tables(project)
    alone = run_standin(
        "--output", "json", "run", "--pipeline", "marts", "--model", "dim_customers", cwd=project, env=knob
    )
    assert alone.returncode == 0 and alone.json is not None and alone.json["status"] == "Success"
    assert "marts.dim_customers" in _tables(project)
    again = run_standin(
        "--output", "json", "run", "--pipeline", "marts", "--model", "dim_customers", cwd=project, env=knob
    )
    assert again.returncode == 0, "the count is spent"


def test_a_model_failed_alone_reports_its_error_and_the_sentinel(tmp_path: Path) -> None:
    """``rocky run --model``: the real error in ``errors[]`` (``unknown``: the model-only arm's), exit 1."""
    project = _project(tmp_path)
    done = run_standin(
        "--output", "json", "run", "--pipeline", "marts", "--model", "dim_customers",
        cwd=project, env={"ROCKY_STANDIN_FAIL_NODES": "dim_customers"},
    )  # fmt: skip
    assert done.returncode == 1 and done.json is not None
    (error,) = done.json["errors"]
    assert error["asset_key"] == ["dim_customers"] and error["failure_kind"] == "unknown"
    assert "Binder Error" in error["error"]
    assert done.stderr_lines[-1].startswith("Error: 1 model(s) failed (run_id: run-")


def test_a_seed_can_fail_too(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = run_standin(
        "--output", "json", "seed", "--filter", "country_codes", cwd=project,
        env={"ROCKY_STANDIN_FAIL_NODES": "seed:country_codes"},
    )  # fmt: skip
    assert done.returncode == 1 and done.json is not None
    assert done.json["tables_failed"] == 1 and "Could not convert" in done.json["tables"][0]["error"]
    assert [e["fields"]["message"] for e in done.tracing()][-1] == "seed failed"


@pytest.mark.parametrize("value", ["load:raw_orders", "dim_customers:x", "bad name", "snapshot:s:1"])
def test_a_knob_it_cannot_honour_is_a_setup_error(tmp_path: Path, value: str) -> None:
    done = run_standin(
        "--output", "json", "run", "--dag", cwd=_project(tmp_path), env={"ROCKY_STANDIN_FAIL_NODES": value}
    )
    assert done.returncode == 64, "a typo in a test must not look like an engine failure"
    assert "ROCKY_STANDIN_FAIL_NODES" in done.stderr


def test_text_mode_shows_the_span_chain(tmp_path: Path) -> None:
    done = run_standin("--output", "table", "run", "--dag", cwd=_project(tmp_path))
    lines = done.stderr_lines
    assert any(" INFO executing DAG layer layer=0" in line for line in lines), "no span outside the nodes"
    assert any(
        "materialize.table{rocky.model.fqn=transformation:dim_customers rocky.model.kind=transformation}:run{"
        in line
        for line in lines
    )
