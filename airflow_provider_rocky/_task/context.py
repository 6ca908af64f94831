"""What the running task instance contributes to a rocky run: its deadline, its key, its audit trail.

Kept apart from the operator so the rules are small, pure functions of the Airflow context.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

_RUN_TRIGGER = {
    "scheduled": "schedule",
    "backfill": "schedule",
    "asset_triggered": "sensor",
    "manual": "manual",
}


def deadline_from(
    timeout_seconds: float | None,
    execution_timeout: timedelta | float | None,
    started: float | None = None,
) -> tuple[float | None, str | None]:
    """The earliest of ``timeout_seconds`` (from now) and ``execution_timeout`` (from ``started``).

    An absolute wall-clock time (it crosses serialization to the triggerer), and which budget it is.
    ``started`` is when the task began executing (``execute()`` entry), not ``ti.start_date``: that
    can be well before the task runs (``dags test`` set it early enough that the engine was ended
    4 ms after it started). ``execution_timeout`` may be seconds (a serialized spec).
    """
    options: list[tuple[float, str]] = []
    if timeout_seconds:
        options.append((time.time() + float(timeout_seconds), f"timeout_seconds={float(timeout_seconds):g}"))
    if execution_timeout is not None:
        budget = (
            execution_timeout
            if isinstance(execution_timeout, timedelta)
            else timedelta(seconds=execution_timeout)
        )
        begin = started if started is not None else time.time()
        options.append((begin + budget.total_seconds(), f"execution_timeout={budget}"))
    if not options:
        return None, None
    return min(options)


#: Seconds past the worker's heartbeat interval that a deferred run's event is held back.
EVENT_HOLD_MARGIN_SECONDS = 5.0


def event_hold_until(hold_seconds: float | None) -> float | None:
    """The earliest wall-clock time the trigger may fire after this task defers; ``None``: at once.

    Airflow 3.2 to 3.3 race (apache/airflow#66374, #67287, #71580): the worker's supervisor reports the
    deferring task's exit as "success" at its next heartbeat tick; if the trigger's event re-queued
    the task before the scheduler processed that stale report, the resumed task is failed ("state
    mismatch"). Holding the event of a run that ended within that window closes it. ``None`` derives
    the window from ``[workers] min_heartbeat_interval`` plus :data:`EVENT_HOLD_MARGIN_SECONDS`.
    """
    if hold_seconds is None:
        from airflow.configuration import conf

        interval = conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0)
        hold_seconds = interval + EVENT_HOLD_MARGIN_SECONDS
    return time.time() + hold_seconds if hold_seconds > 0 else None


def runs_in_process() -> bool:
    """Whether this task runs under ``dag.test()`` (``airflow dags test``): one process, in order.

    There the trigger runs inline after the deferral has been recorded, so the race the event hold
    guards against cannot happen. Detected by the in-process supervisor ``dag.test()`` installs (both
    Airflow 3.1 and 3.3); anything else, including a future Airflow that renames it, holds as usual.
    """
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return type(comms).__name__ == "InProcessSupervisorComms"


def try_key_of(ti: Any) -> str:
    """An idempotency key naming this task instance *and* try: a retry or a re-run still runs.

    ``ti`` is any task-instance-like object: the worker's ``ti`` or the triggerer's ``task_instance``.
    """
    map_index = getattr(ti, "map_index", -1)
    return f"airflow:{ti.dag_id}:{ti.run_id}:{ti.task_id}:{map_index}:try{ti.try_number}"


def audit_env(ti: Any, run_type: str | None) -> dict[str, str]:
    """``ROCKY_RUN_TRIGGER``/``ROCKY_SUBMISSION_ID``: let rocky's run history say who started the run.

    The same values whichever process builds the command (the worker or, for ``start_from_trigger``,
    the triggerer).
    """
    env: dict[str, str] = {}
    kind = (run_type or "").lower().rsplit(".", 1)[-1]
    if kind in _RUN_TRIGGER:
        env["ROCKY_RUN_TRIGGER"] = _RUN_TRIGGER[kind]
    if ti is not None:
        env["ROCKY_SUBMISSION_ID"] = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{getattr(ti, 'map_index', -1)}"
    return env


def run_type_of(context: Any, ti: Any = None) -> str | None:
    """The DAG run's type: from the task context, else the triggerer's task instance.

    The triggerer of ``start_from_trigger`` holds a runtime task instance and no context; its template
    context carries the DAG run. Where neither says, Airflow's own run id prefix
    (``scheduled__...``, ``manual__...``) does.
    """
    dag_run = context.get("dag_run") if context else None
    if dag_run is None and ti is not None and hasattr(ti, "get_template_context"):
        try:
            dag_run = ti.get_template_context().get("dag_run")
        except Exception:  # a partial task instance: fall back to the run id
            dag_run = None
    if dag_run is not None and getattr(dag_run, "run_type", None):
        return str(dag_run.run_type)
    run_id = str(getattr(ti, "run_id", "") or "")
    prefix = run_id.split("__", 1)[0] if "__" in run_id else ""
    return prefix or None
