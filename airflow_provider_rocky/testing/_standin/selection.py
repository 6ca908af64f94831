"""What a run touches: replicated tables (from ``--filter``), models (from ``--models``) and partitions.

Deterministic by design: the same argv always selects the same tables with the same row counts, so
tests can assert on asset keys, target names and ``rows_copied``.

* Sources ``orders`` (orders, order_items), ``customers`` (customers, addresses) and ``payments``
  (payments, refunds). ``--filter <key>=<v>`` selects source ``v``; an unknown ``v`` is a source with
  tables ``orders`` and ``customers``; ``table=<t>`` selects tables named ``t``; no filter selects all.
* Models: ``dim_customers`` and ``fct_daily_orders`` in schema ``marts`` (empty DuckDB catalog), or the
  ``*.sql`` files of ``--models <dir>`` (a ``<name>.toml`` sidecar may set ``[target]`` and ``[strategy]``).
"""

from __future__ import annotations

import hashlib
import tomllib
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from airflow_provider_rocky.testing._standin.config import table as toml_table
from airflow_provider_rocky.testing._standin.errors import CommandError

SOURCES: dict[str, tuple[str, ...]] = {
    "orders": ("orders", "order_items"),
    "customers": ("customers", "addresses"),
    "payments": ("payments", "refunds"),
}
KNOWN_ROWS = {"orders": 12, "order_items": 30, "customers": 8, "addresses": 9, "payments": 12, "refunds": 3}
DEFAULT_MODELS = ("dim_customers", "fct_daily_orders")
MODEL_COLUMNS = {"dim_customers": 4, "fct_daily_orders": 3}
PARTITIONED_MODEL = "fct_daily_orders"
#: The demo project's seeds (``seeds.DEMO_SEEDS``): ``run --model`` of one is the engine's "not found".
DEMO_SEED_NAMES = frozenset({"country_codes"})
MAX_PARTITIONS = 10000


@dataclass(frozen=True)
class Partition:
    """One time_interval partition: canonical key and its ``[start, end)`` window."""

    key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Unit:
    """One thing the run materializes: a replicated table or a model (or one partition of a model)."""

    is_model: bool
    asset_key: tuple[str, ...]
    catalog: str
    schema: str
    table: str
    name: str
    strategy: str
    rows: int
    column_count: int = 0
    partition: Partition | None = None

    @property
    def full_name(self) -> str:
        """``catalog.schema.table`` as the engine prints it (empty catalog for DuckDB models)."""
        return f"{self.catalog}.{self.schema}.{self.table}"

    @property
    def short_name(self) -> str:
        """``schema.table`` as the progress lines print it."""
        return f"{self.schema}.{self.table}"

    @property
    def sql_hash(self) -> str:
        """16 hex chars, stable per model and partition."""
        seed = f"{self.name}|{self.partition.key if self.partition else ''}"
        return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _rows_for(name: str) -> int:
    return KNOWN_ROWS.get(name, 5 + zlib.crc32(name.encode()) % 16)


def replication_units(filter_kv: tuple[str, str] | None, catalog: str, table_count: int | None) -> list[Unit]:
    """The replicated tables a ``--filter`` selects (``table_count`` synthesizes that many tables)."""
    pairs: list[tuple[str, str]] = []
    if table_count is not None:
        source = filter_kv[1] if filter_kv and filter_kv[0] != "table" and filter_kv[1] else "orders"
        pairs = [(source, f"{source}_{index:05d}") for index in range(1, table_count + 1)]
    elif filter_kv is None:
        pairs = [(source, table) for source, tables in SOURCES.items() for table in tables]
    elif filter_kv[0] == "table":
        pairs = [(src, t) for src, tables in SOURCES.items() for t in tables if t == filter_kv[1]]
        pairs = pairs or [(filter_kv[1], filter_kv[1])]
    else:
        source = filter_kv[1] or "default"
        pairs = [(source, table) for table in SOURCES.get(source, ("orders", "customers"))]
    return [
        Unit(
            is_model=False,
            asset_key=("duckdb", source, table),
            catalog=catalog,
            schema=f"staging__{source}",
            table=table,
            name=table,
            strategy="full_refresh",
            rows=_rows_for(table) if table_count is None else 1 + index % 7,
        )
        for index, (source, table) in enumerate(pairs)
    ]


def _model_unit(name: str, models_dir: Path | None) -> Unit:
    catalog, schema, table, strategy = "", "marts", name, "full_refresh"
    sidecar = models_dir / f"{name}.toml" if models_dir is not None else None
    if sidecar is not None and sidecar.is_file():
        try:
            data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CommandError(f"failed to load model sidecar {sidecar}", [str(exc)]) from exc
        target = toml_table(data, "target")
        catalog = str(target.get("catalog", catalog))
        schema = str(target.get("schema", schema))
        table = str(target.get("table", table))
        strat = data.get("strategy")
        strategy = str(strat.get("type", strategy)) if isinstance(strat, dict) else strategy
    return Unit(
        is_model=True,
        asset_key=(catalog, schema, table),
        catalog=catalog,
        schema=schema,
        table=table,
        name=name,
        strategy=strategy,
        rows=7 if name == PARTITIONED_MODEL else _rows_for(name),
        column_count=MODEL_COLUMNS.get(name, 3),
    )


