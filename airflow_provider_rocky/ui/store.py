"""What the Rocky view reads from Airflow's metadata DB, read-only, in one short session per request.

Rows read: the task instance (its operator, state, try), its XComs ``return_value`` (the bounded
summary every Rocky operator pushes, also for failed tries) and ``rocky_result`` (the full result,
only with ``push_full_result=True``), the ids of the assets the summary names (to link each table to
Airflow's asset page) and, for plans, the human-in-the-loop steps of the same DAG run (the approval).
The values are read straight from the XCom table, as Airflow's own REST API does: a custom XCom
backend that stores references there is not followed (the view then says it found no summary).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Approval", "TaskKey", "TaskRecord", "load"]

#: XCom keys the view reads: the summary and, when the task pushed it, the full result.
SUMMARY_KEY = "return_value"
FULL_RESULT_KEY = "rocky_result"
#: Operator classes whose summary is a plan's (their approval steps are looked up).
PLAN_OPERATORS = frozenset({"RockyPlanOperator"})


@dataclass(frozen=True)
class TaskKey:
    """One task instance, as the UI's URL names it (``map_index`` -1 for an unmapped task)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


@dataclass(frozen=True)
class Approval:
    """A human-in-the-loop step of the run (Airflow 3.1+ ``hitl_detail``), e.g. an ``ApprovalOperator``."""

    task_id: str
    map_index: int
    state: str | None
    subject: str
    options: list[str]
    chosen: list[str] | None
    responded_by: str | None
    responded_at: datetime | None


@dataclass
class TaskRecord:
    """What the DB holds for one task instance (``found`` is False when there is no such instance)."""

    key: TaskKey
    found: bool = False
    operator: str | None = None
    state: str | None = None
    try_number: int | None = None
    summary: Any = None
    full_result: Any = None
    asset_ids: dict[str, int] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)


def decode(value: Any) -> Any:
    """An XCom column value as JSON data: stored as a JSON string by the Task SDK, or as JSON itself."""
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load(key: TaskKey, *, wanted_uris: bool = True) -> TaskRecord:
    """Read the task instance, its Rocky XComs, the assets and approvals they point at (one session)."""
    from airflow.utils.session import create_session

    record = TaskRecord(key)
    with create_session() as session:
        ti = _task_instance(session, key)
        if ti is None:
            return record
        record.found = True
        record.operator, record.state, record.try_number = ti
        xcoms = _xcoms(session, key)
        record.summary = xcoms.get(SUMMARY_KEY)
        record.full_result = xcoms.get(FULL_RESULT_KEY)
        if wanted_uris:
            record.asset_ids = _asset_ids(session, _uris(record.summary))
        if record.operator in PLAN_OPERATORS or _is_plan(record.summary):
            record.approvals = approvals(session, key)
    return record


def _task_instance(session: Any, key: TaskKey) -> tuple[str | None, str | None, int | None] | None:
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    row = session.execute(
        select(TI.operator, TI.state, TI.try_number).where(
            TI.dag_id == key.dag_id,
            TI.run_id == key.run_id,
            TI.task_id == key.task_id,
            TI.map_index == key.map_index,
        )
    ).first()
    if row is None:
        return None
    state = getattr(row.state, "value", row.state)
    return row.operator, None if state is None else str(state), row.try_number


def _xcoms(session: Any, key: TaskKey) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(XComModel.key, XComModel.value).where(
            XComModel.dag_id == key.dag_id,
            XComModel.run_id == key.run_id,
            XComModel.task_id == key.task_id,
            XComModel.map_index == key.map_index,
            XComModel.key.in_([SUMMARY_KEY, FULL_RESULT_KEY]),
        )
    ).all()
    return {row.key: decode(row.value) for row in rows}


def _uris(summary: Any) -> list[str]:
    """The asset URIs the summary lists (``assets``: at most 100, one per table and partition)."""
    if not isinstance(summary, dict) or not isinstance(summary.get("assets"), list):
        return []
    return [
        row["uri"] for row in summary["assets"] if isinstance(row, dict) and isinstance(row.get("uri"), str)
    ]


def _asset_ids(session: Any, uris: Iterable[str]) -> dict[str, int]:
    """Airflow's id of each asset (its page is ``/assets/<id>``); URIs Airflow does not know are left out."""
    wanted = sorted(set(uris))
    if not wanted:
        return {}
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    rows = session.execute(select(AssetModel.uri, AssetModel.id).where(AssetModel.uri.in_(wanted))).all()
    return {row.uri: int(row.id) for row in rows}


def _is_plan(summary: Any) -> bool:
    return isinstance(summary, dict) and "plan_id" in summary


def approvals(session: Any, key: TaskKey) -> list[Approval]:
    """The run's human-in-the-loop steps (what a reviewer answered, or that nobody has yet)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    rows = session.execute(
        select(
            TI.task_id,
            TI.map_index,
            TI.state,
            HITLDetail.subject,
            HITLDetail.options,
            HITLDetail.chosen_options,
            HITLDetail.responded_by,
            HITLDetail.responded_at,
        )
        .join(HITLDetail, HITLDetail.ti_id == TI.id)
        .where(TI.dag_id == key.dag_id, TI.run_id == key.run_id)
        .order_by(TI.task_id, TI.map_index)
        .limit(20)
    ).all()
    return [
        Approval(
            task_id=row.task_id,
            map_index=row.map_index,
            state=None if row.state is None else str(getattr(row.state, "value", row.state)),
            subject=str(row.subject),
            options=[str(option) for option in (row.options or [])],
            chosen=None if row.chosen_options is None else [str(c) for c in row.chosen_options],
            responded_by=_responder(row.responded_by),
            responded_at=row.responded_at,
        )
        for row in rows
    ]


def _responder(value: Any) -> str | None:
    """``responded_by`` is ``{"id": ..., "name": ...}`` (3.1.x and 3.3); shown by name."""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or "") or None
    return None if value is None else str(value)
