"""``rocky seed [--seeds DIR] [--pipeline P] [--filter NAME]``: load CSV seeds (engine 1.71).

Upstream: ``main.rs`` ``Command::Seed`` (``--seeds`` defaults to ``seeds``), ``commands/seed.rs``
``run_seed`` and ``rocky-core/src/seeds.rs`` ``discover_seeds``:

* the pipeline is resolved first (``resolve_pipeline``: a project with several pipelines needs
  ``--pipeline``), with the context ``failed to resolve pipeline for seed``;
* ``.csv``/``.tsv`` files of the directory, sorted by file name, are the seeds; a ``<stem>.toml``
  sidecar may set ``name`` and ``[target] catalog/schema/table``; the default target is
  ``<catalog>.seeds.<name>`` (``catalog``: ``main`` here, the engine's fallback);
* ``--filter NAME`` keeps the seed of that name; none matching is not an error (the engine loads
  nothing and exits 0);
* stdout is one ``SeedOutput`` (``schemas/seed.schema.json``); a seed that failed makes the run
  ``Error: N seed(s) failed``, exit 1, after the JSON.

Deliberate difference: without a ``seeds/`` directory (the default ``--seeds``), the stand-in's demo
project has its one seed, ``country_codes`` (target ``.marts.country_codes``, as the demo manifest
declares it), as it has demo models without ``models/``. An explicit ``--seeds`` that does not exist
is the engine's error.
"""

from __future__ import annotations

import csv
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.config import ProjectConfig, load_config, select_pipeline
from airflow_provider_rocky.testing._standin.config import table as toml_table
from airflow_provider_rocky.testing._standin.env import Outcome, RunEnv
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.fail_nodes import FailNodes, seed_error
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd
from airflow_provider_rocky.testing._standin.warehouse import Warehouse

DEFAULT_SEEDS_DIR = "seeds"
DEFAULT_CATALOG, DEFAULT_SCHEMA = "main", "seeds"
#: The demo project's seed (``project.demo_nodes``): used when there is no ``seeds/`` directory.
DEMO_SEEDS = {"country_codes": (("code", "name"), [("DE", "Germany"), ("FR", "France"), ("US", "USA")])}
DEMO_TARGET = ("", "marts")


@dataclass
class Seed:
    """One seed file (or the demo seed): its name, target and rows."""

    name: str
    catalog: str
    schema: str
    table: str
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    problem: str | None = None

    @property
    def target(self) -> str:
        """``catalog.schema.table`` as ``SeedOutput.tables[].target`` prints it."""
        return f"{self.catalog}.{self.schema}.{self.table}"


