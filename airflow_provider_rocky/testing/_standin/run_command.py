"""``rocky run`` end to end: config, bails, scenario early errors, idempotency claim, execution."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_rocky.testing._standin import checks, state_lock, streams
from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.config import ProjectConfig, load_config, select_pipeline
from airflow_provider_rocky.testing._standin.dag_run import run_dag
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.flags import UsageError
from airflow_provider_rocky.testing._standin.idempotency import IdempotencyStore, state_file, store_path
from airflow_provider_rocky.testing._standin.outputs import build_skipped_output, render
from airflow_provider_rocky.testing._standin.plan import RunPlan, build_plan
from airflow_provider_rocky.testing._standin.project import SNAPSHOT_PIPELINE
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


def _refuse_unsupported_shadow(inv: Invocation, pipeline: str, pipeline_type: str) -> None:
    """``reject_unsupported_shadow`` (``commands/run.rs`` 2306, 2392, 6185): snapshot and load pipelines."""
    kind = "snapshot" if pipeline == SNAPSHOT_PIPELINE else pipeline_type
    if (
        (inv.flag("shadow") or inv.get("branch") is not None)
        and inv.get("model") is None
        and kind in ("snapshot", "load")
    ):
        raise CommandError(
            f"--shadow / --branch is not supported for {kind} pipelines: their targets are not rewritten, "
            f"so the run would write production. Run the {kind} pipeline without the flag, or scope the "
            "shadow run to the transformation and replication pipelines with --pipeline"
        )


def run_command(run: RunEnv) -> Outcome:
    """Everything after clap for ``rocky run``; raises ``CommandError`` for hard failures."""
    inv, log = run.inv, run.log
    config = load_config(inv.config, run.cwd)
    for line in check_run(inv, config, run.env, run.cwd):
        log.plain(line)
    if inv.flag("dag"):
        return run_dag(run, config)
    if config.exists:
        log.info("loaded config", path=inv.config)
    else:
        log.debug("no config file; using stand-in defaults", path=inv.config)
    state = state_file(inv.state_path, inv.state_namespace, run.cwd)
    log.debug("resolved state path", path=str(state))
    pipeline, pipeline_type = select_pipeline(config, inv.get("pipeline"))
    _refuse_unsupported_shadow(inv, pipeline, pipeline_type)
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
    run.interrupts.install("default" if run.scenario.signals == "auto" else run.scenario.signals)
    shown = state.relative_to(run.cwd) if state.is_relative_to(run.cwd) else state
    key = idempotency_key(inv, run.env)
    store = IdempotencyStore(store_path(state), config.idempotency) if key is not None else None
    if store is not None and key is not None:
        skipped = _claim(run, store, key, state, shown, plan)
        if skipped is not None:
            return skipped
    outcome: Outcome | None = None
    with state_lock.hold(state, shown):  # the single writer, for as long as the run executes
        try:
            outcome = _execute(run, plan, pipeline, config)
        finally:  # a signal with the default disposition ends the process here: nothing finalizes
            if store is not None and key is not None:
                store.finalize(key, log.run_id, succeeded=_succeeded(run, plan, outcome))
    assert outcome is not None  # _execute returned (an exception would have propagated)
    return outcome


def _claim(
    run: RunEnv, store: IdempotencyStore, key: str, state: Path, shown: Path, plan: RunPlan
) -> Outcome | None:
    """``try_claim_idempotency`` (``commands/run.rs``): the short-circuit output, or ``None`` to run."""
    inv, log = run.inv, run.log
    with state_lock.hold(
        state, shown, context=f"failed to open state store at {shown} for idempotency claim"
    ):
        claim = store.claim(key, log.run_id)
    if claim.verdict == "claimed":
        log.info("idempotency key claimed — proceeding", idempotency_key=key, backend="local")
        return None
    if claim.verdict == "adopted":
        log.warn(
            "adopted stale idempotency claim (previous run appears crashed) — proceeding",
            idempotency_key=key,
            prior_run_id=claim.prior_run_id,
            backend="local",
        )
        return None
    status = "SkippedIdempotent" if claim.verdict == "skip_completed" else "SkippedInFlight"
    if run.output_format != "json":  # emit_skipped_run_output: JSON mode prints the output only
        label = "skipped_idempotent" if status == "SkippedIdempotent" else "skipped_in_flight"
        log.info(
            "idempotency key already claimed — skipping run",
            idempotency_key=key,
            prior_run_id=claim.prior_run_id,
            status=label,
        )
    output = build_skipped_output(
        status=status,
        key=key,
        prior_run_id=claim.prior_run_id or "",
        filter_text=inv.get("filter") or "",
        pipeline_type=plan.pipeline_type,
        concurrency=inv.get("parallel") or 4,
        version=run.knobs.engine.version,
    )
    write_fd(1, render(output, run.output_format).encode("utf-8"))
    return Outcome(0, status)


def _succeeded(run: RunEnv, plan: RunPlan, outcome: Outcome | None) -> bool:
    """How the claim is finalized (``commands/run.rs``), per path.

    The replication path and ``--model`` call ``finalize_idempotency`` with the output's derived status
    (``Success`` only without failures or interruption, whatever the exit code: a budget breach still
    stamps ``Succeeded``); the transformation, quality and snapshot arms stamp ``Succeeded`` only when
    they return ``Ok`` (exit 0), and an error (``PartialFailure``, ``RunFailed``, a budget breach, a hard
    failure) finalizes ``Failed`` (``finalize_idempotency_on_error``).
    """
    if outcome is None:  # a hard failure escaped the run body
        return False
    if plan.replication_path or run.inv.get("model") is not None:
        return outcome.status == "Success" and outcome.exit_code != INTERRUPTED_EXIT
    return outcome.exit_code == 0


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
