"""OpenLineage datasets named like the Assets, and the lazy-import promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from run_results import read_run, run_result

from airflow_provider_rocky._verdict.events import AssetEventSpec, asset_events
from airflow_provider_rocky._verdict.lineage import operator_lineage, replication_source

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "recorded"
REPO = Path(__file__).resolve().parents[2]


def _mat(table: str, key: list[str], partition: str | None = None) -> dict[str, Any]:
    mat: dict[str, Any] = {
        "asset_key": key,
        "duration_ms": 1,
        "metadata": {
            "strategy": "time_interval" if partition else "full_refresh",
            "target_table_full_name": table,
        },
    }
    if partition:
        mat["partition"] = {
            "key": partition,
            "start": f"{partition}T00:00:00Z",
            "end": f"{partition}T12:00:00Z",
        }
    return mat


def _slash_form(namespace: str, name: str) -> str:
    return namespace + "/" + name.replace(".", "/")


@pytest.mark.skipif(
    not (CORPUS / "partition" / "run_backfill.json").is_file(), reason="shared corpus not present"
)
def test_outputs_match_the_asset_uris_for_the_recorded_backfill() -> None:
    from airflow.providers.common.compat.openlineage.facet import Dataset

    result = read_run((CORPUS / "partition" / "run_backfill.json").read_text())
    specs = asset_events(result, namespace="duckdb:///data/rocky/wh.duckdb")
    lineage = operator_lineage(specs)
    assert lineage is not None
    # five partitions of one table are one output dataset
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("duckdb:///data/rocky/wh.duckdb", "poc.staging__orders.orders"),
        ("duckdb:///data/rocky/wh.duckdb", "wh.marts.fct_daily_orders"),
    ]
    assert all(isinstance(d, Dataset) for d in lineage.outputs)
    assert {_slash_form(d.namespace, d.name) for d in lineage.outputs} == {s.name for s in specs}
    # the replicated source named by asset_key ["duckdb", "orders", "orders"]
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("rocky-source://duckdb", "orders.orders")]


@pytest.mark.parametrize(
    ("namespace", "table", "expected"),
    [
        ("snowflake://myorg-acct", "ANALYTICS.MARTS.FCT", ("snowflake://myorg-acct", "ANALYTICS.MARTS.FCT")),
        ("postgres://db.internal", "app.public.t", ("postgres://db.internal:5432", "app.public.t")),
        ("databricks://adb-1.net", "main.marts.t", ("databricks://adb-1.net", "main.marts.t")),
        # Airflow's bigquery asset<->OpenLineage converter: namespace "bigquery", name project.dataset.table
        ("bigquery", "proj.ds.t", ("bigquery", "proj.ds.t")),
        (None, "c.s.t", ("rocky://default", "c.s.t")),
    ],
)
def test_output_naming_per_warehouse(namespace: str | None, table: str, expected: tuple[str, str]) -> None:
    specs = asset_events(run_result([_mat(table, table.split("."))]), namespace=namespace)
    lineage = operator_lineage(specs)
    assert lineage is not None and [(d.namespace, d.name) for d in lineage.outputs] == [expected]
    assert lineage.inputs == []  # a model's key is its own target: no input can be derived


def test_inputs_from_replication_keys_mapping_and_explicit() -> None:
    specs = asset_events(
        run_result(
            [
                _mat("wh.raw__shop.orders", ["fivetran", "acme", "us_west", "orders"]),
                _mat(
                    "wh.raw__shop.orders", ["fivetran", "acme", "us_west", "orders"], partition="2026-04-04"
                ),
                _mat(".marts.f", ["", "marts", "f"]),
            ]
        ),
        namespace="duckdb:///wh.duckdb",
    )
    lineage = operator_lineage(
        specs,
        inputs=[("postgres://src:5432", "shop.public.orders")],
        source_namespaces={"fivetran": "fivetran://acme-account"},
    )
    assert lineage is not None
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("postgres://src:5432", "shop.public.orders"),
        ("fivetran://acme-account", "acme.us_west.orders"),
    ]
    plain = operator_lineage(specs, derive_inputs=False)
    assert plain is not None and plain.inputs == [] and len(plain.outputs) == 2


def test_replication_source_rule() -> None:
    assert replication_source(["duckdb", "orders", "orders"], "playground.staging__orders.orders") == (
        "duckdb",
        "orders.orders",
    )
    assert replication_source(["DB", "MARTS", "FCT"], "DB.MARTS.FCT") is None
    assert replication_source(["", "marts", "f"], ".marts.f") is None
    assert replication_source(["duckdb"], None) is None


def test_nothing_materialized_gives_none() -> None:
    assert operator_lineage([]) is None
    spec = AssetEventSpec(uri="rocky://default/c/s/t", name="rocky://default/c/s/t", extra={})
    lineage = operator_lineage([spec])
    assert lineage is not None and [(d.namespace, d.name) for d in lineage.outputs] == [
        ("rocky://default", "c.s.t")
    ]


def _run_python(code: str, tmp_path: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


_OL_MODULES = (
    "sorted(m for m in sys.modules if m.startswith(('openlineage', 'airflow.providers.openlineage')))"
)


def test_importing_lineage_does_not_import_openlineage(tmp_path: Path) -> None:
    # `import airflow` itself reads every provider's get_provider_info (config discovery): that is the
    # baseline; importing the lineage module must add no OpenLineage module on top of it.
    code = (
        "import sys, airflow\n"
        f"before = {_OL_MODULES}\n"
        "import airflow_provider_rocky._verdict.lineage\n"
        f"after = {_OL_MODULES}\n"
        "assert 'openlineage' not in sys.modules and not any('extractors' in m for m in after), after\n"
        "print(sorted(set(after) - set(before)))\n"
    )
    assert _run_python(code, tmp_path) == "[]"


def test_lineage_module_works_without_the_openlineage_provider(tmp_path: Path) -> None:
    code = (
        "import sys, airflow\n"
        # as if neither the OpenLineage provider's extractors nor the client library were installed
        "for name in ('openlineage', 'airflow.providers.openlineage.extractors',\n"
        "             'airflow.providers.common.compat.openlineage.facet'):\n"
        "    sys.modules[name] = None\n"
        "from airflow_provider_rocky._verdict.events import AssetEventSpec\n"
        "from airflow_provider_rocky._verdict.lineage import operator_lineage\n"
        "assert operator_lineage([]) is None\n"
        "try:\n"
        "    operator_lineage([AssetEventSpec('rocky://default/c/s/t', 'rocky://default/c/s/t')])\n"
        "except ImportError:\n"
        "    print('import-error-only-when-called')\n"
    )
    assert _run_python(code, tmp_path) == "import-error-only-when-called"
