"""A watch group's node tasks: each ends as its node did in the producer's ``rocky run --dag``.

A node task is the node's ``RockyOperator`` (``RockySeedOperator`` for a seed) whose ``execute``
first reads its producer (``reading.observe``) and does what ``decide`` says:

* **wait**: defer to :class:`~airflow_provider_rocky._watch.trigger.RockyWatchTrigger` (no worker
  slot while the engine runs; under ``dag.test()``, which runs tasks one at a time in one thread and
  would block on a wait, reschedule instead);
* **succeed**: the engine completed the node. The task logs the node's engine lines and succeeds,
  so Airflow records its declared table's asset event, once, in this task, with the run's metadata
  in its ``extra``;
* **fail**: the engine reported the node failed (or never reached it): the node's lines and error,
  in the taxonomy (a state store held by another writer: ``state``; a compile error the engine
  logged for this model: ``compile``; otherwise ``engine``, retryable, because at 1.71 the engine
  only says "1 model(s) failed" and a retry runs the node alone, which reports the real error);
* **run alone**: a retry or a clear of this task (the report was already used), or a node the
  engine skipped after an upstream failure whose Airflow upstream tasks have since succeeded: the
  node's own command (``rocky run --pipeline P --model M``, ``rocky run --pipeline P``, ``rocky
  seed --filter S``), exactly as ``shape="nodes"`` runs it, on the worker or in the triggerer as
  ``deferrable`` says, only once the producer's engine has ended (one writer on the state file).
  A run alone that meets another writer (a second node run alone) waits and tries again within the
  try, without spending a retry;
* **skip**: the producer was skipped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.exceptions import AirflowRescheduleException
from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.sdk import Asset

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._task.context import runs_in_process
from airflow_provider_rocky._watch import reading
from airflow_provider_rocky._watch.decide import Act, Decision, decide
from airflow_provider_rocky._watch.documents import for_the_db
from airflow_provider_rocky._watch.protocol import POLL_SECONDS, Detail
from airflow_provider_rocky.operators.materialize import RockyMaterializingOperator
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.operators.seed import RockySeedOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["RockyWatchNodeOperator", "RockyWatchSeedOperator"]

#: Seconds a node run alone waits before trying again when another writer holds the state file,
#: and how long, from the try's start, it keeps trying.
REASK_SECONDS = 10.0
REASK_BUDGET = timedelta(minutes=30)
#: ``dag.test()``: seconds before a waiting node task is tried again.
IN_PROCESS_WAIT_SECONDS = 1.0
_BUSY = ("locked by another process", "is busy")


class _WatchNode(RockyMaterializingOperator):
    """What both node operators add to their command: the watch, then the command when alone.

    An operator class of its own (Airflow's ``BaseOperator`` machinery wraps every ``__init__`` in
    the hierarchy), placed before the command's operator in each node operator's bases.
    """

    def __init__(
        self,
        *,
        rocky_node_id: str,
        watch_producer: str,
        watch_poll_seconds: float = POLL_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # the node's command operator (RockyOperator, RockySeedOperator)
        self.rocky_node_id = rocky_node_id
        self.watch_producer = watch_producer
        self.watch_poll_seconds = watch_poll_seconds

    # -- the watch --------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Read the producer and act (the engine's own command runs only when the node runs alone)."""
        return self._watch(context)

    def resume_watch(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The trigger saw news for the node: read again (the trigger's read was coarse) and act."""
        return self._watch(context)

    def _where(self, context: Context) -> reading.Where:
        ti = context["ti"]
        return reading.Where(ti.dag_id, ti.run_id, self.watch_producer, -1)

    def _watch(self, context: Context) -> Any:
        where = self._where(context)
        observed = reading.observe(where, self.rocky_node_id, try_number=int(context["ti"].try_number))
        decision = decide(self.rocky_node_id, observed)
        act = decision.act
        if act is Act.WAIT:
            return self._wait(where, observed.taken, decision)
        if act is Act.SKIP:
            raise AirflowSkipException(f"rocky watch: node {self.rocky_node_id}: {decision.reason}")
        if act is Act.RUN_ALONE:
            self.log.info("rocky watch: node %s: %s: running it alone", self.rocky_node_id, decision.reason)
            return self._run_alone(context)
        self._take(context, where, decision)
        if act is Act.SUCCEED:
            return self._succeed(context, decision)
        return self._fail(context, decision)

    def _wait(self, where: reading.Where, taken: str | None, decision: Decision) -> None:
        self.log.info("rocky watch: node %s: %s", self.rocky_node_id, decision.reason)
        if runs_in_process():  # dag.test(): one thread runs every task in turn; let the others run
            later = datetime.now().astimezone() + timedelta(seconds=IN_PROCESS_WAIT_SECONDS)
            raise AirflowRescheduleException(later)  # type: ignore[no-untyped-call]
        from airflow_provider_rocky.triggers.watch import RockyWatchTrigger

        trigger = RockyWatchTrigger(
            where.dag_id,
            where.run_id,
            where.producer,
            self.rocky_node_id,
            map_index=where.map_index,
            taken=taken,
            poll_seconds=self.watch_poll_seconds,
        )
        timeout = getattr(self, "execution_timeout", None)
        self.defer(trigger=trigger, method_name="resume_watch", timeout=timeout)

    def _take(self, context: Context, where: reading.Where, decision: Decision) -> None:
        """Record that this try uses the report (a retry or a clear then runs the node alone)."""
        if decision.generation is not None:
            reading.mark_taken(where, self.rocky_node_id, decision.generation, context["ti"].try_number)

    # -- succeeding and failing on the report -----------------------------------------------------

    def _log_lines(self, detail: Detail | None) -> None:
        if detail is None:
            return
        if detail.lines_dropped:
            self.log.info(
                "rocky watch: (%d earlier engine line(s) of this node not kept)", detail.lines_dropped
            )
        for line in detail.lines:
            self.log.info("%s", line)

    def _succeed(self, context: Context, decision: Decision) -> Any:
        detail = decision.detail
        assert detail is not None
        self._log_lines(detail)
        extra = _event_extra(detail, self.watch_producer)
        declared = [o for o in self.outlets if isinstance(o, Asset)]
        for outlet in declared:
            context["outlet_events"][outlet].extra = extra
            self.log.info("asset event: %s -> %s", detail.node, outlet.uri)
        if not declared:
            self.log.info("rocky watch: node %s declares no table: no asset event", detail.node)
        self.log.info(
            "rocky watch: node %s completed in the engine's run (sub-run %s, layer %s, %s)",
            detail.node,
            detail.engine_run_id or "unknown",
            detail.layer,
            f"{detail.duration_ms} ms" if detail.duration_ms is not None else "reported live",
        )
        summary = {**_summary(detail, self.watch_producer), "assets": [o.uri for o in declared]}
        return for_the_db(summary)

    def _fail(self, context: Context, decision: Decision) -> Any:
        from airflow_provider_rocky._task import secrets

        self._log_lines(decision.detail)
        error = _node_error(self.rocky_node_id, decision)
        if getattr(self, "do_xcom_push", True):
            summary = _summary(decision.detail, self.watch_producer) if decision.detail else {}
            summary.update({"node": self.rocky_node_id, "status": "failed", "category": error.category})
            context["ti"].xcom_push(key="return_value", value=for_the_db(summary))
        raise secrets.storable_error(error)

    # -- running alone ----------------------------------------------------------------------------

    def _run_alone(self, context: Context) -> Any:
        """The node's own command, as ``shape="nodes"`` runs it; a held state file is asked again."""
        while True:
            try:
                return super().execute(context)
            except exc.RockyStateBusyError as err:
                if not self._may_reask(context, err):
                    raise
                if getattr(self, "deferrable", False) and not runs_in_process():
                    return self._defer_reask(context)
                time.sleep(REASK_SECONDS if not runs_in_process() else 0.2)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """A deferred run alone ended: as ``shape="nodes"``, except a held state file is asked again."""
        try:
            return super().execute_complete(context, event)
        except exc.RockyStateBusyError as err:
            if not self._may_reask(context, err):
                raise
            return self._defer_reask(context)

    def rerun_alone(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The wait after a held state file is over: run the node alone again."""
        return self._run_alone(context)

    def _may_reask(self, context: Context, err: exc.RockyError) -> bool:
        start = getattr(context["ti"], "start_date", None)
        if not any(m in err.reason for m in _BUSY) or start is None:
            return False
        if datetime.now(start.tzinfo) - start > REASK_BUDGET:
            return False
        self.log.warning("rocky watch: another writer holds the state file; asking again: %s", err.reason)
        return True

    def _defer_reask(self, context: Context) -> None:
        from airflow_provider_rocky.triggers.watch import RockyWatchTrigger

        where = self._where(context)
        trigger = RockyWatchTrigger(
            where.dag_id, where.run_id, where.producer, self.rocky_node_id, sleep_seconds=REASK_SECONDS
        )
        self.defer(trigger=trigger, method_name="rerun_alone")


def _event_extra(detail: Detail, producer: str) -> dict[str, Any]:
    """The ``extra`` of the node's asset event: what the engine's run said of the node."""
    return {
        "rocky_node": detail.node,
        "engine_run_id": detail.engine_run_id,
        "duration_ms": detail.duration_ms,
        "layer": detail.layer,
        "command": "run --dag",
        "producer_task": producer,
        "reported_live": detail.live,
    }


def _summary(detail: Detail, producer: str) -> dict[str, Any]:
    return {
        "node": detail.node,
        "status": detail.status,
        "engine_run_id": detail.engine_run_id,
        "layer": detail.layer,
        "duration_ms": detail.duration_ms,
        "error": detail.error,
        "producer": producer,
        "generation": detail.generation,
    }


def _node_error(node_id: str, decision: Decision) -> exc.RockyError:
    """The taxonomy's error for a node the engine failed (or never reached)."""
    if decision.run_error is not None:
        found = exc.registered(str(decision.run_error.get("class"))) or exc.RockyEngineError
        message = str(decision.run_error.get("message") or "the producer failed")
        tail = decision.run_error.get("stderr_tail")
        return found(
            f"node {node_id}: the project's `rocky run --dag` failed before the engine reached it: {message}",
            exit_code=decision.run_error.get("exit_code")
            if isinstance(decision.run_error.get("exit_code"), int)
            else None,  # type: ignore[arg-type]
            stderr_tail=[str(line) for line in tail] if isinstance(tail, list) else (),
        )
    detail = decision.detail
    if detail is None:
        return exc.RockyNodeFailedError(f"node {node_id}: {decision.reason}")
    error = detail.error or "node failed"
    if any(marker in error.lower() for marker in _BUSY):
        return exc.RockyStateBusyError(f"node {node_id}: {error}")
    if detail.compile_error:
        return exc.RockyCompileError(f"node {node_id}: {detail.compile_error}")
    run = f" (engine sub-run {detail.engine_run_id})" if detail.engine_run_id else ""
    return exc.RockyNodeFailedError(
        f"node {node_id} failed in the project's `rocky run --dag`{run}: {error}; a retry runs the node "
        "alone and reports the engine's own error"
    )


class RockyWatchNodeOperator(_WatchNode, RockyOperator):
    """A watch group's model, load, replication, snapshot or quality node (``rocky run`` when alone).

    :param rocky_node_id: the engine's node id; :param watch_producer: the producer's task id;
    :param watch_poll_seconds: seconds between two reads of the producer while waiting.
    Every other argument is :class:`~airflow_provider_rocky.operators.rocky.RockyOperator`'s.
    """

    template_fields: Sequence[str] = RockyOperator.template_fields


class RockyWatchSeedOperator(_WatchNode, RockySeedOperator):
    """A watch group's seed node (``rocky seed --filter <seed>`` when alone); arguments as above."""

    template_fields: Sequence[str] = RockySeedOperator.template_fields
