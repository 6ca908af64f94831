"""``RockyRunDagOperator``: asset events only for the nodes the engine's ``DagRunOutput`` says completed."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._engine.run import RunRecord
from airflow_provider_rocky._verdict.dag_run import interpret_dag_run
from airflow_provider_rocky.operators.run_dag import RockyRunDagOperator

SEED, MODEL, SNAP = (f"rocky://wh/main/s/{name}" for name in ("seed", "model", "snap"))


class _Events(dict):  # type: ignore[type-arg]
    """``outlet_events`` stand-in: one namespace per asset (by URI: 3.1's Asset is unhashable)."""

    def __getitem__(self, key: Any) -> Any:
        return self.setdefault(key.uri, SimpleNamespace(extra=None))


def _output(**statuses: str) -> bytes:
    nodes = [
        {
            "id": i,
            "kind": i.split(":")[0],
            "label": i,
            "layer": 0,
            "status": s,
            "duration_ms": 7,
            "error": None,
        }
        for i, s in statuses.items()
    ]
    counts = {s: sum(1 for n in nodes if n["status"] == s) for s in ("completed", "failed", "skipped")}
    doc = {"version": "1.71.0", "command": "run --dag", "total_nodes": len(nodes), "total_layers": 1}
    return json.dumps({**doc, **counts, "duration_ms": 9, "nodes": nodes}).encode()


def _operator() -> RockyRunDagOperator:
    return RockyRunDagOperator(
        task_id="run_all",
        outlets=[Asset(uri=SEED), Asset(uri=MODEL), Asset(uri=SNAP), Asset(uri="rocky://wh/main/s/own")],
        node_outlets={"seed:s": [SEED], "transformation:m": [MODEL], "snapshot:h": [SNAP]},
    )


def test_only_completed_nodes_keep_their_declared_outlet(capfd: pytest.CaptureFixture[str]) -> None:
    """A node the engine did not run (a stale manifest's) or did not complete gets no event."""
    op = _operator()
    verdict = interpret_dag_run(
        ProcessOutcome(exit_code=0, stdout=_output(**{"seed:s": "completed", "snapshot:h": "skipped"}))
    )
    events = _Events()
    added = op.on_success({"outlet_events": events}, verdict, RunRecord(ProcessOutcome(exit_code=0)))  # type: ignore[arg-type]
    kept = [o.uri for o in op.outlets]
    assert kept == [SEED, "rocky://wh/main/s/own"], "the user's own outlet is not the group's to drop"
    assert events[Asset(uri=SEED)].extra == {
        "rocky_node": "seed:s",
        "duration_ms": 7,
        "engine_version": "1.71.0",
    }
    assert added["assets"] == [{"node": "seed:s", "uri": SEED}] and added["assets_total"] == 1
    said = "".join(capfd.readouterr())
    assert f"No asset event for {MODEL}: its node transformation:m did not complete (absent" in said
    assert f"No asset event for {SNAP}: its node snapshot:h did not complete (skipped)" in said


def test_the_arguments_build_rocky_run_dag() -> None:
    from airflow_provider_rocky._engine.command import RockySettings, build_command

    op = RockyRunDagOperator(task_id="t", latest=True, parallel="3")
    args = op.command.args.coerce(latest=op.latest, parallel=op.parallel)
    assert list(build_command(RockySettings(), args).argv)[-3:] == ["--dag", "--latest", "--parallel=3"]
    with pytest.raises(ValueError, match="latest cannot be combined with missing"):
        RockyRunDagOperator(task_id="u", latest=True, missing=True)
