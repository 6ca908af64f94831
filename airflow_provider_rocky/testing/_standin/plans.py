"""``rocky plan`` and ``rocky apply <plan_id>`` (contract §7): a plan persisted, then applied as a run.

``plan`` prints a ``PlanResult`` (statements, ``plan_id``, ``plan_kind: run``, models, execution
layers) and writes it, with the arguments it was made from and the project's spec digest, to
``.rocky/plans/<plan_id>.json`` under the working directory, as the engine does. ``apply`` finds that
file, refuses a missing plan or a spec digest other than ``--expect-spec-digest``, and then runs
exactly the planned arguments: its stdout is the run's ``RunOutput`` (``command: run``).

The ``budget_breach`` scenario plans an E027 budget diagnostic: ``has_budget_errors``, exit 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.config import load_config, select_pipeline
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.plan import RunPlan, build_plan
from airflow_provider_rocky.testing._standin.run_command import run_command
from airflow_provider_rocky.testing._standin.tracing import rfc3339, utc_now, write_fd

PLANS_DIR = Path(".rocky") / "plans"


def spec_digest(cwd: Path, models_dir: str | None) -> str:
    """A digest of the project's model files (what ``--expect-spec-digest`` pins)."""
    digest = hashlib.sha256()
    directory = cwd / (models_dir or "models")
    for path in sorted(directory.glob("*.sql")) if directory.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


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
        # What `rocky apply --expect-spec-digest` pins (the stand-in prints it; README, plan → apply).
        "spec_digest": spec_digest(run.cwd, inv.get("models")),
    }
    if inv.get("env") is not None:
        document["env"] = inv.get("env")
    code = 0
    if run.scenario.budget:
        document["budget_diagnostics"] = [_budget_diagnostic()]
        document["has_budget_errors"] = True
        code = 1
    stored = {"plan": document, "values": values, "spec_digest": document["spec_digest"]}
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
    expected = run.inv.get("expect-spec-digest")
    if expected is not None and expected != stored["spec_digest"]:
        raise CommandError(
            f"spec digest mismatch: plan {plan_id[:12]} was made from spec {stored['spec_digest']}, "
            f"--expect-spec-digest is {expected}; re-plan"
        )
    run.log.info(f"applying plan {plan_id[:12]}", plan_id=plan_id)
    planned = dataclasses.replace(run.inv, command="run", values=dict(stored["values"]))
    return run_command(dataclasses.replace(run, inv=planned))
