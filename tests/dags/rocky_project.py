"""DAGs rendered from Rocky manifests (RockyTaskGroup / RockyDAG), run by tests/project/ with dag.test().

Each DAG runs the stand-in in a project directory of its own under ROCKY_TEST_WORKDIR and records
every engine invocation to ``<dag_id>.jsonl`` there. The manifests are written beside them the first
time this file is parsed: the stand-in demo project's, a generated one, and the recorded corpus
``dag.json`` when the shared corpus is present.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.1: only the core path
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]

from airflow_provider_rocky import RockyDAG, RockyTaskGroup
from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes, synthetic_nodes

WORK = Path(os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")) / "project"
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
CORPUS_DAG = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "recorded" / "dag.json"
NAMESPACE = "duckdb:///data/wh.duckdb"
START = datetime(2026, 1, 1)
MANIFESTS = WORK / "manifests"


def _manifest(name: str, nodes: list[dict[str, Any]]) -> Path:
    path = MANIFESTS / f"{name}.json"
    if not path.exists():
        MANIFESTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dag_document(nodes, "1.71.0")))
    return path


DEMO = _manifest("demo", demo_nodes())
GENERATED = _manifest("generated", synthetic_nodes(40))
GRAINS = _manifest(
    "grains",
    [
        {
            "id": f"transformation:by_{grain}",
            "kind": "transformation",
            "label": f"by_{grain}",
            "target": {"catalog": "", "schema": "marts", "table": f"by_{grain}"},
            "strategy": {"type": "time_interval", "time_column": "ts", "granularity": grain},
            "partition_shape": {"granularity": declared},
        }
        for grain, declared in (
            ("hour", "hourly"),
            ("day", "daily"),
            ("month", "monthly"),
            ("year", "yearly"),
        )
    ],
)


def args(dag_id: str, **extra: Any) -> dict[str, Any]:
    """operator_args: the stand-in in the DAG's own project directory, recording to <dag_id>.jsonl."""
    project = WORK / dag_id
    project.mkdir(parents=True, exist_ok=True)
    env = {"ROCKY_STANDIN_RECORD": str(WORK / f"{dag_id}.jsonl"), "ROCKY_STANDIN_DELAY": "0"}
    return {"binary_path": STANDIN, "project_dir": str(project), "env_vars": env, **extra}


#: A daily run covers the day before it ([ds, ds + 1 day)): a time_interval node runs that day.
DAILY = CronDataIntervalTimetable("@daily", timezone="UTC")


def _dag(dag_id: str, schedule: Any = DAILY) -> DAG:
    return DAG(dag_id, schedule=schedule, start_date=START, catchup=False, tags=["rocky", "project"])


for _mode in ("sync", "deferrable"):
    with _dag(f"project__demo__{_mode}") as _d:
        _extra = {"deferrable": True, "event_hold_seconds": 0} if _mode == "deferrable" else {}
        RockyTaskGroup(
            "demo", manifest=DEMO, operator_args=args(_d.dag_id, **_extra), asset_namespace=NAMESPACE
        )
    globals()[_d.dag_id] = _d

with _dag("project__one_run") as project__one_run:
    RockyTaskGroup(
        "demo",
        manifest=DEMO,
        operator_args=args("project__one_run"),
        asset_namespace=NAMESPACE,
        shape="one_run",
    )

with _dag("project__one_run_failed") as project__one_run_failed:
    _failing = args("project__one_run_failed", retries=0)
    _failing["env_vars"]["ROCKY_STANDIN_SCENARIO"] = "partial"  # every 2nd unit of the DAG fails
    RockyTaskGroup("demo", manifest=DEMO, operator_args=_failing, asset_namespace=NAMESPACE, shape="one_run")

with _dag("project__namespaces") as project__namespaces:
    RockyTaskGroup(
        "demo",
        manifest=DEMO,
        operator_args=args("project__namespaces"),
        asset_namespace=NAMESPACE,
        state_isolation="namespace",
        select=["kind:transformation", "kind:seed"],
    )

with _dag("project__grains") as project__grains:
    RockyTaskGroup(
        "grains", manifest=GRAINS, operator_args=args("project__grains"), asset_namespace=NAMESPACE
    )

# No schedule: a manual run has no data interval, only its logical date.
with _dag("project__grains_manual", schedule=None) as project__grains_manual:
    RockyTaskGroup(
        "grains", manifest=GRAINS, operator_args=args("project__grains_manual"), asset_namespace=NAMESPACE
    )

with _dag("project__generated") as project__generated:
    RockyTaskGroup(
        "gen", manifest=GENERATED, operator_args=args("project__generated"), asset_namespace=NAMESPACE
    )

project__rocky_dag = RockyDAG(
    "project__rocky_dag",
    manifest=DEMO,
    operator_args=args("project__rocky_dag"),
    asset_namespace=NAMESPACE,
    select=["+fct_daily_orders"],
    schedule=DAILY,
    start_date=START,
    catchup=False,
)

if CORPUS_DAG.is_file():
    with _dag("project__corpus") as project__corpus:
        RockyTaskGroup("playground", manifest=CORPUS_DAG, operator_args=args("project__corpus"))

# A plain RockyOperator declaring the table it materializes: one event for it, not two.
for _mode in ("sync", "deferrable"):
    with _dag(f"project__plain_declared__{_mode}") as _d:
        RockyOperator(
            task_id="rocky_run",
            model="dim_customers",
            outlets=[rocky_asset(".marts.dim_customers", namespace=NAMESPACE)],
            asset_namespace=NAMESPACE,
            deferrable=_mode == "deferrable",
            event_hold_seconds=0,
            **args(_d.dag_id),
        )
    globals()[_d.dag_id] = _d

# Naming pinned by the group: the connection's default_catalog ("conncat", set by the test) must not
# rename at run time what the group declared; the group's own default_catalog names both sides.
for _name, _catalog in (("conn", None), ("group", "other")):
    with _dag(f"project__catalog__{_name}") as _d:
        RockyTaskGroup(
            "demo",
            manifest=DEMO,
            operator_args=args(_d.dag_id, rocky_conn_id="rocky_catalog"),
            asset_namespace=NAMESPACE,
            default_catalog=_catalog,
            select=["kind:transformation"],
        )
    globals()[_d.dag_id] = _d
