"""A common-sql hook on a Rocky project's DuckDB warehouse file (the engine's embedded adapter).

It lets ``SQLExecuteQueryOperator``, ``SQLColumnCheckOperator`` and ``SQLTableCheckOperator`` read
the tables a Rocky run just materialized. The file is opened read-only by default: DuckDB allows one
writer process per file, and a check task must never hold the lock the next ``rocky run`` needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

if TYPE_CHECKING:
    import duckdb

INSTALL_HINT = "DuckDB is not installed: pip install 'airflow-provider-rocky[duckdb]'"
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _as_bool(value: object) -> bool:
    # Connection extras from a URI arrive as strings ("false"); JSON extras as booleans.
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE
    return bool(value)


class RockyDuckDBHook(DbApiHook):
    """DB-API hook for the DuckDB file a Rocky project materializes into.

    The file comes from ``database_path=`` (overrides), else the connection's ``host``, else its
    extra ``path``. ``read_only`` (kwarg or extra, default True) opens it read-write when False;
    extra ``config`` is passed to ``duckdb.connect(config=...)`` (e.g. ``{"threads": 2}``).
    Parameters use DuckDB's ``?`` placeholder. SQL operators pass every connection extra as a hook
    kwarg, so unknown extras are accepted and ignored.

    :param rocky_duckdb_conn_id: connection id (conn type ``rocky_duckdb``).
    """

    conn_name_attr = "rocky_duckdb_conn_id"
    default_conn_name = "rocky_duckdb_default"
    conn_type = "rocky_duckdb"
    hook_name = "Rocky DuckDB warehouse"
    # DuckDB connections have no ``autocommit`` attribute; each statement commits on its own unless
    # the SQL opens a transaction, and ``commit()`` with none open is a no-op, so run()'s commit is safe.
    supports_autocommit = False
    _placeholder = "?"
    _test_connection_sql = "select 1"

    def __init__(
        self,
        *args: Any,
        database_path: str | os.PathLike[str] | None = None,
        read_only: bool | str | None = None,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        extra_path = kwargs.pop("path", None)
        super().__init__(*args, **kwargs)
        self.database_path = os.fspath(database_path) if database_path is not None else None
        self._extra_path = str(extra_path) if extra_path else None
        self._read_only = read_only
        self._config = dict(config) if config else None

    @property
    def read_only(self) -> bool:
        """True unless the kwarg or the connection extra ``read_only`` says otherwise."""
        if self._read_only is not None:
            return _as_bool(self._read_only)
        return _as_bool(self.connection_extra.get("read_only", True))

    def get_database_path(self) -> str:
        """The DuckDB file to open (``~`` expanded); raise ``ValueError`` if none is configured."""
        path = self.database_path
        if path is None:
            conn = self.connection
            path = conn.host or self._extra_path or conn.extra_dejson.get("path")
        if not path:
            raise ValueError(
                f"connection {self.get_conn_id()!r} names no DuckDB file: set its host (or extra "
                "'path') to the warehouse file, or pass database_path="
            )
        return os.path.expanduser(str(path))

    def get_conn(self) -> duckdb.DuckDBPyConnection:
        """Open the warehouse file (read-only unless configured otherwise)."""
        try:
            import duckdb
        except ImportError as err:
            raise ImportError(INSTALL_HINT) from err
        path = self.get_database_path()
        read_only = self.read_only
        if read_only and not os.path.exists(path):
            # DuckDB would create an empty file otherwise; a missing warehouse is a config error.
            raise FileNotFoundError(f"DuckDB warehouse file not found: {path}")
        config = self._config if self._config is not None else self.connection_extra.get("config")
        if config:
            return duckdb.connect(path, read_only=read_only, config=dict(config))
        return duckdb.connect(path, read_only=read_only)

    def get_uri(self) -> str:
        """``duckdb:///<absolute path>`` (the duckdb-engine SQLAlchemy form)."""
        return f"duckdb:///{os.path.abspath(self.get_database_path())}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Only the file path matters: hide the network and login fields, relabel host."""
        return {
            "hidden_fields": ["schema", "login", "password", "port"],
            "relabeling": {"host": "DuckDB file"},
            "placeholders": {
                "host": "/data/rocky/warehouse.duckdb",
                "extra": '{"read_only": true}',
            },
        }


__all__ = ["RockyDuckDBHook"]
