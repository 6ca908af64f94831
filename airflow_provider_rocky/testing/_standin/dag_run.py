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
  over the whole DAG) or ``ROCKY_STANDIN_FAIL_NODES`` names it; the ``hang`` scenario hangs in the
  second node that runs;
* stderr: the executor's events outside any span, each node's work inside its ``materialize.table``
  span (a pipeline node's sub-run inside a nested ``run`` span with its own id), ``node failed``
  with the sub-run's sentinel text (``RunFailed``, ``PartialFailure``): docs/engine-fidelity.md;
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
from airflow_provider_rocky.testing._standin.fail_nodes import FailNodes
from airflow_provider_rocky.testing._standin.idempotency import state_file
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.plan import build_plan
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.tracing import (
    Span,
    StderrLog,
    new_run_id,
    run_span,
    utc_now,
    write_fd,
)
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
#: Event targets (the Rust module paths ``tracing`` prints as ``target``).
EXECUTOR = "rocky_core::dag_executor"
DAG_EXEC = "rocky_cli::commands::run_dag_exec"
RUN_TARGET = "rocky_cli::commands::run"


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
        #: The executor's own events are written outside any span (``DagExecutor::execute``).
        self.log = run.log.scoped([])
        self.fail_nodes = FailNodes(run.env, run.cwd)

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
        edges = sum(len(node.get("depends_on", [])) for node in self.nodes)
        self.log.info("executing unified DAG", target=DAG_EXEC, nodes=len(self.nodes), edges=edges)
        self.warehouse = Warehouse.open(self.config.duckdb_path, self.run.log)
        results = []
        try:
            for index, layer in enumerate(layers):
                self.log.info("executing DAG layer", target=EXECUTOR, layer=index, nodes=len(layer))
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
            self.log.warn("skipping node — upstream failure", target=EXECUTOR, node=node["id"])
            return {**record, "status": "skipped", "duration_ms": 0, "error": "upstream failure"}
        if node["kind"] == "test":
            return {**record, "status": "skipped", "duration_ms": 0, "error": None}
        span = node_span(node)
        started = time.monotonic()
        self.pause(self.run.knobs.delay)
        error = self._dispatch(node, span)
        duration = int((time.monotonic() - started) * 1000)
        if error is not None:
            self.failed.add(node["id"])
            self.run.log.scoped([span]).warn("node failed", target=EXECUTOR, node=node["id"], error=error)
            return {**record, "status": "failed", "duration_ms": duration, "error": error}
        return {**record, "status": "completed", "duration_ms": duration, "error": None}

    def _dispatch(self, node: dict[str, Any], span: Span) -> str | None:
        """Run one node (``CliDispatcher::dispatch``) inside its span; its error text, or ``None``."""
        kind = node["kind"]
        if kind == "source":
            self.run.log.scoped([span]).info(
                "DAG: source marker (no-op)", target=DAG_EXEC, label=node["label"]
            )
            return None
        self.dispatched += 1
        if self.run.scenario.hang and self.dispatched == 2:
            while True:
                self.pause(0.05)
        if kind == "seed":
            return self._seed(node["label"], self.run.log.scoped([span]))
        if not node.get("pipeline"):
            return f"DAG node '{node['label']}' has no associated pipeline to execute"
        inv, cwd = self.run.inv, self.run.cwd
        state = state_file(inv.state_path, inv.state_namespace, cwd)
        shown = state.relative_to(cwd) if state.is_relative_to(cwd) else state
        sub_run = new_run_id()  # every sub-run mints its own id (run.rs), inside the node's span
        log = self.run.log.scoped([span, run_span(sub_run)], run_id=sub_run)
        try:
            with state_lock.hold(state, shown):  # the engine's per-state-file turnstile (#1312)
                if kind == "transformation":
                    return self._model(node["label"], self._plan(node), log)
                return self._pipeline(node, self._plan(node), log)
        except CommandError as exc:
            return exc.render().removeprefix("Error: ")

    def _seed(self, name: str, log: StderrLog) -> str | None:
        try:
            _, rows = seeds.run_seeds(self.config, self.run.cwd, None, name, log, self.fail_nodes)
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

    def _model(self, name: str, units: list[Unit], log: StderrLog) -> str | None:
        """The model-only arm (``run.rs`` ~1607): its events; a failure is the ``RunFailed`` text only.

        A runtime model error is recorded in the sub-run's own ``RunOutput.errors``, which a DAG
        sub-run does not print, and logged nowhere: the node's error is the sentinel's message.
        """
        log.info("compiling and executing transformation models", target=RUN_TARGET, models_dir="models")
        failed = 0
        for unit in units:
            fate = fate_for(self.run.scenario, self.units_done, unit)
            self.units_done += 1
            if not fate.ok or self.fail_nodes.fails(name):
                failed += 1
                break  # execute_models stops at the first failing model
            log.event(
                "INFO",
                "executing model",
                target=RUN_TARGET,
                fields={"model": name, "target": unit.full_name, "statements": 1},
            )
            if self.warehouse is not None:
                self.warehouse.materialize(unit)
        if failed:
            return (
                f"{failed} model(s) failed (run_id: {log.run_id}, see the `errors` array in the JSON output)"
            )
        log.info("model execution complete", target=RUN_TARGET, models=1)
        return None

    def _pipeline(self, node: dict[str, Any], units: list[Unit], log: StderrLog) -> str | None:
        """A load, replication, snapshot or quality node: its pipeline as one sub-run."""
        kind = node["kind"]
        pipeline_type = "replication" if kind in ("load", "replication") else kind
        log.info(
            "resolved pipeline", target=RUN_TARGET, pipeline=node["pipeline"], pipeline_type=pipeline_type
        )
        if units:
            log.info("processing tables", target=RUN_TARGET, tables=len(units), concurrency=32)
        failures = 0
        for unit in units:
            fate = fate_for(self.run.scenario, self.units_done, unit)
            self.units_done += 1
            log.event(
                "INFO",
                "copying data",
                target=RUN_TARGET,
                fields={"table": unit.full_name, "strategy": unit.strategy},
            )
            if not fate.ok:
                failures += 1
            elif self.warehouse is not None:
                self.warehouse.materialize(unit)
        if failures:
            run_id = log.run_id  # run.rs PartialFailure / the total-failure bail: the same text
            return (
                f"{failures} table(s) failed during parallel execution "
                f"(run_id: {run_id}, use --resume {run_id} to retry)"
            )
        return None


def node_span(node: dict[str, Any]) -> Span:
    """The span every node future runs in (``dag_executor.rs``: ``info_span!("materialize.table", ...)``)."""
    return {"rocky.model.fqn": node["id"], "rocky.model.kind": node["kind"], "name": "materialize.table"}


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
        run.log.scoped([]).warn("received shutdown signal, aborting DAG run", target="rocky")
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
