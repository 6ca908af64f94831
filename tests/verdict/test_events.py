"""Asset event specs from a run result: one per table and partition, extras, outlet matching."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias
from rocky_sdk.types import RunResult
from run_results import read_run

from airflow_provider_rocky._verdict.events import (
    AssetEventSpec,
    asset_events,
    emit,
    match_outlets,
    merged_extra,
)
from airflow_provider_rocky.assets import _resolve, resolve_namespace, rocky_asset

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "recorded"


def _materialization(table: str | None, asset_key: list[str], **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"strategy": extra.pop("strategy", "full_refresh")}
    if table is not None:
        meta["target_table_full_name"] = table
    meta.update(extra.pop("metadata", {}))
    return {"asset_key": asset_key, "rows_copied": None, "duration_ms": 12, "metadata": meta, **extra}


def _run(materializations: list[dict[str, Any]], **top: Any) -> RunResult:
    doc: dict[str, Any] = {
        "version": "1.71.0",
        "command": "run",
        "status": "Success",
        "filter": "",
        "duration_ms": 40,
        "tables_copied": len(materializations),
        "tables_failed": 0,
        "materializations": materializations,
        "check_results": [],
        "permissions": {"grants_added": 0, "grants_revoked": 0, "catalogs_created": 0, "schemas_created": 0},
        "drift": {"tables_checked": 0, "tables_drifted": 0, "actions_taken": []},
        "interrupted": False,
        **top,
    }
    return RunResult.model_validate(doc)


@pytest.mark.skipif(
    not (CORPUS / "partition" / "run_backfill.json").is_file(), reason="shared corpus not present"
)
def test_backfill_gives_one_event_per_partition() -> None:
    result = read_run((CORPUS / "partition" / "run_backfill.json").read_text())
    specs = asset_events(result, namespace="duckdb:///data/rocky/wh.duckdb")
    model = [s for s in specs if s.extra["target_table"] == ".marts.fct_daily_orders"]
    assert [s.partition_key for s in model] == [
        "2026-04-04",
        "2026-04-05",
        "2026-04-06",
        "2026-04-07",
        "2026-04-08",
    ]
    assert {s.uri for s in model} == {"duckdb:/data/rocky/wh.duckdb/wh/marts/fct_daily_orders"}
    first = model[0].extra
    assert first["partition_start"] == "2026-04-04T00:00:00Z"
    assert first["partition_end"] == "2026-04-05T00:00:00Z"
    assert first["sql_hash"] == "a8975e5a44e05fc9"
    assert first["strategy"] == "time_interval"
    # Distinct extras: Airflow de-duplicates only identical (asset, extra) pairs.
    assert len({json.dumps(s.extra, sort_keys=True) for s in model}) == 5


def test_extra_carries_metadata_and_leaves_out_absent_values() -> None:
    result = _run(
        [
            _materialization(
                "cat.s.t",
                ["cat", "s", "t"],
                strategy="incremental",
                rows_copied=42,
                cost_usd=0.37,
                bytes_scanned=1024,
                started_at="2026-04-07T10:00:00Z",
                metadata={"watermark": "2026-04-07T09:59:58Z", "sql_hash": "0123456789abcdef"},
            ),
            _materialization("cat.s.u", ["cat", "s", "u"]),
        ]
    )
    full, bare = asset_events(result)
    assert full.extra == {
        "target_table": "cat.s.t",
        "asset_key": ["cat", "s", "t"],
        "strategy": "incremental",
        "duration_ms": 12,
        "rows_copied": 42,
        "sql_hash": "0123456789abcdef",
        "watermark": "2026-04-07T09:59:58Z",
        "started_at": "2026-04-07T10:00:00Z",
        "cost_usd": 0.37,
        "bytes_scanned": 1024,
        "run_status": "Success",
        "engine_version": "1.71.0",
    }
    assert not {"rows_copied", "cost_usd", "bytes_scanned", "watermark", "partition_key"} & set(bare.extra)
    overridden = asset_events(result, engine_version="1.71.1", run_status="partial")[0]
    assert (overridden.extra["engine_version"], overridden.extra["run_status"]) == ("1.71.1", "partial")


def test_partial_run_emits_only_the_tables_that_landed() -> None:
    result = _run(
        [_materialization("cat.s.landed", ["duckdb", "src", "landed"])],
        status="PartialFailure",
        tables_failed=1,
        errors=[{"asset_key": [], "error": "boom", "failure_kind": "transient"}],
    )
    specs = asset_events(result)
    assert [s.extra["target_table"] for s in specs] == ["cat.s.landed"]
    assert specs[0].extra["run_status"] == "PartialFailure"


def test_unnamed_materialization_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    result = _run(
        [
            _materialization(None, ["fivetran", "acme", "us", "shop", "orders"]),
            _materialization("c.s.t", ["c", "s", "t"]),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="airflow_provider_rocky.assets"):
        specs = asset_events(result)
    assert [s.extra["target_table"] for s in specs] == ["c.s.t"]
    assert "fivetran" in caplog.text


def test_ten_thousand_tables_resolve_the_namespace_once() -> None:
    mats = [_materialization(f"cat.s{i % 7}.t{i}", ["cat", f"s{i % 7}", f"t{i}"]) for i in range(10_000)]
    result = _run(mats)
    namespace = "duckdb:///data/rocky/big.duckdb"
    resolve_namespace(namespace)  # warm
    before = _resolve.cache_info()
    specs = asset_events(result, namespace=namespace)
    after = _resolve.cache_info()
    assert len(specs) == len({s.uri for s in specs}) == 10_000
    assert after.misses == before.misses and after.hits == before.hits + 1
    assert specs[-1].name == "duckdb:///data/rocky/big.duckdb/cat/s3/t9999"


# -- alias and declared outlets -----------------------------------------------------------------


def test_declared_outlets_are_matched_by_uri_and_merge_partition_extras() -> None:
    ns = "duckdb:///data/rocky/wh.duckdb"
    specs = _partitioned_and_plain(ns)
    declared = rocky_asset("marts.fct", ns)
    outlets = [declared, Asset("s3://bucket/unrelated"), AssetAlias("rocky__d__t")]
    matched = match_outlets(outlets, specs)
    assert [(a, [s.partition_key for s in group]) for a, group in matched] == [
        (declared, ["2026-04-04", "2026-04-05"])
    ]
    extra = merged_extra(matched[0][1])
    assert extra["event_count"] == 2
    assert extra["partition_keys"] == ["2026-04-04", "2026-04-05"]
    assert extra["partition_key"] == "2026-04-05"
    assert merged_extra([]) == {}


def test_spec_is_frozen_hashable_and_builds_the_asset() -> None:
    spec = AssetEventSpec(uri="rocky://default/c/s/t", name="rocky://default/c/s/t", extra={"a": 1})
    with pytest.raises(AttributeError):
        spec.uri = "x"  # type: ignore[misc]
    assert hash(spec) == hash(AssetEventSpec(spec.uri, spec.name, {"b": 2}))
    assert spec.asset() == Asset("rocky://default/c/s/t")
    assert spec.asset().extra == {}  # event extra never leaks into the asset identity


# -- emit: one event per table, declared or through the alias ----------------------------------


class _Accessor:
    """Airflow's ``OutletEventAccessor`` as far as ``emit`` uses it (records what it is given)."""

    def __init__(self, *, partitions: bool) -> None:
        self.extra: dict[str, Any] = {}
        self.added: list[tuple[Asset, dict[str, Any]]] = []
        self.partition_keys: list[str] = []
        if partitions:  # Airflow 3.3+ has add_partitions; 3.1/3.2 do not
            self.add_partitions = lambda keys: self.partition_keys.extend(
                [keys] if isinstance(keys, str) else keys
            )

    def add(self, asset: Asset, extra: dict[str, Any] | None = None) -> None:
        self.added.append((asset, dict(extra or {})))


