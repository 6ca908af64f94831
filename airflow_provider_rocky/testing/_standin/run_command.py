"""``rocky run`` end to end: config, bails, scenario early errors, idempotency claim, execution."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_provider_rocky.testing._standin import checks, state_lock, streams
from airflow_provider_rocky.testing._standin.config import ProjectConfig, load_config, select_pipeline
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.flags import UsageError
from airflow_provider_rocky.testing._standin.idempotency import IdempotencyStore, state_file, store_path
from airflow_provider_rocky.testing._standin.outputs import build_skipped_output, render
from airflow_provider_rocky.testing._standin.plan import RunPlan, build_plan
from airflow_provider_rocky.testing._standin.runner import Runner
from airflow_provider_rocky.testing._standin.signals import INTERRUPTED_EXIT
from airflow_provider_rocky.testing._standin.tracing import utc_now, write_fd
from airflow_provider_rocky.testing._standin.validation import check_run, idempotency_key, refusal_message
from airflow_provider_rocky.testing._standin.warehouse import Warehouse


def _early_error(run: RunEnv, state: Path) -> None:
    shown = state.relative_to(run.cwd) if state.is_relative_to(run.cwd) else state
    early = run.scenario.early
    if early == "usage":
        raise UsageError("unexpected argument '--fail-on-check-error' found")
    if early == "state_locked":
        raise CommandError(state_lock.locked_message(shown), ["Database already open. Cannot acquire lock."])
    if early == "state_busy":
        raise CommandError(
            f"state store at {shown} is busy — another rocky process is committing a write transaction. "
            "Retry in a moment."
        )
    if early == "state_schema_mismatch":
        raise CommandError(
            "state schema version mismatch: database has v23, binary expects v22 — "
            f"{shown} was written by a newer rocky; upgrade rocky or restore a compatible state file"
        )
    if early == "governance_refused":
        raise CommandError(refusal_message())
    if early == "network_failure":  # rocky-fivetran client.rs:80 (FivetranError::Http, a reqwest error)
        raise CommandError(
            f"failed to discover sources for pipeline {run.inv.get('pipeline') or 'default'}",
            [
                "HTTP error: error sending request for url (https://api.fivetran.com/v1/groups/grp/"
                "connectors): connection closed before message completed",
                "connection reset by peer (os error 104)",
            ],
        )


def run_command(run: RunEnv) -> Outcome:
    """Everything after clap for ``rocky run``; raises ``CommandError`` for hard failures."""
    inv, log = run.inv, run.log
    config = load_config(inv.config, run.cwd)
    for line in check_run(inv, config, run.env, run.cwd):
        log.plain(line)
    if config.exists:
        log.info("loaded config", path=inv.config)
    else:
        log.debug("no config file; using stand-in defaults", path=inv.config)
    state = state_file(inv.state_path, inv.state_namespace, run.cwd)
    log.debug("resolved state path", path=str(state))
    pipeline, pipeline_type = select_pipeline(config, inv.get("pipeline"))
    _early_error(run, state)
    plan = build_plan(
        inv,
        run.scenario,
        config,
        current=run.knobs.engine.current,
        config_pipeline_type=pipeline_type,
        table_count=run.knobs.tables,
        cwd=run.cwd,
        today=utc_now().date(),
    )
    mode = run.scenario.signals
    run.interrupts.install(("graceful" if plan.replication_path else "default") if mode == "auto" else mode)
    key = idempotency_key(inv, run.env)
    store = IdempotencyStore(store_path(state)) if key is not None else None
    if store is not None and key is not None:
        claim = store.claim(key, log.run_id, os.getpid())
        if claim.state != "claimed":
            status = "SkippedIdempotent" if claim.state == "succeeded" else "SkippedInFlight"
            log.event(
                "INFO",
                f"idempotency key {claim.state.replace('_', '-')} — skipping",
                target="rocky::run",
                backend="local",
                skipped_by_run_id=claim.holder,
            )
            output = build_skipped_output(
                status=status,
                key=key,
                prior_run_id=claim.holder or "",
                filter_text=inv.get("filter") or "",
                pipeline_type=plan.pipeline_type,
                concurrency=inv.get("parallel") or 4,
                version=run.knobs.engine.version,
            )
            write_fd(1, render(output, run.output_format).encode("utf-8"))
            return Outcome(0, status)
        if claim.reclaimed_from:
            log.warn("reclaimed a stale in-flight idempotency claim", previous_run_id=claim.reclaimed_from)
        log.info("idempotency key claimed — proceeding", backend="local")
    outcome = Outcome(1)
    shown = state.relative_to(run.cwd) if state.is_relative_to(run.cwd) else state
    try:
        with state_lock.hold(state, shown):  # the single writer, for as long as the run executes
            outcome = _execute(run, plan, pipeline, config)
    finally:
        if store is not None and key is not None:
            succeeded = (
                outcome.status in ("Success", "PartialFailure") and outcome.exit_code != INTERRUPTED_EXIT
            )
            store.finish(key, log.run_id, succeeded=succeeded)
    return outcome


def _execute(run: RunEnv, plan: RunPlan, pipeline: str, config: ProjectConfig) -> Outcome:
    runner = Runner(
        run, plan, pipeline=pipeline, adapter_type=config.adapter_type, budget_limit=config.budget_max_usd
    )
    runner.start()
    if run.scenario.grandchild or run.knobs.grandchild:
        runner.spawn_grandchild()
    streams.before_units(run, run.log)
    if run.scenario.hard_failure:
        schema = plan.units[0].schema if plan.units else "staging"
        raise CommandError(
            f"failed to prepare target schema {plan.catalog}.{schema}",
            [
                f'IO Error: Could not set lock on file "{plan.catalog}.duckdb": Conflicting lock is held',
                "Resource temporarily unavailable (os error 11)",
            ],
        )
    if run.scenario.compile_codes:
        runner.apply_compile_errors()
        return runner.finish()
    if run.scenario.stress != "huge_stdout":
        runner.warehouse = Warehouse.open(config.duckdb_path, run.log)
    try:
        if run.scenario.quality_gate and not run.knobs.engine.current:
            checks.quality_pipeline(runner.report, plan, run.log)  # 1.71: a checks-only pipeline
        else:
            runner.execute_units()
    finally:
        if runner.warehouse is not None:
            runner.warehouse.close()
    return runner.finish()
