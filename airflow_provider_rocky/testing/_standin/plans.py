"""``rocky plan`` and ``rocky apply <plan_id>`` (contract §7): a plan persisted, then applied as a run.

``plan`` plans a replication pipeline only (engine 1.71, ``commands/plan.rs``: the resolved pipeline
must be a replication pipeline with a discovery adapter; a project without pipelines is the
stand-in's built-in one). It prints a ``PlanResult`` (statements, ``plan_id``, ``plan_kind: run``,
models, execution layers) and writes it, with the arguments it was made from, to
``.rocky/plans/<plan_id>.json`` under the working directory. ``apply`` finds that file, applies the
engine's product-identity gate (``commands/apply.rs`` ``enforce_spec_digest_expectation``: a plan
payload carrying ``product_id`` + ``spec_digest`` needs an equal ``--expect-spec-digest``, compared
as strings; the flag against a plan without them is refused), then runs exactly the planned
arguments: its stdout is the run's ``RunOutput`` (``command: run``). ``rocky plan`` writes no product
identity (``rocky product propose`` does): a test binds a plan with :func:`bind_to_product`.

The ``budget_breach`` scenario plans an E027 budget diagnostic: ``has_budget_errors``, exit 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.config import load_config, replication_pipeline, select_pipeline
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.plan import RunPlan, build_plan
from airflow_provider_rocky.testing._standin.run_command import run_command
from airflow_provider_rocky.testing._standin.tracing import rfc3339, utc_now, write_fd

PLANS_DIR = Path(".rocky") / "plans"


def _statements(shape: RunPlan) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for schema in dict.fromkeys(unit.schema for unit in shape.units):
        out.append(
            {"purpose": "create_schema", "target": schema, "sql": f"CREATE SCHEMA IF NOT EXISTS {schema}"}
        )
    for unit in shape.units:
        target = f"{unit.schema}.{unit.table}"
        if unit.is_model:
            sql = f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM ({unit.name})"  # noqa: S608 - printed, never run
            out.append({"purpose": "model_build", "target": target, "sql": sql})
        else:
            sql = f"CREATE OR REPLACE TABLE {target} AS\nSELECT *\nFROM raw__{unit.asset_key[1]}.{unit.table}"
            out.append({"purpose": "full_refresh_copy", "target": target, "sql": sql})
    return out


def plan(run: RunEnv) -> Outcome:
    """Plan the run these arguments describe, persist it, print it."""
    inv = run.inv
    config = load_config(inv.config, run.cwd)
    replication_pipeline(config, inv.get("pipeline"), inv.config)
    _pipeline, pipeline_type = select_pipeline(config, inv.get("pipeline"))
    shape = build_plan(
        inv,
        run.scenario,
        config,
        config_pipeline_type=pipeline_type,
        table_count=run.knobs.tables,
        cwd=run.cwd,
        today=utc_now().date(),
        current=run.knobs.engine.current,
    )
    values = {key: value for key, value in inv.values.items() if key not in ("semantic", "base")}
    seed = json.dumps({"config": inv.config, "values": values, "cwd": str(run.cwd)}, sort_keys=True)
    plan_id = hashlib.sha256(seed.encode()).hexdigest()
    models = list(dict.fromkeys(unit.name for unit in shape.models))
    document: dict[str, Any] = {
        "version": run.knobs.engine.version,
        "command": "plan",
        "filter": inv.get("filter") or "",
        "statements": _statements(shape),
        "plan_id": plan_id,
        "plan_kind": "run",
        "created_at": rfc3339(utc_now()),
        "models": models,
        "execution_layers": [[name] for name in models],
    }
    if inv.get("env") is not None:
        document["env"] = inv.get("env")
    code = 0
    if run.scenario.budget:
        document["budget_diagnostics"] = [_budget_diagnostic()]
        document["has_budget_errors"] = True
        code = 1
    stored = {"plan": document, "values": values, "payload": {}}
    path = run.cwd / PLANS_DIR / f"{plan_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2), encoding="utf-8")
    run.log.info(f"plan {plan_id[:12]} written: {len(document['statements'])} statement(s)", plan_id=plan_id)
    write_fd(1, render(document, "json").encode("utf-8"))
    if code:
        run.log.plain("Error: budget exceeded in plan: 1 error-severity budget diagnostic(s) (E027)")
    return Outcome(code, None)


def _budget_diagnostic() -> dict[str, Any]:
    return {
        "severity": "Error",
        "code": "E027",
        "message": "planned run would cost ~$7.50, above [budget] max_usd = 5.00",
        "span": None,
        "model": "fct_daily_orders",
        "suggestion": "narrow the filter, or raise [budget] max_usd",
    }


def apply(run: RunEnv) -> Outcome:
    """Run the plan ``plan_id`` exactly as planned (its ``RunOutput`` on stdout)."""
    plan_id = str(run.inv.get("plan_id"))
    path = run.cwd / PLANS_DIR / f"{plan_id}.json"
    if not path.is_file():
        raise CommandError(
            f"plan {plan_id} not found in {PLANS_DIR} (run `rocky plan` first, in this project)"
        )
    stored = json.loads(path.read_text(encoding="utf-8"))
    _check_product_binding(stored.get("payload") or {}, plan_id, run.inv.get("expect-spec-digest"))
    run.log.info(f"applying plan {plan_id[:12]}", plan_id=plan_id)
    planned = dataclasses.replace(run.inv, command="run", values=dict(stored["values"]))
    return run_command(dataclasses.replace(run, inv=planned))


def bind_to_product(path: Path, product_id: str, spec_digest: str) -> None:
    """Give a stored plan a product identity, as ``rocky product propose`` writes one (tests)."""
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["payload"] = {**stored.get("payload", {}), "product_id": product_id, "spec_digest": spec_digest}
    path.write_text(json.dumps(stored, indent=2), encoding="utf-8")


def _check_product_binding(payload: dict[str, Any], plan_id: str, expected: str | None) -> None:
    """``enforce_spec_digest_expectation``: fail-closed both ways, equality over opaque strings."""
    product, digest = payload.get("product_id"), payload.get("spec_digest")
    if (product is None) != (digest is None):
        raise CommandError(
            f"plan '{plan_id}' carries a malformed product binding: a product-bound plan must carry BOTH "
            "`product_id` and `spec_digest` as non-empty strings (or neither)"
        )
    if product is None:
        if expected is not None:
            raise CommandError(
                f"--expect-spec-digest was given, but plan '{plan_id}' carries no spec_digest in its "
                "payload. The caller expected a product-bound plan; this one is not. Verify the plan id, "
                "or drop the flag only if applying a non-product plan is intended."
            )
        return
    if expected is None:
        raise CommandError(
            f"plan '{plan_id}' is product-bound (product '{product}'): its payload carries spec digest "
            f"'{digest}', so a bare `rocky apply` is refused. Pass `rocky apply {plan_id} "
            "--expect-spec-digest <digest>` with the digest of the approved spec you intend to fulfil."
        )
    if expected != digest:
        raise CommandError(
            f"spec digest mismatch for plan '{plan_id}': the plan was authored against '{digest}' but the "
            f"applier expected '{expected}'. The approved spec has moved since this plan was proposed — "
            "re-propose against the current approved spec instead of applying a stale plan."
        )
