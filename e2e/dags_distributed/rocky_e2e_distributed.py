"""DAGs of `make e2e-distributed` (CeleryExecutor, two workers, two triggerers; e2e/run_distributed.py).

* ``rocky_e2e_fanout``: ``RockyOperator.partial(...).expand(filter=[...])`` over 20 tenants, the first
  ten on the Celery workers (sync), the other ten under the triggerers (deferrable). Each mapped task
  has a state namespace of its own (``sync_<map index>``, ``deferred_<map index>``), so no two runs
  share the engine's single-writer state file and no pool is needed (README: Running on Celery and
  Kubernetes executors). The project's ``rocky.toml`` names DuckDB without a file: tables are reported,
  not written, so twenty engines do not queue on one DuckDB writer lock either. ``partial()`` declares
  each task's ``AssetAlias`` at parse time (``operators/materialize.py``): before it did, the first
  mapped tasks to finish created it at once and Airflow 3.3.2 failed one of 20 in one run of three.
* ``rocky_e2e_triggerer_kill``: a deferred run (transformation path) long enough to SIGKILL the
  triggerer under it before it writes; the try fails within its hand-off bound and try 2 runs.
* ``rocky_e2e_event_loss``: a deferred run whose event is held long enough to SIGKILL the triggerer
  between the engine's success and the event.
* ``rocky_e2e_worker_kill``: a sync run long enough to SIGKILL the Celery worker under it; one retry.

Both start a quiet helper in the engine's process group (``ROCKY_STANDIN_GRANDCHILD``): the engine
itself writes every second or so and would die of SIGPIPE on its next line once its supervisor's pipe
ends close, but the helper never writes: only a kill of the whole group (the reaper's) ends it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_rocky.operators.rocky import RockyOperator

RECORD = os.environ.get("ROCKY_E2E_RECORD", "/tmp/rocky-e2e-record.jsonl")  # noqa: S108 (a default only)
SCRATCH = os.environ.get("ROCKY_E2E_SCRATCH", "/tmp/rocky-e2e-scratch")  # noqa: S108 (a default only)
TENANTS = [f"tenant=t{i:02d}" for i in range(1, 21)]
COMMON: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False}


def standin(scenario: str, delay: float = 0.3, **extra: str) -> dict[str, str]:
    """``env_vars`` selecting a stand-in scenario, with a readable pace and the shared record file."""
    return {
        "ROCKY_STANDIN_SCENARIO": scenario,
        "ROCKY_STANDIN_DELAY": str(delay),
        "ROCKY_STANDIN_RECORD": RECORD,
        **extra,
    }


with DAG(dag_id="rocky_e2e_fanout", tags=["rocky", "e2e"], max_active_tasks=32, **COMMON):
    for mode, tenants in (("sync", TENANTS[:10]), ("deferred", TENANTS[10:])):
        RockyOperator.partial(
            task_id=mode,
            rocky_conn_id="rocky_e2e_scratch",
            project_dir=f"{SCRATCH}/fanout",
            state_namespace=f"{mode}_{{{{ ti.map_index }}}}",
            deferrable=mode == "deferred",
            timeout_seconds=600,
            env_vars=standin("success"),
            retries=0,
        ).expand(filter=tenants)

with DAG(dag_id="rocky_e2e_triggerer_kill", tags=["rocky", "e2e"], **COMMON):
    # The transformation path (one model, its 20 s of work before it writes): no signal handler there,
    # so the killed engine leaves its idempotency claim InFlight (contract §3.6); the copy that takes
    # over asks for 30 s, then the try fails as state (retryable) and try 2 runs with its own key.
    RockyOperator(
        task_id="long_deferred",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/triggerer-kill",
        model="fct_daily_orders",
        timeout_seconds=15 * 60,
        deferrable=True,
        in_flight_wait_seconds=30,
        env_vars=standin("interruptible", ROCKY_STANDIN_SECONDS="40", ROCKY_STANDIN_GRANDCHILD="1"),
        retries=1,
        retry_delay=timedelta(seconds=2),
    )

with DAG(dag_id="rocky_e2e_event_loss", tags=["rocky", "e2e"], **COMMON):
    # A quick run whose event the trigger holds 45 s: the triggerer holding it is SIGKILLed after the
    # engine succeeded; the copy that takes over meets SkippedIdempotent and reports that run.
    RockyOperator(
        task_id="held_event",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/event-loss",
        filter="source=orders",
        timeout_seconds=15 * 60,
        deferrable=True,
        event_hold_seconds=45,
        env_vars=standin("success"),
        retries=0,
    )

with DAG(dag_id="rocky_e2e_worker_kill", tags=["rocky", "e2e"], **COMMON):
    RockyOperator(
        task_id="long_sync",
        rocky_conn_id="rocky_e2e_scratch",
        project_dir=f"{SCRATCH}/worker-kill",
        filter="source=orders",
        timeout_seconds=15 * 60,
        deferrable=False,
        env_vars=standin("interruptible", ROCKY_STANDIN_SECONDS="15", ROCKY_STANDIN_GRANDCHILD="1"),
        retries=1,
        retry_delay=timedelta(seconds=2),
    )
