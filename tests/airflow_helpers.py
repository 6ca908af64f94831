"""Run a test DAG with ``dag.test()`` and read what it left in the real metadata DB."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass
class DagRunResult:
    state: str
    task_state: str | None
    summary: Any
    xcoms: dict[str, Any]
    run_id: str
    dag_id: str


def run_dag(module: str, dag_id: str, task_id: str = "rocky_run", **test_kwargs: Any) -> DagRunResult:
    """``dag.test()`` the DAG ``dag_id`` defined in tests/dags/<module>.py, then read state and XCom."""
    dag = getattr(importlib.import_module(module), dag_id)
    dr = dag.test(**test_kwargs)
    return read_run(dag_id, dr.run_id, task_id)


def read_run(dag_id: str, run_id: str, task_id: str) -> DagRunResult:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        ti = dr.get_task_instance(task_id, session=session)
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id)).all()
        xcoms = {row.key: XComModel.deserialize_value(row) for row in rows}
        return DagRunResult(
            state=str(dr.state),
            task_state=str(ti.state) if ti is not None and ti.state is not None else None,
            summary=xcoms.get("return_value"),
            xcoms=xcoms,
            run_id=run_id,
            dag_id=dag_id,
        )


def asset_events(dag_id: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(asset uri, extra) of every asset event the run emitted, in id order."""
    return [(uri, extra) for uri, _source, extra in asset_event_rows(dag_id, run_id)]


def clear_and_continue(dag: Any, run_id: str, task_ids: list[str], *, downstream: bool = False) -> str:
    """Clear ``task_ids`` of a finished ``dag.test()`` run (as the UI's Clear does) and run it on.

    ``dag.test()`` makes a new run each time; a clear happens within one run, so this continues that
    run with ``dag.test()``'s own loop (its ``_run_task``: tasks run one at a time, in process).
    """
    import time

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    try:
        from airflow.serialization.serialized_objects import DagSerialization as serializer
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serialized_objects import SerializedDAG as serializer  # type: ignore[no-redef]

    scheduler_dag = serializer.deserialize_dag(serializer.serialize_dag(dag))
    wanted = set(task_ids)
    for task_id in task_ids if downstream else ():
        wanted |= dag.get_task(task_id).get_flat_relative_ids(upstream=False)
    query = select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
    with create_session() as session:
        dr = session.scalars(query).one()
        dr.dag = scheduler_dag
        tis = [ti for ti in dr.get_task_instances(session=session) if ti.task_id in wanted]
        clear_task_instances(tis, session, dag_run_state=DagRunState.RUNNING)
        session.commit()
        for _ in range(300):
            session.expire_all()
            dr = session.scalars(query).one()
            dr.dag = scheduler_dag
            if dr.state != DagRunState.RUNNING:
                break
            schedulable, _ = dr.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [
                t for t in dr.get_task_instances(session=session) if t.state == TaskInstanceState.SCHEDULED
            ]
            if not scheduled:
                time.sleep(0.5)
            for ti in scheduled:
                try:
                    _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
                except Exception:  # dag.test() logs and goes on; the test reads the states
                    continue
        return str(dr.state)


def task_states(dag_id: str, run_id: str) -> dict[str, tuple[str | None, int]]:
    """task id (group prefix dropped) → (state, try number) of a run's task instances."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        return {
            ti.task_id.split(".", 1)[-1]: (str(ti.state) if ti.state is not None else None, ti.try_number)
            for ti in dr.get_task_instances(session=session)
        }


def xcom_of(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    return read_run(dag_id, run_id, task_id).xcoms.get(key)


def asset_event_rows(dag_id: str, run_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(asset uri, source task id, extra) of every asset event the run emitted, in id order."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
            .order_by(AssetEvent.id)
        ).all()
        return [(e.asset.uri, str(e.source_task_id), dict(e.extra or {})) for e in events]


def outlet_events() -> Any:
    """An empty ``context["outlet_events"]``, as the task runner gives ``execute`` (for direct calls)."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return OutletEventAccessors()


class RecordingTI:
    """The ``ti`` of a context: records ``xcom_push`` calls."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def trigger_of(op: Any, **context: Any) -> Any:
    """Build and render the trigger the way the triggerer does for a start-from-trigger task."""
    from types import SimpleNamespace

    from airflow_provider_rocky.triggers.rocky import RockyRunTrigger
    from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

    args = op.start_trigger_args
    assert op.start_from_trigger and args is not None
    trigger = RockyRunTrigger(**args.trigger_kwargs)
    ti = SimpleNamespace(dag_id="d", run_id="manual__1", task_id="t", map_index=-1, try_number=3, task=op)
    trigger.task_instance = ti  # Airflow then picks the fields to render
    if AIRFLOW_V_3_3_PLUS:  # Airflow < 3.3 renders nothing in the triggerer
        trigger.render_template_fields(context=context)
    return trigger
