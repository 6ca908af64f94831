"""Downstream of Rocky: runs when the quickstart rebuilt `marts.fct_daily_orders`, then checks it.

The schedule names the same Asset the RockyOperator emits, built with `rocky_asset` from the table name
and the warehouse namespace (here a DuckDB file), so nobody has to guess a URI. The checks run through
common-sql against the DuckDB file Rocky wrote (`RockyDuckDBHook`, read-only).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator, SQLTableCheckOperator
from airflow.sdk import DAG

from airflow_provider_rocky.assets import rocky_asset

#: The DuckDB file of the Rocky project (`make demo` sets it; deployments set their own).
WAREHOUSE = os.environ.get("ROCKY_EXAMPLE_WAREHOUSE", "/opt/rocky/project/warehouse.duckdb")

fct_daily_orders = rocky_asset("marts.fct_daily_orders", namespace=f"duckdb://{WAREHOUSE}")

with DAG(
    dag_id="rocky_downstream",
    schedule=[fct_daily_orders],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rocky", "example"],
    doc_md=__doc__,
):
    SQLTableCheckOperator(
        task_id="fct_daily_orders_has_rows",
        conn_id="rocky_duckdb_default",
        table="marts.fct_daily_orders",
        checks={"row_count_check": {"check_statement": "COUNT(*) > 0"}},
    )
    SQLColumnCheckOperator(
        task_id="fct_daily_orders_columns",
        conn_id="rocky_duckdb_default",
        table="marts.fct_daily_orders",
        column_mapping={
            "orders": {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}},
            "revenue": {"null_check": {"equal_to": 0}},
        },
    )
