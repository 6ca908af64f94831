"""What ``rocky seed`` means: the seed loaded (one asset event for its table), or why not.

Read with rocky-sdk's ``SeedOutput`` (``schemas/seed.schema.json``; both rocky-sdk 0.15 and 0.29 model
it). Upstream ``commands/seed.rs`` ``run_seed``: JSON, then ``Error: N seed(s) failed`` and exit 1 when
a seed failed; exit 1 without JSON when the pipeline or the seeds folder cannot be resolved. The verdict:

* a failed seed fails the task as ``engine`` (the engine documents no failure kinds for seeds),
  naming the seed, its target and the engine's error;
* the seed this task names missing from the output fails as ``usage``: ``rocky seed --filter NAME``
  of a name no file has loads nothing and exits 0, which would be a green task that did nothing;
* otherwise success; each loaded table becomes an asset event (its ``target``, named by ``assets``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.events import AssetEventSpec
from airflow_provider_rocky._verdict.summary import MAX_ITEMS, capped, cut, head, readable_table
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with
from airflow_provider_rocky.assets import JsonValue, resolve_namespace, table_ref_for


def _seed_model() -> Any:
    from rocky_sdk.types_generated import SeedOutput

    return SeedOutput


SEED_READING = Reading(_seed_model, "SeedOutput")


def _named(command: Sequence[str]) -> str | None:
    """The seed a command loads: its ``--filter=NAME`` (how this provider always passes it)."""
    for token in command:
        if token.startswith("--filter="):
            return token.split("=", 1)[1]
    return None


def interpret_seed(outcome: ProcessOutcome, *, command: Sequence[str] = (), **kwargs: Any) -> Verdict:
    """``rocky seed``: the named seed loaded, or the error naming what failed. Never raises."""
    wanted = _named(command)

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        failed = [t for t in result.tables if t.error]
        if failed or ended.exit_code != 0:
            shown = "; ".join(f"{t.name} -> {t.target}: {str(t.error)[:300]}" for t in failed[:10])
            message = f"{len(failed)} seed(s) failed: {shown}" if failed else make.error_text
            message = message or f"rocky seed exited {ended.exit_code}"
            return make.failed(make(exc.RockyEngineError, message, result), result)
        if wanted is not None and wanted not in {t.name for t in result.tables}:
            message = (
                f"rocky seed loaded no seed named {wanted!r} from {result.seeds_dir!r} (the engine exits 0 "
                "when --filter matches no seed file): check the seed's name and the seeds folder"
            )
            return make.failed(make(exc.RockyUsageError, message, result), result)
        return make.verdict("success", result, None)

    return interpret_with(outcome, SEED_READING, decide, command=command, **kwargs)


def seed_events(
    result: Any, *, namespace: str | None = None, default_catalog: str | None = None
) -> list[AssetEventSpec]:
    """One event per loaded table (``tables[].target``), in the engine's order."""
    ns = resolve_namespace(namespace, default_catalog)
    specs = []
    for table in result.tables:
        ref = table_ref_for(table.target, ())
        if table.error or ref is None:
            continue
        name, uri = ns.locate(ref)
        extra: dict[str, JsonValue] = {
            "target_table": table.target,
            "seed": table.name,
            "strategy": "seed",
            "rows_copied": table.rows,
            "columns": table.columns,
            "duration_ms": table.duration_ms,
            "engine_version": result.version,
        }
        specs.append(AssetEventSpec(uri=uri, name=name, extra=extra))
    return specs


def seed_summary(verdict: Verdict, pipes: PipesRecord | None = None) -> dict[str, Any]:
    """The XCom summary: counts, and each seed's table, rows and error."""
    result = verdict.result
    summary = {**head(verdict), "engine_version": getattr(result, "version", None)}
    if result is not None:
        summary.update(
            seeds_dir=result.seeds_dir,
            tables_loaded=result.tables_loaded,
            tables_failed=result.tables_failed,
            duration_ms=result.duration_ms,
        )
        capped(summary, "tables", list(result.tables), _row)
    return summary


def _row(table: Any) -> dict[str, Any]:
    row = {"seed": table.name, "table": readable_table(table.target), "rows": table.rows}
    return {**row, "error": cut(table.error)} if table.error else row


def seed_report(verdict: Verdict, pipes: PipesRecord | None = None) -> list[tuple[str, bool]]:
    """The end-of-run log lines: one per seed (failures at WARNING)."""
    result = verdict.result
    if result is None:
        return [(f"rocky seed: {verdict.outcome}", verdict.error is not None)]
    head = f"rocky seed: {result.tables_loaded} loaded, {result.tables_failed} failed"
    lines = [(head, bool(result.tables_failed))]
    for table in list(result.tables)[:MAX_ITEMS]:
        state = f"FAILED: {table.error}" if table.error else f"{table.rows} rows"
        lines.append((f"  {table.name} -> {readable_table(table.target)}: {state}", bool(table.error)))
    return lines
