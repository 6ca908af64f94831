"""DAGs of ``RockyTaskGroup(shape="watch")`` groups, run by tests/project/test_watch_runs.py with dag.test().

Each DAG runs the stand-in in a DuckDB project of its own under ROCKY_TEST_WORKDIR/watch (a
``rocky.toml`` naming ``warehouse.duckdb``) and records every engine invocation to ``<dag_id>.jsonl``.
``ROCKY_STANDIN_FAIL_NODES`` makes a model fail: always, or its first build only.
"""

from __future__ import annotations

import importlib.util
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_provider_rocky import RockyTaskGroup

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.1: only the core path
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]


def _sibling(name: str) -> Any:
    """A module of this folder by path: Airflow puts each DAG file's folder on ``sys.path``, and
    ``example_dags/`` has a ``rocky_project.py`` too, so a plain import can find the wrong one."""
    spec = importlib.util.spec_from_file_location(
        f"rocky_tests_dags_{name}", Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_project = _sibling("rocky_project")
DEMO, GENERATED, NAMESPACE = _project.DEMO, _project.GENERATED, _project.NAMESPACE


WORK = Path(os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")) / "watch"
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
START = datetime(2026, 1, 1)
ROCKY_TOML = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
DAILY = CronDataIntervalTimetable("@daily", timezone="UTC")


def project(dag_id: str) -> Path:
    """The DAG's own project directory (a DuckDB project), made fresh by :func:`reset`."""
    return WORK / dag_id


def record(dag_id: str) -> Path:
    return WORK / f"{dag_id}.jsonl"


def args(dag_id: str, env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """operator_args: the stand-in in the DAG's project, recording to <dag_id>.jsonl."""
    project(dag_id).mkdir(parents=True, exist_ok=True)
    env = {"ROCKY_STANDIN_RECORD": str(record(dag_id)), "ROCKY_STANDIN_DELAY": "0", **(env or {})}
    return {"binary_path": STANDIN, "project_dir": str(project(dag_id)), "env_vars": env, **extra}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=DAILY, start_date=START, catchup=False, tags=["rocky", "watch"])


def _group(dag_id: str, operator_args: dict[str, Any], manifest_path: Path = DEMO, **kwargs: Any) -> DAG:
    with _dag(dag_id) as dag:
        RockyTaskGroup(
            "demo",
            manifest=manifest_path,
            operator_args=operator_args,
            asset_namespace=NAMESPACE,
            shape="watch",
            state_isolation="none",
            **kwargs,
        )
    return dag


#: Every node completes: one engine run, one task per node.
watch__demo = _group("watch__demo", args("watch__demo", retries=0))
#: The same with deferrable node tasks (their run alone, were one needed, goes to the triggerer).
watch__demo_deferrable = _group(
    "watch__demo_deferrable", args("watch__demo_deferrable", retries=0, deferrable=True, event_hold_seconds=0)
)
#: dim_customers fails in every build: its descendants are contained, the rest completes.
watch__failing = _group(
    "watch__failing", args("watch__failing", {"ROCKY_STANDIN_FAIL_NODES": "dim_customers"}, retries=0)
)
#: dim_customers fails in the engine's run only: its task's retry runs it alone and succeeds; the
#: nodes the engine skipped behind it run alone once it is green.
watch__retry = _group(
    "watch__retry",
    args(
        "watch__retry", {"ROCKY_STANDIN_FAIL_NODES": "dim_customers:1"}, retries=1, retry_delay=timedelta(0)
    ),
)
#: The producer cannot start the engine: every node task fails with its error, none is green.
watch__no_binary = _group(
    "watch__no_binary", {**args("watch__no_binary", retries=0), "binary_path": str(WORK / "no-such-rocky")}
)
#: The engine refuses the project before any node runs (no rocky.toml, and the stand-in is not told
#: to tolerate that): every node task fails with the producer's error.
watch__no_config = _group(
    "watch__no_config",
    args("watch__no_config", {"ROCKY_STANDIN_ALLOW_NO_CONFIG": "0"}, retries=0),
)
#: dim_customers fails in the engine's run only, and its task has no retries: a clear runs it alone.
watch__clear = _group(
    "watch__clear", args("watch__clear", {"ROCKY_STANDIN_FAIL_NODES": "dim_customers:1"}, retries=0)
)
#: The stand-in's generated project of 40 nodes (a load node, models reading up to three earlier
#: ones, ephemeral and daily-partitioned ones among them): the manifest and the engine's DAG agree.
watch__generated = _group(
    "watch__generated",
    args("watch__generated", {"ROCKY_STANDIN_DAG_NODES": "40"}, retries=0),
    manifest_path=GENERATED,
)


def _hold_state_file(context: Any) -> None:
    """A second writer takes the project's state file for 3 s, just as the failed node's retry starts."""
    import subprocess
    import sys

    state = project("watch__busy") / "models" / ".rocky-state.redb"
    code = (
        "import sys, time, pathlib; from airflow_provider_rocky.testing._standin.state_lock import hold\n"
        "with hold(pathlib.Path(sys.argv[1]), 'state'):\n"
        "    open(sys.argv[2], 'w').close(); time.sleep(3)\n"
    )
    held = WORK / "watch__busy.held"
    held.unlink(missing_ok=True)
    subprocess.Popen([sys.executable, "-c", code, str(state), str(held)], start_new_session=True)
    while not held.exists():  # the lock is taken before the retry runs
        time.sleep(0.02)


#: dim_customers fails in the engine's run; as its retry runs it alone, another writer holds the
#: state file for 3 s: the run alone asks again within the try instead of failing on the lock.
watch__busy = _group(
    "watch__busy",
    args("watch__busy", {"ROCKY_STANDIN_FAIL_NODES": "dim_customers:1"}, retries=1, retry_delay=timedelta(0)),
    node_args={"dim_customers": {"on_retry_callback": _hold_state_file}},
)