def _read(path: Path, sidecar: dict[str, Any]) -> Seed:
    target = toml_table(sidecar, "target")
    name = str(sidecar.get("name") or path.stem)
    seed = Seed(
        name,
        str(target.get("catalog", DEFAULT_CATALOG)),
        str(target.get("schema", DEFAULT_SCHEMA)),
        str(target.get("table", name)),
    )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            found = list(csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        seed.problem = f"schema inference failed for {name}: {exc}"
        return seed
    if not found:
        seed.problem = f"schema inference failed for {name}: CSV file {path} has no header row"
        return seed
    seed.columns, seed.rows = tuple(found[0]), [tuple(row) for row in found[1:]]
    return seed


def discover(directory: Path, shown: str, *, explicit: bool) -> list[Seed]:
    """The seeds of ``directory`` (``discover_seeds``), or the demo seed when it is the default and absent.

    ``shown``: the directory as the engine prints it (the ``--seeds`` value, relative to the cwd).
    """
    if not directory.is_dir():
        if explicit:
            raise CommandError(
                f"failed to discover seeds in {shown}", [f"seed directory does not exist: {shown}"]
            )
        return [Seed(n, *DEMO_TARGET, n, cols, list(rows)) for n, (cols, rows) in DEMO_SEEDS.items()]
    seeds = []
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.suffix.lower() not in (".csv", ".tsv"):
            continue
        sidecar_path = directory / f"{path.stem}.toml"
        sidecar: dict[str, Any] = {}
        if sidecar_path.is_file():
            try:
                sidecar = tomllib.loads(sidecar_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise CommandError(
                    f"failed to discover seeds in {shown}",
                    [f"failed to parse sidecar TOML {sidecar_path}: {exc}"],
                ) from exc
        seeds.append(_read(path, sidecar))
    return seeds


def load(
    seed: Seed, warehouse: Warehouse | None, log: StderrLog, fail: FailNodes | None = None
) -> dict[str, Any]:
    """Load one seed (drop and recreate its table); its ``SeedTableOutput`` row."""
    started = time.monotonic()
    log.info("loading seed", target="rocky::seed", seed=seed.name, target_table=seed.target)
    error = seed.problem
    if error is None and fail is not None and fail.fails(seed.name):
        error = seed_error(seed.name)
    if error is None and warehouse is not None:
        try:
            warehouse.load_rows(seed.schema, seed.table, seed.columns, seed.rows)
        except Exception as exc:  # a failing statement fails this seed, like the engine's DDL/INSERT
            error = f"DDL execution failed for {seed.name}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    if error is not None:
        log.error("seed failed", target="rocky::seed", seed=seed.name, error=error)
    else:
        log.info("seed loaded", target="rocky::seed", seed=seed.name, rows=len(seed.rows))
    return {
        "name": seed.name,
        "target": seed.target,
        "rows": 0 if error else len(seed.rows),
        "columns": 0 if error else len(seed.columns),
        "duration_ms": duration,
        "error": error,
    }


def run_seeds(
    config: ProjectConfig,
    cwd: Path,
    seeds_dir: str | None,
    only: str | None,
    log: StderrLog,
    fail: FailNodes | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Discover, filter and load; the seeds directory as printed and one row per seed."""
    shown = seeds_dir or DEFAULT_SEEDS_DIR
    found = discover(cwd / shown, shown, explicit=seeds_dir is not None)
    chosen = [s for s in found if only in (None, s.name)]
    warehouse = Warehouse.open(config.duckdb_path, log) if chosen else None
    try:
        return shown, [load(seed, warehouse, log, fail) for seed in chosen]
    finally:
        if warehouse is not None:
            warehouse.close()


def _text(output: dict[str, Any], fmt: str) -> str:
    """JSON, or the engine's status lines (``Seed complete: ...``) in text mode."""
    if fmt == "json":
        return render(output, "json")
    lines = [
        f"Seed complete: {output['tables_loaded']} loaded, {output['tables_failed']} failed "
        f"({output['duration_ms']} ms)"
    ]
    for row in output["tables"]:
        state = "FAIL" if row["error"] else "OK"
        lines.append(f"  [{state}] {row['name']} -> {row['target']} ({row['rows']} rows)")
    return "\n".join(lines) + "\n"


def seed(run: RunEnv) -> Outcome:
    """``rocky seed``: pipeline first, then the seeds; JSON, then ``Error:`` when one failed."""
    inv = run.inv
    config = load_config(inv.config, run.cwd)
    try:
        select_pipeline(config, inv.get("pipeline"))
    except CommandError as exc:
        raise CommandError("failed to resolve pipeline for seed", [exc.message]) from exc
    started = time.monotonic()
    fail = FailNodes(run.env, run.cwd)
    shown, tables = run_seeds(config, run.cwd, inv.get("seeds"), inv.get("filter"), run.log, fail)
    failed = sum(1 for row in tables if row["error"])
    output = {
        "version": run.knobs.engine.version,
        "command": "seed",
        "seeds_dir": shown,
        "tables_loaded": len(tables) - failed,
        "tables_failed": failed,
        "tables": tables,
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
    write_fd(1, _text(output, run.output_format).encode("utf-8"))
    if failed:
        raise CommandError(f"{failed} seed(s) failed")
    return Outcome(0, None)
