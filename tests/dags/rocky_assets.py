"""DAGs whose asset events the tests read back from the metadata DB.

Each stand-in run writes its record to ``<ROCKY_TEST_WORKDIR>/<dag_id>.jsonl``: what the engine wrote,
the reference the events are checked against.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.operators.rocky import RockyOperator

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
NAMESPACE = "duckdb:///data/warehouse.duckdb"

CASES = {
    "replication": ({"filter": "source=orders"}, "success"),
    "backfill": (
        {"run_models": True, "partition_from": "2026-04-04", "partition_to": "2026-04-08"},
        "partitioned",
    ),
    "partial": ({"filter": "source=orders"}, "partial"),
    "failed": ({"filter": "source=orders"}, "total_failure"),
    "pipes": ({"filter": "source=orders", "pipes": True}, "drift"),
}

for _name, (_kwargs, _scenario) in CASES.items():
    for _mode in ("sync", "deferrable"):
        _id = f"assets__{_name}__{_mode}"
        with DAG(_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as _dag:
            RockyOperator(
                task_id="rocky_run",
                binary_path=STANDIN,
                project_dir=WORK,
                asset_namespace=NAMESPACE,
                deferrable=_mode == "deferrable",
                event_hold_seconds=0,  # dag.test() runs the trigger inline: no worker deferral to settle
                env_vars={
                    "ROCKY_STANDIN_SCENARIO": _scenario,
                    "ROCKY_STANDIN_DELAY": "0",
                    "ROCKY_STANDIN_RECORD": os.path.join(WORK, f"{_id}.jsonl"),
                },
                **_kwargs,
            )
        globals()[_id] = _dag

# A statically declared outlet gets the extra of the matching materialization.
with DAG(
    "assets__static_outlet", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
) as static_outlet:
    RockyOperator(
        task_id="rocky_run",
        binary_path=STANDIN,
        project_dir=WORK,
        asset_namespace=NAMESPACE,
        filter="source=orders",
        outlets=[rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE)],
        env_vars={"ROCKY_STANDIN_SCENARIO": "success", "ROCKY_STANDIN_DELAY": "0"},
    )
globals()["assets__static_outlet"] = static_outlet

# A partial run: one declared table lands, the other does not (Airflow would record both).
for _mode in ("sync", "deferrable"):
    with DAG(
        f"assets__partial_outlets__{_mode}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
    ) as _dag:
        RockyOperator(
            task_id="rocky_run",
            binary_path=STANDIN,
            project_dir=WORK,
            asset_namespace=NAMESPACE,
            filter="source=orders",
            deferrable=_mode == "deferrable",
            event_hold_seconds=0,
            outlets=[
                rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE),
                rocky_asset("warehouse.staging__orders.order_items", namespace=NAMESPACE),
            ],
            env_vars={"ROCKY_STANDIN_SCENARIO": "partial", "ROCKY_STANDIN_DELAY": "0"},
        )
    globals()[f"assets__partial_outlets__{_mode}"] = _dag
