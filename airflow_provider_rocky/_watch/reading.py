"""Reading the producer from a node task (worker or triggerer): its state and its XCom documents.

Through the Task SDK's own calls (``RuntimeTaskInstance.get_task_states``, ``XCom.get_one``,
``XCom.set``), which work on a worker and, from a thread, in the triggerer of Airflow 3.1 and 3.3
(``trigger.py`` runs them through ``asgiref.sync_to_async``, as Airflow 3.1's trigger channel needs).

Every observation reads the producer's state before and after its documents and is retried when the
two differ: a producer try that starts in between (and clears its predecessor's XComs) can never
make a document of one try look like another's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._watch.decide import ACTIVE, TERMINAL, Observed, plain_state
from airflow_provider_rocky._watch.protocol import (
    HEAD_KEY,
    Detail,
    Head,
    detail_key,
    taken_generation,
    taken_key,
    taken_value,
)

#: Reads of one observation before giving up on a producer whose state keeps changing.
ATTEMPTS = 3


@dataclass(frozen=True)
class Where:
    """The producer task instance a node task reports on (JSON-native: trigger kwargs)."""

    dag_id: str
    run_id: str
    producer: str
    map_index: int = -1


def producer_state(where: Where) -> str | None:
    """The producer task instance's state (``None``: not scheduled yet)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = RuntimeTaskInstance.get_task_states(
        dag_id=where.dag_id, task_ids=[where.producer], run_ids=[where.run_id]
    )
    state = (states.get(where.run_id) or {}).get(where.producer)
    return None if state is None else str(getattr(state, "value", state))


def read_xcom(where: Where, key: str) -> Any:
    """One XCom of the producer (``None`` when absent)."""
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_one(
        key=key, dag_id=where.dag_id, task_id=where.producer, run_id=where.run_id, map_index=where.map_index
    )


def has_xcom(where: Where, key: str) -> bool:
    """Whether the producer has an XCom ``key`` (a worker's count; a missing one is not an error).

    ``XCom.get_one`` of an absent key works too, but Airflow's API client logs it as an error
    ("XCom not found") in the task's log: a node task asks about keys that are usually absent.
    """
    from airflow.sdk.execution_time.comms import GetXComCount
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    reply = SUPERVISOR_COMMS.send(
        GetXComCount(key=key, dag_id=where.dag_id, run_id=where.run_id, task_id=where.producer)
    )
    return bool(getattr(reply, "len", 0))


def _reports(state: str | None) -> bool:
    """Whether a producer in ``state`` has (or had) a head of the current try to read."""
    return plain_state(state) in ACTIVE | TERMINAL


def observe(
    where: Where, node_id: str, *, try_number: int = 1, clock: Callable[[], float] = time.time
) -> Observed:
    """State, head, this node's detail and the generation an earlier try took: one consistent read.

    The generation taken is looked up only for a later try (a first try has no earlier one).
    """
    state = producer_state(where)
    for _ in range(ATTEMPTS):
        head = detail = taken = None
        ended = plain_state(state) in TERMINAL  # an ended producer has its head, but for a rare failure
        if _reports(state) and (ended or has_xcom(where, HEAD_KEY)):
            head = Head.read(read_xcom(where, HEAD_KEY))
        if head is not None and node_id in head.nodes:  # written before the head named it
            detail = Detail.read(read_xcom(where, detail_key(node_id)))
        if try_number > 1 and has_xcom(where, taken_key(node_id)):
            taken = taken_generation(read_xcom(where, taken_key(node_id)))
        after = producer_state(where)
        if after == state:
            return Observed(state, head, detail, taken, clock())
        state = after
    return Observed("changing", None, None, None, clock())  # decided as a wait


def poll(where: Where, clock: Callable[[], float] = time.time) -> Observed:
    """The triggerer's cheap read: state and head only (the node task reads the rest on resume).

    The triggerer's channel has no count: the head is read only once the producer has one.
    """
    state = producer_state(where)
    for _ in range(ATTEMPTS):
        head = Head.read(read_xcom(where, HEAD_KEY)) if _reports(state) else None
        after = producer_state(where)
        if after == state:
            return Observed(state, head, None, None, clock())
        state = after
    return Observed("changing", None, None, None, clock())


def mark_taken(where: Where, node_id: str, generation: str, try_number: int) -> None:
    """Record that this try acted on ``generation``'s report for the node (on the producer's XCom)."""
    from airflow.sdk.execution_time.xcom import XCom

    XCom.set(
        key=taken_key(node_id),
        value=taken_value(generation, try_number),
        dag_id=where.dag_id,
        task_id=where.producer,
        run_id=where.run_id,
        map_index=where.map_index,
    )
