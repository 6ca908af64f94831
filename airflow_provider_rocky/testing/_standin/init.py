"""``rocky init [PATH] [--template duckdb]``: write a project that runs as it is.

The engine's own ``rocky init`` (``engine/crates/rocky-cli/src/commands/init.rs``): it creates PATH
(unless ``.``), refuses a directory that already has a ``rocky.toml`` (``rocky.toml already exists
in PATH``, exit 1) and an unknown template (listing the five it knows), and for the default
``duckdb`` template writes a DuckDB adapter, one replication pipeline (sources ``raw__<source>``
into ``staging__<source>``), a sample model with its sidecar, model defaults and a seed script. It
prints what it wrote, as text. The stand-in writes the same files (its own wording); the other
templates (databricks-fivetran, snowflake, bigquery, trino) need a warehouse and are not emulated
(docs/engine-fidelity.md, Deliberate differences).
"""

from __future__ import annotations

from pathlib import Path

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.tracing import write_fd

#: The engine's templates (init.rs), and the one the stand-in writes.
TEMPLATES = ("duckdb", "databricks-fivetran", "snowflake", "bigquery", "trino")
EMULATED = "duckdb"

ROCKY_TOML = """\
# A Rocky project on a local DuckDB file, as `rocky init` writes it.
# Load the sample rows (duckdb playground.duckdb < seeds/seed.sql), then: rocky run --filter source=orders
[adapter]
type = "duckdb"
path = "playground.duckdb"

[pipeline]
source.schema_pattern = { prefix = "raw__", separator = "__", components = ["source"] }
target = { catalog_template = "main", schema_template = "staging__{source}" }
"""

FILES = {
    "rocky.toml": ROCKY_TOML,
    "models/_defaults.toml": '[target]\ncatalog = "main"\nschema = "silver"\n',
    "models/stg_orders.sql": (
        "SELECT order_id, customer_id, amount, status, _updated_at\nFROM main.staging__orders.orders\n"
    ),
    "models/stg_orders.toml": "depends_on = []\n",
    "seeds/seed.sql": """\
-- Sample source rows: the replication pipeline reads schema raw__orders.
CREATE SCHEMA IF NOT EXISTS raw__orders;
CREATE TABLE IF NOT EXISTS raw__orders.orders (
    order_id INTEGER, customer_id INTEGER, amount DECIMAL(10, 2), status VARCHAR,
    _updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO raw__orders.orders VALUES
    (1, 100, 29.99, 'completed', CURRENT_TIMESTAMP),
    (2, 101, 49.99, 'pending', CURRENT_TIMESTAMP);
""",
}


def init(inv: Invocation, cwd: Path) -> int:
    """Write the project; ``CommandError`` (exit 1) as the engine bails."""
    path = str(inv.get("path") or ".")
    template = str(inv.get("template") or EMULATED)
    target = cwd / path
    if path != ".":
        target.mkdir(parents=True, exist_ok=True)
    if (target / "rocky.toml").exists():
        raise CommandError(f"rocky.toml already exists in {path}")
    if template not in TEMPLATES:
        raise CommandError(f"unknown template '{template}'. Available: {', '.join(TEMPLATES)}")
    if template != EMULATED:
        raise CommandError(
            f"[rocky stand-in] the '{template}' template needs a warehouse and is not emulated; "
            f"the stand-in writes the '{EMULATED}' template"
        )
    for name, text in FILES.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    lines = [
        f"Initialized Rocky project in {path}",
        "",
        *(f"  {name}" for name in FILES),
        "",
        "Next:",
        f"  cd {path} && duckdb playground.duckdb < seeds/seed.sql",
        "  rocky run --filter source=orders",
    ]
    write_fd(1, ("\n".join(lines) + "\n").encode("utf-8"))
    return 0
