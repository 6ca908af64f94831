"""The Asset URI rule (one rule names every table), checked against real engine output; alias names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.sdk import Asset, AssetAlias
from run_results import read_run

from airflow_provider_rocky._verdict.events import asset_events
from airflow_provider_rocky.assets import (
    DEFAULT_NAMESPACE,
    default_alias_name,
    openlineage_dataset_id,
    parse_table,
    resolve_namespace,
    rocky_asset,
    rocky_asset_uri,
    table_ref_for,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "recorded"
RUN_FILES = sorted(CORPUS.glob("**/*run*.json")) if CORPUS.is_dir() else []
NAMESPACES = [None, "duckdb:///data/rocky/wh.duckdb", "snowflake://myorg-acct", "postgres://db.internal"]


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
    result = read_run(path.read_text())
    printed = json.loads(path.read_text())["materializations"]  # the engine's words, not our reading
    assert printed, "a run recording without materializations proves nothing"
    ns = namespace
    # DuckDB models have an empty catalog; a strict warehouse needs one supplied.
    default_catalog = None if ns is None or ns.startswith("duckdb") else "wh"
    specs = asset_events(result, namespace=ns, default_catalog=default_catalog)
    assert len(specs) == len(printed)
    for mat, spec in zip(printed, specs, strict=True):
        table = mat["metadata"]["target_table_full_name"]
        assert rocky_asset(table, ns, default_catalog=default_catalog) == spec.asset()
        assert spec.extra["target_table"] == table
        assert spec.extra["asset_key"] == mat["asset_key"]
        assert json.loads(json.dumps(spec.extra)) == spec.extra  # JSON-native


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


def test_a_namespace_with_credentials_is_refused_without_quoting_them() -> None:
    """The refusal reaches the task log and its failure; 0.1.0 quoted the password in it."""
    shown = r"'postgres://\*\*\*@host:5432' must not contain credentials"
    with pytest.raises(ValueError, match=shown) as err:
        resolve_namespace("postgres://user:s3cret@host:5432")
    assert "s3cret" not in str(err.value) and "user" not in str(err.value)


def test_a_mapped_task_declares_its_alias_at_parse_time_once_and_in_its_group() -> None:
    """A mapped task's ``__init__`` runs on the worker: ``partial()`` declares the alias instead.

    Otherwise the alias does not exist until the first mapped tasks finish, and those create it at once
    (``make e2e-distributed`` saw Airflow fail one with a UniqueViolation on the alias name).
    """
    from airflow.sdk import DAG, TaskGroup

    from airflow_provider_rocky.operators.rocky import RockyOperator

    with DAG("d_alias", schedule=None):
        single = RockyOperator(task_id="t", outlets=[AssetAlias(default_alias_name("d_alias", "t"))])
        mapped = RockyOperator.partial(task_id="m").expand(filter=["tenant=a", "tenant=b"])
        declared = RockyOperator.partial(
            task_id="n", outlets=[AssetAlias(default_alias_name("d_alias", "n"))]
        ).expand(filter=["tenant=a"])
        named = RockyOperator.partial(task_id="o", asset_alias="mine").expand(filter=["tenant=a"])
        silent = RockyOperator.partial(task_id="q", emit_assets=False).expand(filter=["tenant=a"])
        with TaskGroup("g"):
            grouped = RockyOperator.partial(task_id="m").expand(filter=["tenant=a"])

    def aliases(task: Any) -> list[str]:
        return [o.name for o in task.outlets if isinstance(o, AssetAlias)]

    assert aliases(single) == ["rocky__d_alias__t"]  # declared by the DAG author: used, not doubled
    assert aliases(mapped) == ["rocky__d_alias__m"]
    assert aliases(declared) == ["rocky__d_alias__n"]
    assert aliases(named) == ["mine"]
    assert aliases(silent) == []
    assert aliases(grouped) == ["rocky__d_alias__g.m"]
