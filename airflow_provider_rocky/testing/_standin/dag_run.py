"""``rocky run --dag``: every node of the project, in dependency order, and one ``DagRunOutput``.

Upstream (1.71): ``engine/crates/rocky-cli/src/commands/run_dag_exec.rs`` (``run_with_dag``, the
``CliDispatcher``), ``rocky-core/src/dag_executor.rs`` (``DagExecutor::execute``) and the
``main.rs`` dispatch of ``Command::Run`` (the ``--dag`` arm and its ``tokio::select!`` on a
shutdown signal). The stand-in runs its demo project (``project.project_nodes``, the same nodes
``rocky dag`` prints):

* ``--shadow``/``--branch`` is refused before any node runs (the engine's #1279 refusal);
* layers are the Kahn depth of ``depends_on``; a node with a failed ancestor is ``skipped`` with
  ``error: "upstream failure"``, a ``test`` node is ``skipped`` without an error, a ``source`` node
  is a no-op; the others run: a seed through ``rocky seed``'s loader (no ``--pipeline``: the
  engine's DAG passes none), a transformation as its one model, load/replication/snapshot/quality
  as their pipeline; the partition selection reaches the partitioned models only;
* a node fails when one of its units does under the scenario (``scenarios.fate_for``, counted
  over the whole DAG); the ``hang`` scenario hangs in the second node that runs;
* stdout: ``DagRunOutput`` (``schemas/dag_run.schema.json``), nodes sorted by (layer, id); then,
  if a node failed, ``Error: DAG execution had N failed node(s)`` and exit 1;
* SIGTERM/SIGINT abort the run: ``received shutdown signal, aborting DAG run`` (WARN), nothing on
  stdout, ``Error: interrupted by shutdown signal``, exit 1.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from airflow_provider_rocky.testing._standin import project, seeds, state_lock
from airflow_provider_rocky.testing._standin.config import ProjectConfig
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.idempotency import state_file
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.plan import build_plan
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.tracing import utc_now, write_fd
from airflow_provider_rocky.testing._standin.warehouse import Warehouse
from airflow_provider_rocky.testing.scenarios import fate_for

SHADOW_REFUSAL = (
    "--shadow / --branch is not supported by `rocky run --dag`: the DAG runs each model as its own "
    "sub-run, so a model's reads of an upstream built by this same run are NOT redirected to that "
    "upstream's shadow target — the downstream shadow table would be built from production data and "
    "the run would still report success. Seed, snapshot and load nodes are not routed at all. Run the "
    "shadow pipeline without `--dag` (a single `rocky run --shadow` routes every selected model and "
    "rewrites the reads between them), or run the DAG without the flag"
)
PARTITION_FLAGS = ("partition", "from", "to", "latest", "missing", "lookback")


class _Shutdown(Exception):
    """A shutdown signal arrived: the engine's ``tokio::select!`` drops the DAG future."""


