"""DAGs for the task-face tests: deferral under dag.test(), secrets in rendered fields, XCom, events."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")

# The default event hold: dag.test() must not wait it out.
START = datetime(2026, 1, 1)

with DAG("face__default_hold", schedule=None, start_date=START, catchup=False) as face__default_hold:
    RockyOperator(
        task_id="rocky_run", deferrable=True, binary_path=STANDIN, project_dir=WORK, filter="source=orders"
    )

#: An engine that leaks: it prints the secrets of its environment (WAREHOUSE_ACCESS_TOKEN from env_vars,
#: WAREHOUSE_PASSWORD from the connection's secret_env) to stderr, plain and inside tracing JSON, and
#: into the error messages of its RunResult, with a NUL; written by tests/operators/test_secrets.py.
LEAKY_ENGINE = os.path.join(WORK, "face_leaky_engine")
LEAKY: dict[str, Any] = {
    "task_id": "rocky_run",
    "rocky_conn_id": "rocky_face",
    "binary_path": LEAKY_ENGINE,
    "project_dir": WORK,
    "filter": "source=orders",
    "push_full_result": True,
}

for _mode in ("sync", "deferrable"):
    with DAG(f"face__leaky__{_mode}", schedule=None, start_date=START, catchup=False) as _dag:
        RockyOperator(
            **LEAKY,
            deferrable=_mode == "deferrable",
            env_vars={"WAREHOUSE_ACCESS_TOKEN": "{{ var.value.face_creds }}"},
        )
    globals()[_dag.dag_id] = _dag


class StartedInTheTriggerer(RockyOperator):
    """A ``start_from_trigger`` task under ``dag.test()``, which runs ``execute()`` where a scheduler would
    create the trigger from ``start_trigger_args``: this defers to exactly that trigger (the command is
    built in the triggerer, from the spec and the connection it looks up there)."""

    def execute(self, context: Any) -> Any:
        args = self.start_trigger_args
        assert args is not None
        self.defer(trigger=RockyRunTrigger(**args.trigger_kwargs), method_name=args.next_method)


with DAG("face__leaky__start_from_trigger", schedule=None, start_date=START, catchup=False) as _dag:
    StartedInTheTriggerer(
        **LEAKY,
        deferrable=True,
        start_from_trigger=True,
        # Not rendered in an inline trigger, and not a secret: the connection's value is the one here.
        env_vars={"WAREHOUSE_ACCESS_TOKEN": "not-a-secret"},
    )
globals()[_dag.dag_id] = _dag
