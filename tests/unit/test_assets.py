"""The Asset URI rule, event specs from real engine output, aliases and outlet matching."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.sdk import Asset, AssetAlias
from rocky_sdk.types import RunResult

from airflow_provider_rocky.assets import (
    DEFAULT_NAMESPACE,
    AssetEventSpec,
    _resolve,
    asset_events,
    default_alias_name,
    match_outlets,
    merged_extra,
    openlineage_dataset_id,
    parse_table,
    resolve_namespace,
    rocky_asset,
    rocky_asset_uri,
    table_ref_for,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "recorded"
RUN_FILES = sorted(CORPUS.glob("**/*run*.json")) if CORPUS.is_dir() else []
NAMESPACES = [None, "duckdb:///data/rocky/wh.duckdb", "snowflake://myorg-acct", "postgres://db.internal"]


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


# -- the URI rule -------------------------------------------------------------------------------

RULE = [
    # namespace, table, canonical URI (= Asset name), URI as Airflow stores it
    (None, "marts.fct_orders", "rocky://default/default/marts/fct_orders", None),
    (None, "wh.marts.fct_orders", "rocky://default/wh/marts/fct_orders", None),
    (
        "duckdb:///data/rocky/wh.duckdb",
        ".marts.fct_daily_orders",
        "duckdb:///data/rocky/wh.duckdb/wh/marts/fct_daily_orders",
        "duckdb:/data/rocky/wh.duckdb/wh/marts/fct_daily_orders",
    ),
    (
        "duckdb:///data/rocky/wh.duckdb",
        "poc.staging__orders.orders",
        "duckdb:///data/rocky/wh.duckdb/poc/staging__orders/orders",
        "duckdb:/data/rocky/wh.duckdb/poc/staging__orders/orders",
    ),
    # The stored form pasted back as a namespace means the same file.
    (
        "duckdb:/data/rocky/wh.duckdb",
        "marts.t",
        "duckdb:///data/rocky/wh.duckdb/wh/marts/t",
        "duckdb:/data/rocky/wh.duckdb/wh/marts/t",
    ),
    ("snowflake://myorg-acct", "ANALYTICS.MARTS.FCT", "snowflake://myorg-acct/ANALYTICS/MARTS/FCT", None),
    ("Snowflake://myorg-acct/", "db.s.t", "snowflake://myorg-acct/db/s/t", None),
    (
        "databricks://adb-1.azuredatabricks.net",
        "main.marts.t",
        "databricks://adb-1.azuredatabricks.net/main/marts/t",
        None,
    ),
    ("bigquery", "proj.ds.t", "bigquery://proj/ds/t", None),
    ("bigquery://proj", "ds.t", "bigquery://proj/ds/t", None),
    ("bigquery://proj", "other.ds.t", "bigquery://other/ds/t", None),
    ("postgres://db.internal", "app.public.t", "postgres://db.internal:5432/app/public/t", None),
    ("postgresql://db.internal:6543", "app.public.t", "postgres://db.internal:6543/app/public/t", None),
    ("redshift://cluster.example", "dev.public.t", "redshift://cluster.example:5439/dev/public/t", None),
    ("trino://trino.example", "hive.s.t", "trino://trino.example:8080/hive/s/t", None),
]


@pytest.mark.parametrize(("namespace", "table", "name", "stored"), RULE)
def test_uri_rule_and_what_airflow_keeps(
    namespace: str | None, table: str, name: str, stored: str | None
) -> None:
    stored = stored or name
    assert rocky_asset_uri(table, namespace) == name
    asset = rocky_asset(table, namespace)
    assert (asset.name, asset.uri) == (name, stored)
    # Airflow's own sanitising of the canonical URI gives exactly the stored form, and the asset a
    # DAG author builds from the bare URI is the same asset (name, uri, group, extra).
    assert Asset(name).uri == stored
    assert Asset(name) == asset
    assert Asset(name=asset.name, uri=asset.uri) == asset  # stored form is a fixed point


def test_duckdb_empty_catalog_is_the_database_duckdb_itself_reports(tmp_path: Path) -> None:
    path = tmp_path / "my_wh.v2.duckdb"
    con = duckdb.connect(str(path))
    (current,) = con.execute("select current_database()").fetchone() or ("",)
    con.close()
    assert resolve_namespace(f"duckdb://{path}").default_catalog == current == "my_wh"
    assert rocky_asset_uri(".marts.t", f"duckdb://{path}") == f"duckdb://{path}/my_wh/marts/t"


def test_default_namespace_is_documented_constant() -> None:
    assert resolve_namespace(None).raw == resolve_namespace("").raw == DEFAULT_NAMESPACE


@pytest.mark.parametrize(
    "namespace",
    [
        "snowflake",  # no authority
        "snowflake://acct/db",  # a path where the database belongs to the table
        "postgres://user:secret@host:5432",  # credentials
        "rocky://default?x=1",
        "rocky://default#frag",
        "not a uri",
        "databricks://",
    ],
)
def test_bad_namespaces_are_refused(namespace: str) -> None:
    with pytest.raises(ValueError):
        resolve_namespace(namespace)


@pytest.mark.parametrize("namespace", ["snowflake://acct", "databricks://h", "postgres://h", "bigquery"])
def test_strict_warehouses_need_a_catalog(namespace: str) -> None:
    with pytest.raises(ValueError, match="no catalog"):
        rocky_asset("marts.t", namespace)
    assert rocky_asset("marts.t", namespace, default_catalog="DB").uri.endswith("/DB/marts/t")


@pytest.mark.parametrize("table", ["orders", "a.b.c.d", "a..b", "", "cat.schema."])
def test_parse_table_refuses_ambiguous_names(table: str) -> None:
    with pytest.raises(ValueError):
        parse_table(table)


def test_odd_identifiers_are_percent_encoded_and_decoded_for_openlineage() -> None:
    name = rocky_asset_uri("db.my schema.orders#2?x", "snowflake://acct")
    assert name == "snowflake://acct/db/my%20schema/orders%232%3Fx"
    assert Asset(name).uri == name  # no fragment/query was cut off
    assert openlineage_dataset_id(name) == ("snowflake://acct", "db.my schema.orders#2?x")


def test_table_ref_falls_back_to_a_model_asset_key_but_not_a_replication_key() -> None:
    assert table_ref_for(None, ["", "marts", "t"]) == ("", "marts", "t")
    assert table_ref_for(None, ["marts", "t"]) == ("", "marts", "t")
    assert table_ref_for(None, ["fivetran", "acme", "us_west", "shopify", "orders"]) is None
    assert table_ref_for("c.s.t", ["duckdb", "orders", "orders"]) == ("c", "s", "t")


# -- events from engine output ------------------------------------------------------------------


@pytest.mark.skipif(not RUN_FILES, reason="shared corpus not present")
@pytest.mark.parametrize("path", RUN_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_rocky_asset_equals_emitted_asset_for_every_recorded_materialization(
    path: Path, namespace: str | None
) -> None:
    result = RunResult.model_validate(json.loads(path.read_text()))
    assert result.materializations, "a run recording without materializations proves nothing"
    ns = namespace
    # DuckDB models have an empty catalog; a strict warehouse needs one supplied.
    default_catalog = None if ns is None or ns.startswith("duckdb") else "wh"
    specs = asset_events(result, namespace=ns, default_catalog=default_catalog)
    assert len(specs) == len(result.materializations)
    for mat, spec in zip(result.materializations, specs, strict=True):
        table = mat.metadata.target_table_full_name
        assert table is not None
        assert rocky_asset(table, ns, default_catalog=default_catalog) == spec.asset()
        assert spec.extra["target_table"] == table
        assert spec.extra["asset_key"] == mat.asset_key
        assert json.loads(json.dumps(spec.extra)) == spec.extra  # JSON-native


@pytest.mark.skipif(
    not (CORPUS / "partition" / "run_backfill.json").is_file(), reason="shared corpus not present"
)
def test_backfill_gives_one_event_per_partition() -> None:
    result = RunResult.model_validate(json.loads((CORPUS / "partition" / "run_backfill.json").read_text()))
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


def test_default_alias_name_is_ascii_stable_and_distinct() -> None:
    assert default_alias_name("daily", "rocky_run") == "rocky__daily__rocky_run"
    names = {
        default_alias_name("café", "t"),
        default_alias_name("cafe\u0301x", "t"),
        default_alias_name("日本", "t"),
    }
    assert all(n.isascii() for n in names) and len(names) == 3
    assert default_alias_name("café", "t") == default_alias_name("café", "t")
    assert default_alias_name("café", "t").startswith("rocky__cafe__t__")
    assert AssetAlias(default_alias_name("日本", "t")).name.isascii()


def test_declared_outlets_are_matched_by_uri_and_merge_partition_extras() -> None:
    ns = "duckdb:///data/rocky/wh.duckdb"
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
    specs = asset_events(_run(mats), namespace=ns)
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
