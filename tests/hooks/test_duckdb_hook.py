"""RockyDuckDBHook against a real DuckDB file, alone and under the common-sql operators."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLTableCheckOperator,
)
from airflow.sdk.exceptions import AirflowException

from airflow_provider_rocky.hooks.duckdb import RockyDuckDBHook

CONN_ID = "rocky_wh_test"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse file shaped like a Rocky DuckDB project after a run."""
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.fct_daily_orders (order_date DATE, orders INTEGER, revenue DECIMAL(10, 2))"
    )
    con.execute(
        "INSERT INTO marts.fct_daily_orders VALUES "
        "('2026-04-04', 3, 30.50), ('2026-04-05', 5, 50.00), ('2026-04-06', 0, 0.00)"
    )
    con.close()
    return path


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = CONN_ID, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "rocky_duckdb", **fields}))


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> str:
    _set_conn(monkeypatch, host=str(warehouse))
    return CONN_ID


def test_records_first_and_qmark_parameters(conn: str) -> None:
    hook = RockyDuckDBHook(conn)
    assert hook.placeholder == "?"
    rows = hook.get_records(
        "SELECT order_date, orders FROM marts.fct_daily_orders WHERE orders > ? ORDER BY 1", [1]
    )
    assert [(str(d), n) for d, n in rows] == [("2026-04-04", 3), ("2026-04-05", 5)]
    assert hook.get_first("SELECT count(*), sum(revenue) FROM marts.fct_daily_orders") == (
        3,
        Decimal("80.50"),
    )
    assert hook.run("SELECT 1; SELECT 2", split_statements=True, handler=lambda cur: cur.fetchall()) == [(2,)]
    assert hook.get_uri().startswith("duckdb:///") and hook.get_uri().endswith("wh.duckdb")


def test_read_only_by_default_and_read_write_on_request(
    monkeypatch: pytest.MonkeyPatch, conn: str, warehouse: Path
) -> None:
    with pytest.raises(duckdb.Error, match="read-only"):
        RockyDuckDBHook(conn).run("CREATE TABLE marts.x (a INTEGER)")
    _set_conn(monkeypatch, "rw_conn", host=str(warehouse), extra={"read_only": "false"})
    RockyDuckDBHook("rw_conn").run("CREATE TABLE marts.x AS SELECT 42 AS a")
    assert RockyDuckDBHook(conn).get_first("SELECT a FROM marts.x") == (42,)
    RockyDuckDBHook(conn, read_only=False).run("INSERT INTO marts.x VALUES (43)")
    assert RockyDuckDBHook(conn).get_first("SELECT count(*) FROM marts.x") == (2,)


def test_path_sources_in_order(monkeypatch: pytest.MonkeyPatch, warehouse: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    _set_conn(monkeypatch, "by_extra", extra={"path": str(warehouse)})
    assert RockyDuckDBHook("by_extra").get_database_path() == str(warehouse)
    assert RockyDuckDBHook("by_extra").get_first("SELECT count(*) FROM marts.fct_daily_orders") == (3,)
    # extras arrive as hook kwargs through the SQL operators: `path` must work that way too
    assert RockyDuckDBHook("by_extra", path=str(warehouse)).get_database_path() == str(warehouse)
    assert RockyDuckDBHook("by_extra", database_path=other).get_database_path() == str(other)
    _set_conn(monkeypatch, "empty")
    with pytest.raises(ValueError, match="names no DuckDB file"):
        RockyDuckDBHook("empty").get_conn()


def test_missing_file_is_an_error_and_is_not_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    _set_conn(monkeypatch, "missing", host=str(missing))
    with pytest.raises(FileNotFoundError, match=r"nope\.duckdb"):
        RockyDuckDBHook("missing").get_records("SELECT 1")
    assert not missing.exists()


def test_duckdb_config_extra_is_applied(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> None:
    _set_conn(monkeypatch, "cfg", host=str(warehouse), extra={"config": {"threads": 1}})
    assert RockyDuckDBHook("cfg").get_first("SELECT current_setting('threads')") == (1,)


def test_missing_duckdb_names_the_extra(monkeypatch: pytest.MonkeyPatch, conn: str) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # makes `import duckdb` raise ImportError
    with pytest.raises(ImportError, match=r"airflow-provider-rocky\[duckdb\]"):
        RockyDuckDBHook(conn).get_conn()


def test_ui_field_behaviour_relabels_host() -> None:
    ui = RockyDuckDBHook.get_ui_field_behaviour()
    assert ui["relabeling"] == {"host": "DuckDB file"}
    assert set(ui["hidden_fields"]) == {"schema", "login", "password", "port"}
    assert (RockyDuckDBHook.conn_type, RockyDuckDBHook.default_conn_name) == (
        "rocky_duckdb",
        "rocky_duckdb_default",
    )


def test_sql_execute_query_operator(conn: str) -> None:
    op = SQLExecuteQueryOperator(
        task_id="q",
        conn_id=conn,
        sql="SELECT orders FROM marts.fct_daily_orders WHERE orders >= ? ORDER BY orders",
        parameters=[3],
    )
    assert op.execute({}) == [(3,), (5,)]


def test_sql_column_check_operator_passes_and_fails(conn: str) -> None:
    ok = SQLColumnCheckOperator(
        task_id="cols",
        conn_id=conn,
        table="marts.fct_daily_orders",
        column_mapping={
            "orders": {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}, "max": {"less_than": 10}}
        },
    )
    ok.execute({})
    bad = SQLColumnCheckOperator(
        task_id="cols_bad",
        conn_id=conn,
        table="marts.fct_daily_orders",
        column_mapping={"orders": {"min": {"greater_than": 0}}},
    )
    with pytest.raises(AirflowException, match="orders"):
        bad.execute({})


def test_sql_table_check_operator_passes_and_fails(conn: str) -> None:
    ok = SQLTableCheckOperator(
        task_id="table",
        conn_id=conn,
        table="marts.fct_daily_orders",
        checks={
            "row_count": {"check_statement": "COUNT(*) = 3"},
            "revenue": {"check_statement": "SUM(revenue) > 80"},
        },
    )
    ok.execute({})
    bad = SQLTableCheckOperator(
        task_id="table_bad",
        conn_id=conn,
        table="marts.fct_daily_orders",
        checks={"row_count": {"check_statement": "COUNT(*) = 4"}},
    )
    with pytest.raises(AirflowException, match="row_count"):
        bad.execute({})


def test_operators_find_the_hook_through_the_connection_type(conn: str) -> None:
    op = SQLExecuteQueryOperator(task_id="q", conn_id=conn, sql="SELECT count(*) FROM marts.fct_daily_orders")
    assert isinstance(op.get_db_hook(), RockyDuckDBHook)
    assert op.execute({}) == [(3,)]  # type: ignore[no-untyped-call]
