"""Asset events from a finished run: one per materialized table and partition, named by ``assets``.

Built in one pass over the result (10,000 tables: 0.09 s). The names come from
:mod:`airflow_provider_rocky.assets` (the one naming rule); this module decides what each event
carries (``extra``), merges what Pipes reported with what stdout said, and records the events on the
running task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_rocky._engine.pipes import MaterializationReport
from airflow_provider_rocky._verdict.observations import Observations, for_table
from airflow_provider_rocky.assets import JsonValue, TableRef, resolve_namespace, table_ref_for

if TYPE_CHECKING:  # rocky-sdk costs ~0.2 s to import: never at DAG parse time
    from rocky_sdk.types import MaterializationInfo, RunResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssetEventSpec:
    """One asset event to emit: Airflow-stored ``uri``, Asset ``name`` and JSON-native ``extra``."""

    uri: str
    name: str
    extra: dict[str, JsonValue] = field(default_factory=dict, hash=False)

    def asset(self) -> Asset:
        """The Airflow Asset (no static extra: extra belongs to the event, not the asset identity)."""
        return Asset(name=self.name, uri=self.uri)

    @property
    def partition_key(self) -> str | None:
        """The partition this event is for, if the materialization was partitioned."""
        value = self.extra.get("partition_key")
        return value if isinstance(value, str) else None

    @property
    def merge_key(self) -> tuple[str, str | None]:
        """What makes two reports the same materialization: table URI + partition key."""
        return self.uri, self.partition_key


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def materialization_extra(
    mat: MaterializationInfo, ref: TableRef, *, run_status: str | None, engine_version: str | None
) -> dict[str, JsonValue]:
    """The event ``extra`` for one materialization; keys without a value are left out."""
    meta = mat.metadata
    extra: dict[str, JsonValue] = {
        "target_table": meta.target_table_full_name or ref.dotted,
        "asset_key": list[JsonValue](mat.asset_key),
        "strategy": meta.strategy,
        "duration_ms": mat.duration_ms,
    }
    optional: dict[str, JsonValue] = {
        "rows_copied": mat.rows_copied,
        "sql_hash": meta.sql_hash,
        "watermark": _iso(meta.watermark),
        "started_at": _iso(mat.started_at),
        "cost_usd": mat.cost_usd,
        "bytes_scanned": mat.bytes_scanned,
        "bytes_written": mat.bytes_written,
        "tenant": mat.tenant,
        "run_status": run_status,
        "engine_version": engine_version,
    }
    if (part := mat.partition) is not None:
        optional["partition_key"] = part.key
        optional["partition_start"] = _iso(part.start)
        optional["partition_end"] = _iso(part.end)
        if part.batched_with:
            optional["partition_batched_with"] = list(part.batched_with)
    extra.update((k, v) for k, v in optional.items() if v is not None)
    return extra


def asset_events(
    result: RunResult,
    *,
    namespace: str | None = None,
    default_catalog: str | None = None,
    engine_version: str | None = None,
    run_status: str | None = None,
    observations: Observations | None = None,
) -> list[AssetEventSpec]:
    """One event per entry of ``result.materializations``, in engine order, in one pass.

    Only tables that landed are in ``materializations[]`` (a partial run lists the successes), so a
    failed table never gets an event. A partitioned backfill lists the same table once per partition:
    each becomes its own event (their ``extra`` differs by ``partition_key``, so Airflow keeps all).
    ``engine_version``/``run_status`` default to the result's ``version``/``status``. With the run's
    ``observations``, each event also carries what the engine said about that table (volume verdict,
    notes, anomaly, checks it could not evaluate). A table the namespace cannot name (no catalog under
    a strict warehouse) is skipped with a warning; every other table still gets its event.
    """
    ns = resolve_namespace(namespace, default_catalog)
    version = engine_version if engine_version is not None else result.version
    status = run_status if run_status is not None else result.status
    specs: list[AssetEventSpec] = []
    for index, mat in enumerate(result.materializations):
        ref = table_ref_for(mat.metadata.target_table_full_name, mat.asset_key)
        if ref is None:
            log.warning("rocky: cannot name the table of materialization %s; no asset event", mat.asset_key)
            continue
        try:
            name, uri = ns.locate(ref)
        except ValueError as err:
            log.warning("rocky: no asset event for %s: %s", ref.dotted, err)
            continue
        extra = materialization_extra(mat, ref, run_status=status, engine_version=version)
        if observations is not None:
            target = mat.metadata.target_table_full_name
            extra.update(for_table(observations, index, target, mat.asset_key))
        specs.append(AssetEventSpec(uri=uri, name=name, extra=extra))
    return specs


def match_outlets(
    outlets: Iterable[object], specs: Sequence[AssetEventSpec]
) -> list[tuple[Asset, list[AssetEventSpec]]]:
    """Pair each statically declared outlet ``Asset`` with the specs emitted for its URI.

    Compared on Airflow's stored ``uri`` (both sides are already sanitised), so an outlet declared
    under another name for the same table still matches. Aliases, other outlet kinds and assets no
    materialization matched are left out; an asset declared twice is paired once.
    """
    by_uri: dict[str, list[AssetEventSpec]] = {}
    for spec in specs:
        by_uri.setdefault(spec.uri, []).append(spec)
    paired: list[tuple[Asset, list[AssetEventSpec]]] = []
    seen: set[str] = set()
    for outlet in outlets:
        if isinstance(outlet, Asset) and outlet.uri in by_uri and outlet.uri not in seen:
            seen.add(outlet.uri)
            paired.append((outlet, by_uri[outlet.uri]))
    return paired


def merged_extra(specs: Sequence[AssetEventSpec]) -> dict[str, JsonValue]:
    """One ``extra`` for a declared outlet that several events matched (e.g. one per partition).

    A declared outlet carries a single extra per task run: the last event's, plus ``event_count``
    and every ``partition_keys`` covered (in engine order, without repeats), so a consumer on Airflow
    3.1/3.2 (no per-event partition keys) still reads which partitions the run wrote.
    """
    if not specs:
        return {}
    extra = dict(specs[-1].extra)
    if len(specs) > 1:
        extra["event_count"] = len(specs)
        keys: list[JsonValue] = list(dict.fromkeys(s.partition_key for s in specs if s.partition_key))
        if keys:
            extra["partition_keys"] = keys
    return extra


def emit(
    outlet_events: Any, alias: AssetAlias, outlets: Iterable[object], specs: Sequence[AssetEventSpec]
) -> int:
    """Record the events on a running task: exactly one per table (and partition, where Airflow can).

    Airflow records an event for every declared ``Asset`` outlet of a successful task on its own, and
    separately one for every asset added through an alias, without comparing the two (so a table both
    declared and added through the alias got two events, and the alias path warned "AssetModel ...
    not found" / "inactive AssetModel" for it). So a table declared in ``outlets`` is never added
    through the alias: its declared event gets the run's ``extra`` instead, and on Airflow 3.3+
    (``OutletEventAccessor.add_partitions``, feature-detected) the partition keys it was written
    for, one event per key, readable by a ``PartitionedAssetTimetable``. Airflow 3.1/3.2 record one
    event per declared table, with ``partition_key``/``partition_keys`` in its extra. Every table
    nobody declared still gets one event per spec through ``alias``.

    ``outlet_events`` is the task context's accessor; Airflow writes the events when the task
    succeeds. Returns the number of alias events added.
    """
    declared_uris = {asset.uri for asset, _ in match_outlets(outlets, specs)}
    accessor = outlet_events[alias]
    added = 0
    for spec in specs:
        if spec.uri not in declared_uris:
            accessor.add(spec.asset(), extra=spec.extra)
            added += 1
    emit_declared(outlet_events, outlets, specs)
    return added


def emit_declared(outlet_events: Any, outlets: Iterable[object], specs: Sequence[AssetEventSpec]) -> None:
    """Give each declared outlet its run's ``extra`` (and partitions), adding nothing through an alias.

    For ``emit_assets=False``: Airflow records the declared outlets' events itself when the task
    succeeds; this only fills them in, as :func:`emit` does.
    """
    for asset, matched in match_outlets(outlets, specs):
        event = outlet_events[asset]
        event.extra = merged_extra(matched)
        keys = list(dict.fromkeys(s.partition_key for s in matched if s.partition_key))
        if keys and hasattr(event, "add_partitions"):
            event.add_partitions(keys)


def _report_extra(report: MaterializationReport, target_table: str) -> dict[str, JsonValue]:
    extra: dict[str, JsonValue] = {
        "target_table": target_table,
        "asset_key": list[JsonValue](report.asset_key_parts),
    }
    for key, value in report.metadata.items():
        if key != "target_table_full_name" and value is not None:
            extra[key] = value
    if report.data_version is not None:
        extra["data_version"] = report.data_version
    return extra


def merge_materializations(
    specs: Sequence[AssetEventSpec],
    reports: Iterable[MaterializationReport],
    *,
    namespace: str | None = None,
    default_catalog: str | None = None,
    run_status: str | None = None,
    engine_version: str | None = None,
) -> list[AssetEventSpec]:
    """Stdout events first, enriched with Pipes metadata they lack; Pipes-only tables appended.

    The same (table URI, partition_key) is never emitted twice; stdout values always win. A
    Pipes-only event is marked ``reported_by: "pipes"``. Use the namespace the specs were built with.
    """
    ns = resolve_namespace(namespace, default_catalog)
    merged = list(specs)
    index: dict[tuple[str, str | None], int] = {}
    for i, spec in enumerate(merged):
        index.setdefault(spec.merge_key, i)
    for report in reports:
        ref = table_ref_for(report.target_table, report.asset_key_parts)
        if ref is None:
            log.warning("rocky pipes: cannot name the table of %r; ignored", report.asset_key)
            continue
        try:
            name, uri = ns.locate(ref)
        except ValueError as err:  # as asset_events: this table gets no event, the others still do
            log.warning("rocky pipes: no asset event for %s: %s", ref.dotted[:200], err)
            continue
        extra = _report_extra(report, report.target_table or ref.dotted)
        key = (uri, report.partition_key)
        if key in index:
            old = merged[index[key]]
            merged[index[key]] = AssetEventSpec(old.uri, old.name, {**extra, **old.extra})
            continue
        for k, v in (("run_status", run_status), ("engine_version", engine_version)):
            if v is not None:
                extra.setdefault(k, v)
        extra["reported_by"] = "pipes"
        index[key] = len(merged)
        merged.append(AssetEventSpec(uri, name, extra))
    return merged