class DagRun:
    """One ``rocky run --dag``: the nodes, the warehouse, the failures so far."""

    def __init__(self, run: RunEnv, config: ProjectConfig, nodes: Sequence[dict[str, Any]]) -> None:
        self.run, self.config, self.nodes = run, config, list(nodes)
        self.failed: set[str] = set()
        self.units_done = 0
        self.dispatched = 0
        self.stop = False
        self.warehouse: Warehouse | None = None

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def pause(self, seconds: float) -> None:
        """Wait, aborting at once on a shutdown signal."""
        deadline = time.monotonic() + seconds
        while True:
            if self.stop:
                raise _Shutdown
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.02, left))

    def execute(self) -> list[dict[str, Any]]:
        """Every node, layer by layer (``DagExecutor::execute``); the per-node records."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._signal)
        layers, ancestors = _layers(self.nodes)
        log = self.run.log
        log.info(
            "executing unified DAG", nodes=len(self.nodes), edges=sum(len(a) for a in ancestors.values())
        )
        self.warehouse = Warehouse.open(self.config.duckdb_path, log)
        results = []
        try:
            for index, layer in enumerate(layers):
                log.info("executing DAG layer", layer=index, nodes=len(layer))
                failed_before = set(self.failed)
                results += [self._node(node, index, ancestors, failed_before) for node in layer]
        finally:
            if self.warehouse is not None:
                self.warehouse.close()
        return sorted(results, key=lambda r: (r["layer"], r["id"]))

    def _node(
        self, node: dict[str, Any], layer: int, ancestors: dict[str, set[str]], failed: set[str]
    ) -> dict[str, Any]:
        record = {"id": node["id"], "kind": node["kind"], "label": node["label"], "layer": layer}
        if ancestors[node["id"]] & failed:
            self.run.log.warn("skipping node — upstream failure", node=node["id"])
            return {**record, "status": "skipped", "duration_ms": 0, "error": "upstream failure"}
        if node["kind"] == "test":
            return {**record, "status": "skipped", "duration_ms": 0, "error": None}
        started = time.monotonic()
        self.pause(self.run.knobs.delay)
        error = self._dispatch(node)
        duration = int((time.monotonic() - started) * 1000)
        if error is not None:
            self.failed.add(node["id"])
            self.run.log.warn("node failed", node=node["id"], error=error)
            return {**record, "status": "failed", "duration_ms": duration, "error": error}
        return {**record, "status": "completed", "duration_ms": duration, "error": None}

    def _dispatch(self, node: dict[str, Any]) -> str | None:
        """Run one node (``CliDispatcher::dispatch``); its error text, or ``None``."""
        kind = node["kind"]
        if kind == "source":
            return None
        self.dispatched += 1
        if self.run.scenario.hang and self.dispatched == 2:
            while True:
                self.pause(0.05)
        if kind == "seed":
            return self._seed(node["label"])
        if not node.get("pipeline"):
            return f"DAG node '{node['label']}' has no associated pipeline to execute"
        inv, cwd = self.run.inv, self.run.cwd
        state = state_file(inv.state_path, inv.state_namespace, cwd)
        shown = state.relative_to(cwd) if state.is_relative_to(cwd) else state
        try:
            with state_lock.hold(state, shown):  # the engine's per-state-file turnstile (#1312)
                return self._units(self._plan(node))
        except CommandError as exc:
            return exc.render().removeprefix("Error: ")

    def _seed(self, name: str) -> str | None:
        try:
            _, rows = seeds.run_seeds(self.config, self.run.cwd, None, name, self.run.log)
        except CommandError as exc:
            return exc.render().removeprefix("Error: ")
        failed = sum(1 for row in rows if row["error"])
        return f"{failed} seed(s) failed" if failed else None

    def _plan(self, node: dict[str, Any]) -> list[Unit]:
        """The node's sub-run: ``run --pipeline P [--model M]`` with the DAG's partition selection."""
        inv = self.run.inv
        values: dict[str, Any] = {"pipeline": node["pipeline"]}
        if node["kind"] == "transformation":
            values["model"] = node["label"]
            if node.get("partition_shape"):
                values.update({k: inv.values[k] for k in PARTITION_FLAGS if k in inv.values})
        sub = dataclasses.replace(inv, values=values)
        shape = build_plan(
            sub,
            self.run.scenario,
            self.config,
            config_pipeline_type="transformation" if node["kind"] == "transformation" else "replication",
            table_count=self.run.knobs.tables,
            cwd=self.run.cwd,
            today=utc_now().date(),
        )
        return shape.units

    def _units(self, units: list[Unit]) -> str | None:
        failures = 0
        for unit in units:
            fate = fate_for(self.run.scenario, self.units_done, unit)
            self.units_done += 1
            if not fate.ok:
                failures += 1
            elif self.warehouse is not None:
                self.warehouse.materialize(unit)
        return f"{failures} table(s) failed" if failures else None


def _layers(nodes: Sequence[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], dict[str, set[str]]]:
    """Kahn depth per node (the engine's ``execution_phases``) and each node's ancestors."""
    depth: dict[str, int] = {}
    ancestors: dict[str, set[str]] = {}
    for node in nodes:  # the project lists every node after its dependencies
        deps = node.get("depends_on", [])
        depth[node["id"]] = 1 + max((depth[d] for d in deps), default=-1)
        ancestors[node["id"]] = set(deps).union(*(ancestors[d] for d in deps))
    layers: list[list[dict[str, Any]]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in nodes:
        layers[depth[node["id"]]].append(node)
    return layers, ancestors


def run_dag(run: RunEnv, config: ProjectConfig) -> Outcome:
    """``rocky run --dag`` after the argument checks (``validation.check_run``)."""
    inv = run.inv
    if inv.flag("shadow") or inv.get("branch") is not None:
        raise CommandError(SHADOW_REFUSAL)
    nodes = project.project_nodes()
    started = time.monotonic()
    dag = DagRun(run, config, nodes)
    try:
        results = dag.execute()
    except _Shutdown:
        run.log.warn("received shutdown signal, aborting DAG run", target="rocky")
        raise CommandError("interrupted by shutdown signal") from None
    counts = {status: sum(1 for r in results if r["status"] == status) for status in ("completed", "failed")}
    output = {
        "version": run.knobs.engine.version,
        "command": "run --dag",
        "warnings": [],
        "total_nodes": len(results),
        "total_layers": len(_layers(nodes)[0]),
        "completed": counts["completed"],
        "failed": counts["failed"],
        "skipped": sum(1 for r in results if r["status"] == "skipped"),
        "duration_ms": int((time.monotonic() - started) * 1000),
        "nodes": results,
    }
    if run.output_format == "json":
        write_fd(1, render(output, "json").encode("utf-8"))
    else:
        line = (
            f"DAG run: {output['total_nodes']} nodes across {output['total_layers']} layers "
            f"({output['completed']} completed, {output['failed']} failed, {output['skipped']} skipped) "
            f"in {output['duration_ms']}ms\n"
        )
        write_fd(1, line.encode("utf-8"))
    if output["failed"]:
        raise CommandError(f"DAG execution had {output['failed']} failed node(s)")
    return Outcome(0, None)
