"""``rocky run``: stream progress on stderr, do the (optional) warehouse work, print one RunOutput.

Order at the end of a run follows the engine (contract §3.1, §5): Pipes batch, then stdout JSON, then
the ``Error: ...`` line that explains a non-zero exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_rocky.testing._standin import checks, streams
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.fail_nodes import FailNodes, model_error
from airflow_provider_rocky.testing._standin.outputs import (
    RunReport,
    UnitResult,
    build_run_output,
    render,
)
from airflow_provider_rocky.testing._standin.pipes_writer import PipesWriter, start_message
from airflow_provider_rocky.testing._standin.plan import RunPlan
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.signals import INTERRUPTED_EXIT
from airflow_provider_rocky.testing._standin.tracing import new_run_id, utc_now, write_fd
from airflow_provider_rocky.testing._standin.validation import idempotency_key, parse_vars
from airflow_provider_rocky.testing._standin.warehouse import Warehouse
from airflow_provider_rocky.testing.scenarios import Fate, compile_error_text, fate_for

SLOW_DELAY = 0.35
SLOW_MINIMUM = 3.0


class Runner:
    """One ``rocky run`` after argv validation: plan, claim, execute, report."""

    def __init__(
        self, run: RunEnv, plan: RunPlan, *, pipeline: str, adapter_type: str, budget_limit: float | None
    ) -> None:
        self.run = run
        self.budget_limit = budget_limit
        self.plan = plan
        self.log = run.log
        self.pipeline = pipeline
        self.delay = SLOW_DELAY if run.scenario.slow else run.knobs.delay
        self.started = time.monotonic()
        self.report = RunReport(
            filter=run.inv.get("filter") or "",
            pipeline_type=plan.pipeline_type,
            concurrency=run.inv.get("parallel") or 4,
            idempotency_key=idempotency_key(run.inv, run.env),
            resumed_from=self._resumed_from(),
            shadow=run.inv.flag("shadow"),
            adapter_type=adapter_type,
            engine=run.knobs.engine,
        )
        #: ``contained``: the model whose failure the models after it are contained behind.
        self.blocker: str | None = None
        self.pipes: PipesWriter | None = None
        self.warehouse: Warehouse | None = None
        #: ``ROCKY_STANDIN_FAIL_NODES``: models that fail this build.
        self.fail_nodes = FailNodes(run.env, run.cwd)

    def _resumed_from(self) -> str | None:
        if self.run.inv.get("resume") is not None:
            return str(self.run.inv.get("resume"))
        if self.run.inv.flag("resume-latest"):
            # The stand-in keeps no run history: synthesize the id of a run one hour ago.
            return new_run_id(utc_now().replace(microsecond=0) - timedelta(hours=1))
        return None

    def progress(self, level: str, message: str, **fields: Any) -> bool:
        """Wait the progress delay, then log; True when a graceful interrupt arrived meanwhile."""
        if self.run.interrupts.pause(self.delay):
            return True
        self.log.event(level, message, **fields)
        return self.run.interrupts.requested

    def elapsed_ms(self) -> int:
        """Wall clock since the run started (``duration_ms``)."""
        return int((time.monotonic() - self.started) * 1000)

    # -- phases -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Opening lines: pipeline, discovery, catalog, compile; detects Pipes."""
        inv, plan = self.run.inv, self.plan
        self.log.info(
            f"rocky run starting (pipeline {self.pipeline})",
            pipeline=self.pipeline,
            pipeline_type=plan.pipeline_type,
            filter=inv.get("filter") or "",
        )
        self.pipes = PipesWriter.detect(self.run.env, self.log)
        for name, value in parse_vars(inv.get("var")):
            self.log.debug("variable bound", name=name, value=value)
        if inv.get("env") is not None:
            self.log.info(f"governance scoped to environment {inv.get('env')}", env=inv.get("env"))
        if inv.flag("defer"):
            self.log.info(
                "deferring unbuilt upstream models to production", defer_to=inv.get("defer-to") or "prod"
            )
        if self.report.resumed_from:
            self.log.info(f"resuming from {self.report.resumed_from}", resumed_from=self.report.resumed_from)
        if plan.tables:
            sources = {unit.asset_key[1] for unit in plan.tables}
            self.progress("INFO", f"discovering {len(sources)} sources", sources=len(sources))
            self.progress(
                "INFO",
                f"discovered {len(sources)} sources ({len(plan.tables)} tables)",
                tables=len(plan.tables),
            )
            self.progress("INFO", f"catalog {plan.catalog} created", catalog=plan.catalog)
        if plan.models:
            names = sorted({unit.name for unit in plan.models})
            self.progress("INFO", f"compiled {len(names)} models in 3ms", models=len(names))

    def spawn_grandchild(self) -> None:
        """Start a long-lived child in our process group (tests that the caller kills the whole group)."""
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(3600)"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.run.recorder.append({"event": "grandchild", "pid": child.pid, "parent_pid": os.getpid()})
        self.log.info(f"spawned helper process {child.pid}", grandchild_pid=child.pid)

    def execute_units(self) -> None:
        """Materialize each unit per its scenario fate, honouring hangs and graceful interrupts."""
        scenario, units = self.run.scenario, self.plan.units
        hang_at = min(1, len(units) - 1) if scenario.hang else -1
        if scenario.long_running and units:
            self.delay = (self.run.knobs.seconds if self.run.knobs.seconds is not None else 60.0) / (
                2 * len(units)
            )
        quiet = len(units) > 1000
        schemas_done: set[str] = set()
        for index, unit in enumerate(units):
            self._signals_for(unit)
            if self._contain(unit):
                continue
            started_at, t0 = utc_now(), time.monotonic()
            verb = f"executing model {unit.name}" if unit.is_model else f"copying {unit.short_name}"
            if unit.partition is not None:
                verb += f" partition {unit.partition.key}"
            label = f"{verb} ({unit.rows} rows)" if not unit.is_model else verb
            interrupted = (
                self.run.interrupts.requested
                if quiet and index % 1000
                else self.progress("INFO", label, table=unit.full_name, strategy=unit.strategy)
            )
            if not interrupted and index == hang_at:
                self.run.interrupts.hang()
                interrupted = True
            if interrupted:
                self._interrupt(index, started_at)
                return
            fate = fate_for(scenario, index, unit)
            if unit.is_model and self.fail_nodes.fails(unit.name):
                fate = Fate(False, "unknown", model_error(unit.name, unit.full_name))
            result = UnitResult(unit, "ok", started_at)
            if fate.ok:
                try:
                    result.rows = self.warehouse.materialize(unit) if self.warehouse else unit.rows
                    self._record_write(unit)
                except Exception as exc:  # a failing statement is a per-table failure, like the engine's
                    result.outcome, result.failure_kind, result.error = "failed", "query-rejected", str(exc)
            else:
                result.outcome, result.failure_kind = "failed", fate.failure_kind
                result.error, result.cooldown_seconds = fate.error, fate.cooldown_seconds
                if fate.cooldown_seconds and self.run.knobs.cooldown is not None:
                    result.cooldown_seconds = self.run.knobs.cooldown
            result.duration_ms = int((time.monotonic() - t0) * 1000)
            self.report.results.append(result)
            if result.outcome == "ok":
                if not unit.is_model and unit.schema not in schemas_done and not quiet:
                    schemas_done.add(unit.schema)
                    self.log.info(f"drift check passed for {unit.schema} schema", schema=unit.schema)
                if not quiet:
                    self.log.info(
                        f"{'materialized' if unit.is_model else 'copied'} {unit.short_name} "
                        f"({result.rows} rows) in {result.duration_ms}ms",
                        rows=result.rows,
                        duration_ms=result.duration_ms,
                    )
            else:
                self.log.error(
                    f"{'model' if unit.is_model else 'table'} {unit.short_name} failed",
                    error=result.error,
                    failure_kind=result.failure_kind,
                )
                if scenario.fates == "contained" and unit.is_model:
                    self.blocker = unit.name
        if scenario.slow:
            self.run.interrupts.pause(max(0.0, SLOW_MINIMUM - (time.monotonic() - self.started)))
        if self.plan.replication_path:
            self.run.interrupts.install("drained")
        if self.run.interrupts.requested:
            self.report.interrupted = True

    def _signals_for(self, unit: Unit) -> None:
        """Handlers exist only while the replication fan-out copies tables (``signals.py``)."""
        if self.plan.replication_path:
            self.run.interrupts.install("drained" if unit.is_model else "graceful")

    def _record_write(self, unit: Unit) -> None:
        """The record's ``materialized`` event: what this process wrote (tests count writes by it)."""
        self.run.recorder.append(
            {
                "event": "materialized",
                "pid": os.getpid(),
                "run_id": self.log.run_id,
                "table": unit.full_name,
                "partition": unit.partition.key if unit.partition is not None else None,
                "warehouse": str(self.warehouse.path) if self.warehouse is not None else None,
            }
        )

    def _contain(self, unit: Unit) -> bool:
        """``[resilience] contain_failures``: a model after a failed one is not built, and says why."""
        if self.blocker is None or not unit.is_model:
            return False
        hint = f"fix {self.blocker}, then rocky run --resume {self.log.run_id}"
        self.report.contained.append({"model": unit.name, "blocked_by": [self.blocker], "unblock_hint": hint})
        self.log.warn(f"model {unit.name} contained: upstream {self.blocker} failed", blocked_by=self.blocker)
        return True

    def _interrupt(self, index: int, started_at: datetime) -> None:
        # "finishing in-flight statements" (commands/run.rs, the shutdown line): they take
        # ROCKY_STANDIN_DRAIN seconds, while the handlers stay armed (a second SIGINT exits at once)
        time.sleep(self.run.knobs.drain)
        for unit in self.plan.units[index:]:
            self.report.results.append(UnitResult(unit, "interrupted", started_at))
        self.report.interrupted = True
        self.log.warn(
            f"run interrupted: {len(self.plan.units) - index} table(s) not finished",
            unfinished=len(self.plan.units) - index,
        )

    def apply_compile_errors(self) -> None:
        """Compile diagnostics abort the run before any warehouse work (nothing lands)."""
        models = self.plan.models or self.plan.units
        failing = models[-1].name if models else "fct_daily_orders"
        for code in self.run.scenario.compile_codes:
            error = compile_error_text(code, failing)
            self.log.error(f"compile failed: {error}", model=failing, code=code)
            self.report.compile_errors.append(
                {"asset_key": [failing], "error": error, "failure_kind": "compile-error"}
            )
        self.report.compile_failed_models = 1

    def finish(self) -> Outcome:
        """Checks/drift/budget, Pipes batch, stdout, the explaining ``Error:`` line; returns the exit."""
        scenario, report = self.run.scenario, self.report
        checks.apply(scenario, report, self.log, self.budget_limit)
        inv = self.run.inv
        if inv.flag("skip-unchanged") and self.plan.models:
            reason = "forced by --force-rebuild" if inv.flag("force-rebuild") else "no prior build recorded"
            report.model_decisions = [
                {"model": name, "decision": "build", "reason": reason}
                for name in dict.fromkeys(unit.name for unit in self.plan.models)
            ]
        report.schemas_created = len({r.unit.schema for r in report.materialized})
        report.tables_checked = max(
            sum(1 for r in report.materialized if not r.unit.is_model), len(report.drift_actions)
        )
        report.duration_ms = self.elapsed_ms()
        output = build_run_output(report)
        if not report.interrupted:
            self.log.info(
                f"run complete in {report.duration_ms}ms",
                tables_copied=output["tables_copied"],
                tables_failed=output["tables_failed"],
                status=output["status"],
            )
            if self.pipes is not None:
                self.pipes.log(start_message(self.plan.pipeline_type))
                self.pipes.emit_results(output, pipeline_type=self.plan.pipeline_type)
        text = render(output, self.run.output_format)
        if scenario.stress == "garbage_stdout":
            text = streams.garbage_stdout(output)
        write_fd(1, text.encode("utf-8"))
        streams.after_output(self.run, self.log)
        return Outcome(self._exit_code(output), output["status"])

    def _exit_code(self, output: dict[str, Any]) -> int:
        report, run_id = self.report, self.log.run_id
        if report.interrupted:
            return INTERRUPTED_EXIT
        failed_tables = [r for r in report.results if r.outcome == "failed" and not r.unit.is_model]
        code = {"Success": 0, "PartialFailure": 2}.get(output["status"], 1)
        # A partial run's sentinel is mapped to exit 2 by ``std::process::exit(2)`` before ``main``
        # returns it (``engine/rocky/src/main.rs`` ~4785): no ``Error:`` line; a total failure's is.
        if failed_tables:
            if code != 2:
                self.log.plain(
                    f"Error: {output['tables_failed']} table(s) failed during parallel execution "
                    f"(run_id: {run_id}, use --resume {run_id} to retry)"
                )
            return code
        if output["tables_failed"]:
            if code != 2:
                self.log.plain(
                    f"Error: {output['tables_failed']} model(s) failed (run_id: {run_id}, see the `errors` "
                    "array in the JSON output)"
                )
            return code
        for breach in report.budget_breaches:
            self.log.plain(
                f"Error: budget exceeded — {breach['limit_type']}: actual {breach['actual']:.2f} > "
                f"limit {breach['limit']:.2f}"
            )
            return 1
        if report.gated:
            return self._gate_exit(code)
        return code

    def _gate_exit(self, code: int) -> int:
        """1.71 exits 1 on a failed gate; later engines exit with the status code (2 when tables landed)."""
        report, failed = self.report, checks.error_failures(self.report)
        if report.verify_after_failed:
            self.log.plain(f"Error: verify_after gate failed: {failed} check(s) failed after the run")
        elif report.engine.current:
            run_id = self.log.run_id
            self.log.plain(
                f"Error: check gate failed: {failed} error-severity check(s) failed (run_id: {run_id})"
            )
        else:
            self.log.plain(f"Error: quality pipeline failed: {failed} error-severity check(s) failed")
        return code if report.engine.current else 1
