"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Kept import-free (no Airflow, no hook imports) so the providers manager can load it cheaply.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_rocky import __version__

#: The connection form, declared as data (Airflow 3.2+ renders it without importing the hook).
#: Every value lands in ``Connection.extra``; older 3.x use ``RockyHook.get_ui_field_behaviour``.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "binary_path": {
        "label": "Rocky binary",
        "description": "Path or name of the rocky binary (default: `rocky` on PATH).",
        "schema": {"type": ["string", "null"]},
    },
    "project_dir": {
        "label": "Project directory",
        "description": "Working directory of the engine (where rocky.toml, models/ and .rocky/ live).",
        "schema": {"type": ["string", "null"]},
    },
    "config_path": {
        "label": "Config path",
        "description": "Path to rocky.toml, relative to the project directory (default: rocky.toml).",
        "schema": {"type": ["string", "null"]},
    },
    "state_path": {
        "label": "State path",
        "description": "Explicit state file (--state-path). Leave empty to let the engine resolve it.",
        "schema": {"type": ["string", "null"]},
    },
    "state_namespace": {
        "label": "State namespace",
        "description": "Per-namespace state key (--state-namespace, [a-zA-Z0-9_]+); excludes state path.",
        "schema": {"type": ["string", "null"], "pattern": "^[a-zA-Z0-9_]*$"},
    },
    "models_dir": {
        "label": "Models directory",
        "description": "--models for run_models / model, relative to the project dir (default: models).",
        "schema": {"type": ["string", "null"]},
    },
    "asset_namespace": {
        "label": "Asset namespace",
        "description": "Warehouse namespace for Asset URIs, e.g. duckdb:///data/wh.duckdb, "
        "snowflake://<account>, databricks://<workspace-host>, bigquery.",
        "schema": {"type": ["string", "null"]},
    },
    "default_catalog": {
        "label": "Default catalog",
        "description": "Catalog of Asset URIs for tables the engine names without one (.schema.table); "
        "Snowflake, Databricks and Postgres-like namespaces need it for such tables.",
        "schema": {"type": ["string", "null"]},
    },
    "env": {
        "label": "Engine environment",
        "description": "JSON object of environment variables for the engine. Every value is masked in "
        "logs; put passwords and tokens in the secret field below, which the UI and the REST API hide.",
        "schema": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
    },
    "secret_env": {
        "label": "Secret engine environment",
        "description": 'JSON object of secret environment variables, e.g. {"SNOWFLAKE_PASSWORD": "..."}: '
        "hidden in the UI and the REST API, masked in logs and XCom, sealed with the Fernet key while "
        "a task is deferred, never in argv.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}
#: Connection fields that are not settings a task may override (assets, and the secret environment).
NOT_OVERRIDES: tuple[str, ...] = ("asset_namespace", "default_catalog", "env", "secret_env")


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: connection type, hooks, operators, triggers, the UI plugin."""
    return {
        "package-name": "airflow-provider-rocky",
        "name": "Rocky",
        "description": "Run the Rocky SQL transformation engine from Apache Airflow 3.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Rocky",
                "external-doc-url": "https://rocky-data.dev/",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Rocky",
                "python-modules": [
                    "airflow_provider_rocky.hooks.rocky",
                    "airflow_provider_rocky.hooks.duckdb",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Rocky",
                "python-modules": [
                    "airflow_provider_rocky.operators.rocky",
                    "airflow_provider_rocky.operators.gates",
                    "airflow_provider_rocky.operators.plan",
                    "airflow_provider_rocky.operators.seed",
                    "airflow_provider_rocky.operators.run_dag",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Rocky",
                "python-modules": [
                    "airflow_provider_rocky.triggers.rocky",
                    "airflow_provider_rocky.triggers.source_sync",
                ],
            }
        ],
        "plugins": [
            {"name": "rocky", "plugin-class": "airflow_provider_rocky.ui.plugin.RockyViewPlugin"},
        ],
        "connection-types": [
            {
                "connection-type": "rocky",
                "hook-class-name": "airflow_provider_rocky.hooks.rocky.RockyHook",
                "hook-name": "Rocky",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "login", "password", "port"],
                    "relabeling": {},
                    "placeholders": {},
                },
                "conn-fields": CONN_FIELDS,
            },
            {
                "connection-type": "rocky_duckdb",
                "hook-class-name": "airflow_provider_rocky.hooks.duckdb.RockyDuckDBHook",
                "hook-name": "Rocky DuckDB warehouse",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "password", "port"],
                    "relabeling": {"host": "DuckDB file"},
                    "placeholders": {"host": "/path/to/warehouse.duckdb"},
                },
            },
        ],
    }
