"""Optional DuckDB warehouse: really create the tables a run reports, with deterministic rows.

Active only when the config names a DuckDB adapter (``type = "duckdb"``, ``path = ...``) and the
``duckdb`` module imports (``pip install airflow-provider-rocky[duckdb]``). Downstream SQL checks can
then query ``<catalog>.staging__orders.orders`` or ``marts.fct_daily_orders`` and see exactly the
``rows_copied`` the JSON reported.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.selection import Unit
from airflow_provider_rocky.testing._standin.tracing import StderrLog


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _target(unit: Unit) -> str:
    return f"{_ident(unit.schema)}.{_ident(unit.table)}"


def _table_select(unit: Unit) -> tuple[str, list[Any]]:
    if unit.name == "orders":
        return (
            "SELECT i + 1 AS order_id, (i % 5) + 1 AS customer_id, "
            "CAST(DATE '2026-01-01' + CAST(i % 7 AS INTEGER) AS DATE) AS order_date, "
            "CAST(10 + i * 2.5 AS DECIMAL(10, 2)) AS amount, 'placed' AS status FROM range(?) AS t(i)",
            [unit.rows],
        )
    return (
        "SELECT i + 1 AS id, ? || '_' || CAST(i + 1 AS VARCHAR) AS name, "
        "CAST((i + 1) * 1.25 AS DECIMAL(10, 2)) AS amount, "
        "TIMESTAMP '2026-01-01 00:00:00' + to_hours(CAST(i AS BIGINT)) AS updated_at FROM range(?) AS t(i)",
        [unit.name, unit.rows],
    )


def _model_select(unit: Unit) -> tuple[str, list[Any]]:
    if unit.name == "fct_daily_orders":
        return (
            "SELECT CAST(DATE '2026-01-01' + CAST(i AS INTEGER) AS DATE) AS order_date, "
            "CAST(10 + i % 7 AS BIGINT) AS orders, "
            "CAST((10 + i % 7) * 12.5 AS DECIMAL(18, 2)) AS revenue FROM range(?) AS t(i)",
            [unit.rows],
        )
    if unit.name == "dim_customers":
        return (
            "SELECT i + 1 AS customer_id, 'customer_' || CAST(i + 1 AS VARCHAR) AS name, "
            "CAST(DATE '2026-01-01' + CAST(i AS INTEGER) AS DATE) AS first_order_date, "
            "CAST(1 + i % 4 AS BIGINT) AS lifetime_orders FROM range(?) AS t(i)",
            [unit.rows],
        )
    return "SELECT i + 1 AS id, 'row_' || CAST(i + 1 AS VARCHAR) AS value FROM range(?) AS t(i)", [unit.rows]


class Warehouse:
    """A DuckDB connection plus the statements that materialize one unit."""

    def __init__(self, connection: Any, path: Path) -> None:
        self.connection = connection
        self.path = path
        self.schemas: set[str] = set()

    @classmethod
    def open(cls, duckdb_path: Path | None, log: StderrLog) -> Warehouse | None:
        """Connect when a DuckDB path is configured and ``duckdb`` is installed; else None."""
        if duckdb_path is None:
            return None
        try:
            duckdb = importlib.import_module("duckdb")
        except ImportError:
            log.warn(
                "duckdb module not installed; the stand-in will not write the warehouse",
                path=str(duckdb_path),
            )
            return None
        try:
            duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            connection = duckdb.connect(str(duckdb_path))
        except Exception as exc:  # duckdb.IOException and friends have no common stdlib base
            raise CommandError(f"failed to open DuckDB database '{duckdb_path}'", [str(exc)]) from exc
        return cls(connection, duckdb_path)

    def _schema(self, unit: Unit) -> bool:
        created = unit.schema not in self.schemas
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(unit.schema)}")
        self.schemas.add(unit.schema)
        return created

    def materialize(self, unit: Unit) -> int:
        """Write ``unit`` and return the number of rows written (what ``rows_copied`` reports)."""
        self._schema(unit)
        if unit.partition is not None:
            return self._partition(unit)
        select, params = _model_select(unit) if unit.is_model else _table_select(unit)
        self.connection.execute(f"CREATE OR REPLACE TABLE {_target(unit)} AS {select}", params)
        return unit.rows

    def load_rows(
        self, schema: str, table: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]
    ) -> None:
        """A seed: drop and recreate ``schema.table`` with ``columns`` (text) and insert ``rows``."""
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        target = f"{_ident(schema)}.{_ident(table)}"
        self.connection.execute(f"DROP TABLE IF EXISTS {target}")
        body = ", ".join(f"{_ident(name)} VARCHAR" for name in columns)
        self.connection.execute(f"CREATE TABLE {target} ({body})")
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.connection.executemany(f"INSERT INTO {target} VALUES ({marks})", rows)  # noqa: S608

    def _partition(self, unit: Unit) -> int:
        assert unit.partition is not None
        first = unit.partition.start.date()
        last = max(unit.partition.end.date(), first + timedelta(days=1))
        target = _target(unit)
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {target} (order_date DATE, orders BIGINT, revenue DECIMAL(18, 2))"
        )
        self.connection.execute(
            f"DELETE FROM {target} WHERE order_date >= ? AND order_date < ?",  # noqa: S608 - quoted identifier
            [first, last],
        )
        days = (last - first).days
        self.connection.execute(
            f"INSERT INTO {target} SELECT CAST(? AS DATE) + CAST(i AS INTEGER) AS order_date, "  # noqa: S608
            "CAST(10 + (i + dayofyear(CAST(? AS DATE))) % 7 AS BIGINT), "
            "CAST((10 + (i + dayofyear(CAST(? AS DATE))) % 7) * 12.5 AS DECIMAL(18, 2)) "
            "FROM range(?) AS t(i)",
            [first, first, first, days],
        )
        return days

    def close(self) -> None:
        """Checkpoint and release the database file lock."""
        self.connection.close()
