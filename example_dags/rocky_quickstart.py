"""Quickstart: run a Rocky pipeline under the triggerer, then read its summary from XCom.

The README's Quickstart. Configure the `rocky_default` connection (binary path, project directory,
warehouse credentials in `secret_env`) or leave it undefined to use `rocky` on PATH in the current
directory. Each table the run materializes becomes an asset event; `rocky_downstream` is scheduled on
one of them. `make demo` runs both with `airflow dags test`, against the stand-in engine when no real
`rocky` is installed, and shows the asset event queueing `rocky_downstream`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_rocky.operators.rocky import RockyOperator

with DAG(
    dag_id="rocky_quickstart",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rocky", "example"],
    doc_md=__doc__,
):
    rocky_run = RockyOperator(
        task_id="rocky_run",
        filter="source=orders",  # one `key=value` component filter, as `rocky run --filter`
        run_models=True,  # replication, then the compiled models (`--models models --all`)
        timeout_seconds=30 * 60,
        deferrable=True,  # run under the triggerer: no worker slot held while the engine runs
    )

    @task
    def report(summary: dict[str, Any]) -> None:
        """What downstream tasks get from XCom: a compact, bounded summary of the run."""
        copied, failed = summary["tables_copied"], summary["tables_failed"]
        print(f"rocky status={summary['status']} copied={copied} failed={failed}")
        for mat in summary["materializations"]:
            print(f"  {mat['table']}: {mat['strategy']}, {mat['rows_copied']} rows")

    report(rocky_run.output)
