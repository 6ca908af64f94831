"""A common-sql hook on a Rocky project's DuckDB warehouse file (the engine's embedded adapter).

It lets ``SQLExecuteQueryOperator``, ``SQLColumnCheckOperator`` and ``SQLTableCheckOperator`` read
the tables a Rocky run just materialized.

**What it does to the file, exactly.** DuckDB locks a database file per process: a read-write open
takes an exclusive lock, a read-only open a shared one, and each refuses while the other is held
(``IO Error: Could not set lock on file ... Conflicting lock is held``). Read-only is therefore not
enough to stay out of a run's way. So the hook holds the file only while one call runs: every
common-sql call (``run``, ``get_records``, ``get_first``, ``get_df``, the SQL check operators)
connects, executes, fetches and closes; nothing is kept between calls. In that window a ``rocky
run`` that starts cannot open the file and fails; that failure is retryable (``engine``, docs/results.md:
Failures), so the run's ``retries`` absorb it. The other way round, a call made while a run holds
the file waits for it (``lock_wait_seconds``, default 300, polling with a growing pause up to 1 s)
instead of failing the check. ``get_conn()`` and ``get_cursor()`` hand you the connection itself:
it holds the file until you close it (and a SQLAlchemy engine, with the separately installed
``duckdb-engine``, pools its connections).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.providers.common.sql.hooks.sql import DbApiHook

if TYPE_CHECKING:
    import duckdb

INSTALL_HINT = "DuckDB is not installed: pip install 'airflow-provider-rocky[duckdb]'"
_FALSE = frozenset({"0", "false", "no", "off", ""})
#: Seconds a call waits for a writer (a ``rocky run``) to release the file, by default.
LOCK_WAIT_SECONDS = 300.0
#: DuckDB's words for a file another process holds.
_LOCKED = ("Could not set lock on file", "Conflicting lock is held")


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
    kwarg, so unknown extras are accepted and ignored. The file is held only while a call runs, and
    a call waits for a writer to let go (module docstring).

    :param rocky_duckdb_conn_id: connection id (conn type ``rocky_duckdb``).
    :param lock_wait_seconds: how long a call waits for another process to release the file (kwarg
        or extra; default 300; 0 fails at once).
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
        lock_wait_seconds: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        extra_path = kwargs.pop("path", None)
        super().__init__(*args, **kwargs)
        self.database_path = os.fspath(database_path) if database_path is not None else None
        self._extra_path = str(extra_path) if extra_path else None
        self._read_only = read_only
        self._config = dict(config) if config else None
        self._lock_wait = lock_wait_seconds

    @property
    def read_only(self) -> bool:
        """True unless the kwarg or the connection extra ``read_only`` says otherwise."""
        if self._read_only is not None:
            return _as_bool(self._read_only)
        return _as_bool(self._extra("read_only", True))

    @property
    def lock_wait_seconds(self) -> float:
        """Seconds a call waits for another process to release the file (kwarg, extra, else 300)."""
        raw = self._lock_wait if self._lock_wait is not None else self._extra("lock_wait_seconds", None)
        return LOCK_WAIT_SECONDS if raw is None or raw == "" else max(float(raw), 0.0)

    def _extra(self, key: str, default: Any) -> Any:
        """The connection's extra ``key``; with ``database_path=`` and no connection defined, ``default``."""
        try:
            return self.connection_extra.get(key, default)
        except AirflowNotFoundException:
            if self.database_path is None:
                raise
            return default

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
        """Open the warehouse file (read-only unless configured otherwise), waiting for a writer.

        The caller owns the connection: it holds the file until closed (the common-sql calls close
        it at once).
        """
        try:
            import duckdb
        except ImportError as err:
            raise ImportError(INSTALL_HINT) from err
        path = self.get_database_path()
        read_only = self.read_only
        if read_only and not os.path.exists(path):
            # DuckDB would create an empty file otherwise; a missing warehouse is a config error.
            raise FileNotFoundError(f"DuckDB warehouse file not found: {path}")
        config = self._config if self._config is not None else self._extra("config", None)
        kwargs: dict[str, Any] = {"read_only": read_only}
        if config:
            kwargs["config"] = dict(config)
        connection: duckdb.DuckDBPyConnection = self._connect_when_free(duckdb, path, kwargs)
        return connection

    def _connect_when_free(self, duckdb: Any, path: str, kwargs: dict[str, Any]) -> Any:
        """``duckdb.connect``, retried while another process holds the file, up to the wait."""
        until = time.monotonic() + self.lock_wait_seconds
        pause = 0.05
        while True:
            try:
                return duckdb.connect(path, **kwargs)
            except duckdb.IOException as err:
                if not any(words in str(err) for words in _LOCKED) or time.monotonic() >= until:
                    raise
                self.log.info("DuckDB file %s is held by another process (a rocky run?); waiting", path)
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

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
