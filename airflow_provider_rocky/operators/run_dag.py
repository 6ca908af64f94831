"""``RockyRunDagOperator``: the whole Rocky project in one task, run by the engine (``rocky run --dag``).

What ``RockyTaskGroup(shape="one_run")`` renders. The engine runs every node of its own DAG, in
dependency order (seeds, replication, models, snapshots, quality), and prints one ``DagRunOutput``
with a status per node (``_verdict/dag_run.py``). A failed node fails the task, naming the node.

The output names nodes, not tables, so the task's asset events are its declared outlets: each node's
table, declared at parse time (``node_outlets``), gets its event only when that node ``completed``;
the outlets of the other nodes are dropped from this run's copy of the task (and said at WARNING).
A failed task records no event at all (Airflow records outlet events for successful tasks only); the
XCom summary still lists the nodes that completed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from airflow_provider_rocky._engine.args.base import task_template_fields
from airflow_provider_rocky._engine.args.dag_run import DagRunArgs
from airflow_provider_rocky._task.declared import LazyCommand
from airflow_provider_rocky.operators.base import RockyBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._verdict.interpret import Verdict

__all__ = ["RockyRunDagOperator"]


class RockyRunDagOperator(RockyBaseOperator):
    """``rocky run --dag [partition selection] [--lookback N] [--parallel N]``.

    :param partition: / ``partition_from`` + ``partition_to`` / ``latest`` / ``missing``: the
        partition selection every partitioned model of the DAG runs (templated).
    :param lookback: ``--lookback``; :param parallel: ``--parallel``, a bound on how many nodes run at
        once (unset: the engine's unbounded fan-out).
    :param node_outlets: node id → the URIs of the outlets (``Asset``) that node writes; an outlet of
        a node that did not complete gets no event.

    ``rocky run --dag`` takes no other selection: ``filter``, ``pipeline``, ``model``, a governance
    override, an idempotency key, resume, shadow and defer are ignored or refused by the engine under
    ``--dag`` (``_engine/args/dag_run.py`` says which, and where), so this operator does not take them.
    """

    command = LazyCommand("run_dag", DagRunArgs)
    template_fields: Sequence[str] = task_template_fields(DagRunArgs)

    def __init__(
        self,
        *,
        partition: str | None = None,
        partition_from: str | None = None,
        partition_to: str | None = None,
        latest: bool = False,
        missing: bool = False,
        lookback: int | str | None = None,
        parallel: int | str | None = None,
        node_outlets: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.partition = partition
        self.partition_from = partition_from
        self.partition_to = partition_to
        self.latest = latest
        self.missing = missing
        self.lookback = lookback
        self.parallel = parallel
        self.node_outlets = {str(node): list(uris) for node, uris in (node_outlets or {}).items()}
        self._check_static_arguments()

    def on_success(self, context: Context, verdict: Verdict, record: RunRecord) -> dict[str, Any]:
        """Keep the declared outlets of completed nodes, with the node's status as the event's extra."""
        from airflow_provider_rocky._verdict.dag_run import completed_nodes
        from airflow_provider_rocky._verdict.summary import capped

        done = completed_nodes(verdict.result)
        by_node = {n.id: n for n in verdict.result.nodes}
        owner = {uri: node for node, uris in self.node_outlets.items() for uri in uris}
        dropped = [
            o for o in self.outlets if isinstance(o, Asset) and o.uri in owner and owner[o.uri] not in done
        ]
        for outlet in dropped:
            node = owner[outlet.uri]
            status = by_node[node].status if node in by_node else "absent from the engine's DAG"
            self.log.warning(
                "No asset event for %s: its node %s did not complete (%s)", outlet.uri, node, status
            )
        self.outlets = [o for o in self.outlets if o not in dropped]
        rows = []
        for outlet in self.outlets:
            if isinstance(outlet, Asset) and outlet.uri in owner:
                node = by_node[owner[outlet.uri]]
                extra = {
                    "rocky_node": node.id,
                    "duration_ms": node.duration_ms,
                    "engine_version": verdict.result.version,
                }
                context["outlet_events"][outlet].extra = extra
                rows.append({"node": node.id, "uri": outlet.uri})
                self.log.info("asset event: %s -> %s", node.id, outlet.uri)
        added: dict[str, Any] = {}
        capped(added, "assets", rows)
        return added