class _Outlets:
    """The task context's ``outlet_events``: one accessor per asset or alias (by kind, name and uri)."""

    def __init__(self, *, partitions: bool) -> None:
        self.partitions = partitions
        self.accessors: dict[tuple[str, str, str | None], _Accessor] = {}

    def __getitem__(self, key: Asset | AssetAlias) -> _Accessor:
        ident = (type(key).__name__, key.name, getattr(key, "uri", None))  # AssetAlias is unhashable on 3.1
        return self.accessors.setdefault(ident, _Accessor(partitions=self.partitions))


def _partitioned_and_plain(ns: str) -> list[AssetEventSpec]:
    mats = [
        _materialization(
            ".marts.fct",
            ["", "marts", "fct"],
            strategy="time_interval",
            partition={"key": k, "start": f"{k}T00:00:00Z", "end": f"{k}T23:00:00Z"},
        )
        for k in ("2026-04-04", "2026-04-05")
    ]
    mats.append(_materialization("wh.raw.orders", ["duckdb", "orders", "orders"]))
    return asset_events(_run(mats), namespace=ns)


@pytest.mark.parametrize("partitions", [True, False], ids=["airflow-3.3", "airflow-3.1"])
def test_a_declared_table_is_not_also_added_through_the_alias(partitions: bool) -> None:
    """Before the fix, a declared table was added through the alias too: Airflow recorded it twice."""
    ns = "duckdb:///data/rocky/wh.duckdb"
    specs = _partitioned_and_plain(ns)
    declared, alias = rocky_asset("marts.fct", ns), AssetAlias("rocky__d__t")
    outlets = _Outlets(partitions=partitions)
    added = emit(outlets, alias, [declared, alias], specs)
    through_alias = [asset.uri for asset, _ in outlets[alias].added]
    assert through_alias == [rocky_asset("wh.raw.orders", ns).uri], "only the undeclared table"
    assert added == 1
    event = outlets[declared]
    assert event.extra["partition_keys"] == ["2026-04-04", "2026-04-05"]
    assert event.extra["strategy"] == "time_interval"
    if partitions:
        assert event.partition_keys == ["2026-04-04", "2026-04-05"], "native keys on Airflow 3.3+"
    else:
        assert not hasattr(event, "add_partitions")


def test_an_outlet_declared_under_another_name_still_takes_the_event() -> None:
    ns = "duckdb:///data/rocky/wh.duckdb"
    specs = _partitioned_and_plain(ns)
    same_table = Asset(name="fct daily", uri=rocky_asset("marts.fct", ns).uri)
    alias = AssetAlias("rocky__d__t")
    outlets = _Outlets(partitions=False)
    emit(outlets, alias, [same_table, same_table, alias], specs)
    assert [a.uri for a, _ in outlets[alias].added] == [rocky_asset("wh.raw.orders", ns).uri]
    assert outlets[same_table].extra["event_count"] == 2
    assert len(match_outlets([same_table, same_table], specs)) == 1, "a repeated outlet is paired once"


def test_without_declared_outlets_every_table_goes_through_the_alias() -> None:
    ns = "duckdb:///data/rocky/wh.duckdb"
    specs = _partitioned_and_plain(ns)
    alias = AssetAlias("rocky__d__t")
    outlets = _Outlets(partitions=True)
    assert emit(outlets, alias, [alias], specs) == 3
    assert [extra.get("partition_key") for _, extra in outlets[alias].added] == [
        "2026-04-04",
        "2026-04-05",
        None,
    ]
