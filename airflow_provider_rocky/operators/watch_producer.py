"""The watch group's producer: the project's ``rocky run --dag``, reported node by node as it runs.

One engine process runs the whole project: the engine's own order, its parallelism (``parallel``)
and one writer to the state file (so the group needs no state pool for it). While it runs, the
producer reads its stderr (``tracker.py``) and publishes each node's status in its XCom
(``publisher.py``, ``protocol.py``); at the end it applies the ``DagRunOutput`` (authoritative) and
publishes the final report.

Why it runs on the worker, whatever ``deferrable`` says: its job while the engine runs is to
publish, and a worker publishes through its own task's API channel, one round-trip at a time. One
worker slot per project run, for the one process that does the work; the node tasks, which are
many, wait in the triggerer.

Its outcome: **success once the engine printed its ``DagRunOutput``, even with failed nodes.** A
failed node is its node task's failure (retried alone there); failing the producer too would make
its retry run the whole project again for one node. It fails on a run-level failure only (the
engine stopped before a ``DagRunOutput``: config, compile, a missing binary, a signal, a timeout);
its error is in the final report, so every node the run never reached fails with it, and its retry
runs the whole project again (the node tasks wait for it).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky.exceptions import RockyError
from airflow_provider_rocky.operators.run_dag import RockyRunDagOperator

if TYPE_CHECKING:  # the rest is imported when the task runs (parse cost: ``_task/declared.py``)
    from airflow.sdk import Context

    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._watch.tracker import WatchTracker

__all__ = ["RockyWatchProducerOperator"]


class RockyWatchProducerOperator(RockyRunDagOperator):
    """``rocky run --dag`` for a ``shape="watch"`` group: its nodes' statuses published as they happen.

    Arguments are :class:`~airflow_provider_rocky.operators.run_dag.RockyRunDagOperator`'s (the
    partition selection, ``lookback``, ``parallel``; no outlets: each node task records its own
    table's event). ``deferrable`` is ignored (the module docstring says why).
    """

    ui_color = "#8d99ae"

    def execute(self, context: Context) -> Any:
        """Run the engine here, publishing; success once it printed a ``DagRunOutput``."""
        from airflow_provider_rocky._watch.documents import error_document, for_the_db
        from airflow_provider_rocky._watch.publisher import publish
        from airflow_provider_rocky._watch.tracker import WatchTracker

        ti = context["ti"]
        tracker = WatchTracker(uuid.uuid4().hex, int(ti.try_number))

        def push(key: str, value: Any) -> None:
            ti.xcom_push(key=key, value=for_the_db(value))

        publish(tracker, push)  # the generation starts: its first head replaces nothing (XCom was cleared)
        try:
            return self._watched(context, tracker, push)
        except RockyError as err:
            if not tracker.final:
                tracker.fail(error_document(err))
                publish(tracker, push)
            raise
        except BaseException as err:  # anything else still ends the report, then propagates
            if not tracker.final:
                tracker.fail(
                    {"class": "RockyError", "category": "engine", "message": f"the producer failed: {err!r}"}
                )
                publish(tracker, push)
            raise

    def _watched(self, context: Context, tracker: WatchTracker, push: Any) -> Any:
        from airflow_provider_rocky._engine.logsink import log_sink
        from airflow_provider_rocky._engine.run import EngineRun
        from airflow_provider_rocky._task import secrets
        from airflow_provider_rocky._task.context import runs_in_process
        from airflow_provider_rocky._watch.publisher import Publisher

        started = time.time()
        try:
            built = self.build(context, started)
        except RockyError as err:  # refused before anything was spawned: still say why in XCom
            self._push_summary(context, self._refused(err))
            raise secrets.storable_error(err) from None
        self._naming = built.carry()
        command = built.command
        if self.deferrable:
            self.log.info("rocky watch: the producer runs on the worker (it publishes as the engine runs)")
        self.log.info("rocky command: %s (cwd=%s)", command.shown(), command.cwd or ".")
        sink = log_sink(self.log)

        def on_line(line: Any) -> None:
            sink(line)
            tracker.feed(line)

        self._run = EngineRun(command, self._limits(built.deadline, built.deadline_reason), on_line)
        publisher = None if runs_in_process() else Publisher(tracker, push, on_error=self._publish_failed)
        if publisher is not None:
            publisher.start()
        budget = None if self.execution_timeout is None else str(self.execution_timeout)
        try:
            record = self._run.run_in_task(execution_timeout=budget)
        finally:
            self._run = None
            if publisher is not None:
                publisher.stop()
        return self._report(context, tracker, push, record, command.redacted())

    def _publish_failed(self, err: BaseException) -> None:
        self.log.warning("rocky watch: could not publish the nodes' progress (retrying): %s", err)

    def _report(
        self, context: Context, tracker: WatchTracker, push: Any, record: RunRecord, argv: Any
    ) -> Any:
        from airflow_provider_rocky._task import secrets
        from airflow_provider_rocky._watch.documents import error_document
        from airflow_provider_rocky._watch.publisher import publish

        verdict, compact = self._read(record, argv)
        result = verdict.result
        if result is None:  # no DagRunOutput: a run-level failure, every unreported node gets it
            error = verdict.error or RockyError("rocky run --dag printed no DagRunOutput")
            tracker.fail(error_document(error))
            publish(tracker, push)
            self._push_summary(context, compact)
            raise secrets.storable_error(error)
        tracker.finish(result.nodes)
        publish(tracker, push)
        for problem in tracker.contradictions:
            self.log.error("rocky watch: the engine's final report differs from its stream: %s", problem)
        if result.failed:
            self.log.warning(
                "rocky watch: %d node(s) failed: their node tasks fail; a retry of one runs that node alone",
                result.failed,
            )
        return secrets.for_the_db({**compact, "generation": tracker.generation})
