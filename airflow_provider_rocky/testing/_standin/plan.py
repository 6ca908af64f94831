"""Turn argv + scenario + config into the run's shape: path, pipeline type and ordered units."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from airflow_provider_rocky.testing._standin import project, selection
from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.config import ProjectConfig
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.validation import parse_filter
from airflow_provider_rocky.testing.scenarios import Scenario, needs_companion


@dataclass(frozen=True)
class RunPlan:
    """The run's units in execution order (replication tables first, then models)."""

    pipeline_type: str
    replication_path: bool
    units: list[Unit]
    tables: list[Unit]
    models: list[Unit]
    catalog: str


def _partition_flags(inv: Invocation) -> bool:
    return any(inv.get(flag) is not None for flag in ("partition", "from")) or (
        inv.flag("latest") or inv.flag("missing")
    )


def _companion(unit: Unit) -> Unit:
    """A second unit for partial scenarios: the previous partition, or a ``<table>_history`` sibling."""
    if unit.partition is not None:
        return replace(unit, partition=selection.previous_window(unit.partition))
    suffix = "_history"
    return replace(
        unit,
        table=unit.table + suffix,
        name=unit.name + suffix,
        asset_key=(*unit.asset_key[:-1], unit.asset_key[-1] + suffix),
    )


def build_plan(
    inv: Invocation,
    scenario: Scenario,
    config: ProjectConfig,
    *,
    config_pipeline_type: str,
    table_count: int | None,
    cwd: Path,
    today: date,
    current: bool = False,
) -> RunPlan:
    """Decide what runs: replication, models, partitions (contract §1.2), shaped by the scenario.

    On engines after 1.71 the gate scenarios (``quality_gate``) land their tables before gating, so
    they run as replication; ``contained`` runs replication and models (the models contain a failure).
    """
    kind = "replication" if scenario.kind == "quality" and current else scenario.kind
    partitioned = kind == "partitioned" or (kind != "replication" and _partition_flags(inv))
    wants_models = inv.get("models") is not None or inv.flag("all") or inv.get("model") is not None
    if kind in ("replication", "quality"):
        with_models, with_tables = False, True
    elif kind == "contained":
        with_models, with_tables = True, True
    else:
        with_models = (
            partitioned
            or wants_models
            or kind in ("transformation", "models")
            or config_pipeline_type == "transformation"
        )
        with_tables = not with_models or inv.flag("all")
    if scenario.stress == "huge_stdout" and table_count is None:
        table_count = 10000
    tables: list[Unit] = []
    if with_tables:
        tables = selection.replication_units(parse_filter(inv.get("filter")), config.catalog, table_count)
    models: list[Unit] = []
    if with_models:
        models = selection.model_units(inv.get("models"), inv.get("model"), cwd)
        if partitioned:
            windows = selection.partitions(
                partition=inv.get("partition"),
                start=inv.get("from"),
                end=inv.get("to"),
                latest=inv.flag("latest"),
                missing=inv.flag("missing"),
                lookback=inv.get("lookback"),
                today=today,
            )
            models = selection.partition_units(models, windows)
    if inv.flag("shadow"):
        tables = selection.apply_shadow(
            tables, inv.get("shadow-suffix", "_rocky_shadow"), inv.get("shadow-schema")
        )
        models = selection.apply_shadow(
            models, inv.get("shadow-suffix", "_rocky_shadow"), inv.get("shadow-schema")
        )
    demo = project.pipeline_plan(inv, config.catalog, table_count)  # a demo pipeline run by name
    if demo is not None:
        tables = [unit for unit in demo[1] if not unit.is_model]
        models = [unit for unit in demo[1] if unit.is_model]
    units = tables + models
    if needs_companion(scenario) and len(units) == 1:
        extra = _companion(units[0])
        units.append(extra)
        (models if extra.is_model else tables).append(extra)
    pipeline_type = "replication" if with_tables else "transformation"
    if kind == "quality":
        pipeline_type = "quality"
    if demo is not None:
        pipeline_type, with_tables = demo[0], demo[0] == "replication"
    return RunPlan(
        pipeline_type=pipeline_type,
        replication_path=with_tables,
        units=units,
        tables=tables,
        models=models,
        catalog=config.catalog,
    )
