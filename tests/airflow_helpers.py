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
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
            .order_by(AssetEvent.id)
        ).all()
        return [(event.asset.uri, dict(event.extra or {})) for event in events]


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