def model_units(models_dir: str | None, only: str | None, cwd: Path) -> list[Unit]:
    """Models from ``--models <dir>`` (``*.sql`` stems) or the built-in pair; ``--model`` picks one."""
    directory = cwd / models_dir if models_dir else None
    names = list(DEFAULT_MODELS)
    found: list[str] = []
    if directory is not None and directory.is_dir():
        found = sorted(path.stem for path in directory.glob("*.sql"))
        names = found or names
    if only is not None:
        # Only a directory with models can lack one: ``models/`` holding just the state file is none;
        # without models the demo project has every model, but its seeds are not models.
        if (found and only not in names) or (not found and only in DEMO_SEED_NAMES):
            raise CommandError(f"model '{only}' not found (no transformation model with that name)")
        names = [only]
    return [_model_unit(name, directory) for name in names]


def parse_partition_key(key: str) -> tuple[str, datetime]:
    """Granularity (``hour``/``day``/``month``/``year``) and window start of a canonical key."""
    for granularity, fmt, length in (
        ("hour", "%Y-%m-%dT%H", 13),
        ("day", "%Y-%m-%d", 10),
        ("month", "%Y-%m", 7),
        ("year", "%Y", 4),
    ):
        if len(key) == length:
            try:
                return granularity, datetime.strptime(key, fmt).replace(tzinfo=UTC)
            except ValueError:
                break
    raise CommandError(
        f"invalid partition key '{key}': expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH (UTC)"
    )


def _step(granularity: str, moment: datetime, count: int) -> datetime:
    if granularity == "hour":
        return moment + timedelta(hours=count)
    if granularity == "day":
        return moment + timedelta(days=count)
    months = moment.year * 12 + moment.month - 1 + (count * 12 if granularity == "year" else count)
    return moment.replace(year=months // 12, month=months % 12 + 1)


def _key(granularity: str, moment: datetime) -> str:
    fmt = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[granularity]
    return moment.strftime(fmt)


def partitions(
    *,
    partition: str | None,
    start: str | None,
    end: str | None,
    latest: bool,
    missing: bool,
    lookback: int | None,
    today: date,
) -> list[Partition]:
    """Expand the partition flags into windows (``--latest``/default = today UTC, ``--missing`` = 3 days)."""
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    if partition is not None:
        granularity, first = parse_partition_key(partition)
        last = first
    elif start is not None and end is not None:
        granularity, first = parse_partition_key(start)
        end_granularity, last = parse_partition_key(end)
        if end_granularity != granularity:
            raise CommandError(f"--from '{start}' and --to '{end}' use different partition granularities")
        if last < first:
            raise CommandError(f"--from '{start}' is after --to '{end}'")
    elif missing and not latest:
        granularity, first, last = "day", midnight - timedelta(days=2), midnight
    else:
        granularity, first, last = "day", midnight, midnight
    first = _step(granularity, first, -(lookback or 0))
    windows: list[Partition] = []
    cursor = first
    while cursor <= last:
        if len(windows) >= MAX_PARTITIONS:
            raise CommandError(f"partition range selects more than {MAX_PARTITIONS} partitions")
        following = _step(granularity, cursor, 1)
        windows.append(Partition(_key(granularity, cursor), cursor, following))
        cursor = following
    return windows


def previous_window(window: Partition) -> Partition:
    """The partition right before ``window`` (same granularity)."""
    granularity, start = parse_partition_key(window.key)
    previous = _step(granularity, start, -1)
    return Partition(_key(granularity, previous), previous, start)


def partition_units(models: list[Unit], windows: list[Partition]) -> list[Unit]:
    """One unit per partition of each time_interval model (``fct_daily_orders`` unless declared)."""
    chosen = [unit for unit in models if unit.strategy == "time_interval"]
    if not chosen:
        preferred = [unit for unit in models if unit.name == PARTITIONED_MODEL]
        chosen = preferred or models[:1]
    return [
        replace(unit, strategy="time_interval", partition=window, rows=_partition_rows(window))
        for unit in chosen
        for window in windows
    ]


def _partition_rows(window: Partition) -> int:
    """Rows a daily-aggregate model writes for a window: one per day it covers (at least one)."""
    return max(1, (window.end.date() - window.start.date()).days)


def apply_shadow(units: list[Unit], suffix: str, schema: str | None) -> list[Unit]:
    """``--shadow``: rewrite targets (schema override or table suffix); asset keys stay the same."""
    if schema is not None:
        return [replace(unit, schema=schema) for unit in units]
    return [replace(unit, table=unit.table + suffix) for unit in units]
