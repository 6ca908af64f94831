"""``RockyMaterializingOperator``: a Rocky command whose successful run lands tables (``run``, ``apply``).

Each table (and partition) the engine materialized becomes one Airflow asset event through the task's
``AssetAlias``, named by :func:`~airflow_provider_rocky.assets.rocky_asset`; declared ``Asset`` outlets
get the matching event's ``extra``. With the OpenLineage provider installed, the same tables are the
task's OpenLineage outputs.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_rocky.assets import default_alias_name, resolve_namespace
from airflow_provider_rocky.operators.base import RockyBaseOperator

if TYPE_CHECKING:  # what a run needs is imported when it runs (``_task/declared.py``)
    from airflow.sdk import Context

    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._verdict import events
    from airflow_provider_rocky._verdict.interpret import Verdict

__all__ = ["RockyMaterializingOperator"]

#: Asset events named one per line in the task log; the summary lists up to ``MAX_ITEMS``.
LOGGED_ASSETS = 50


def _asset_row(spec: events.AssetEventSpec) -> dict[str, Any]:
    from airflow_provider_rocky._verdict import summary

    row: dict[str, Any] = {
        "table": summary.readable_table(str(spec.extra.get("target_table") or "")),
        "uri": spec.uri,
    }
    if spec.partition_key is not None:
        row["partition_key"] = spec.partition_key
    return row


class RockyMaterializingOperator(RockyBaseOperator):
    """A command that materializes tables: asset events and lineage for what landed.

    :param asset_namespace: the warehouse namespace of the Asset URIs (default: the connection's,
        else ``rocky://default``); see docs/assets.md. Checked at DAG parse time (no I/O).
    :param default_catalog: the catalog of tables the engine names without one (``.schema.table``);
        default: the connection's, else what the namespace implies (DuckDB: the file's database).
    :param asset_alias: the ``AssetAlias`` the events go through (default ``rocky__<dag>__<task>``).
    :param emit_assets: ``False`` records no asset event through the alias (thousands of tables:
        docs/assets.md); declared ``outlets`` still get theirs, and one whose table failed none.
    """

    def __init__(
        self,
        *,
        asset_namespace: str | None = None,
        default_catalog: str | None = None,
        asset_alias: str | None = None,
        emit_assets: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.asset_namespace = asset_namespace
        self.default_catalog = default_catalog
        self._check_namespace()
        self.emit_assets = emit_assets
        #: Declared at parse time (Airflow requires it); runtime events go through it.
        self.asset_alias: AssetAlias | None = None
        if emit_assets:
            dag_id = self.dag.dag_id if self.has_dag() else ""  # type: ignore[no-untyped-call]
            self.asset_alias = AssetAlias(asset_alias or default_alias_name(dag_id, self.task_id))
            if self.asset_alias not in self.outlets:  # a mapped task's came through partial()
                self.outlets = [*self.outlets, self.asset_alias]
        self._asset_specs: list[events.AssetEventSpec] = []

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """``.partial(...)``: declare the alias now, at parse time, as ``__init__`` does for a task.

        A mapped task's ``__init__`` runs only on the worker, so without this Airflow would not know
        the alias until the first mapped tasks finished, and those create it at the same moment:
        Airflow 3.3.2 failed one of 20 (``UniqueViolation`` on ``idx_asset_alias_name_unique``,
        ``make e2e-distributed``). Declared here, the dag-processor creates it. An ``asset_alias`` or
        ``emit_assets`` given to ``expand`` instead is not known yet: the default name is declared.
        """
        made = super().partial(**kwargs)
        if kwargs.get("emit_assets", True):
            dag = made.kwargs.get("dag")
            dag_id = dag.dag_id if dag is not None else ""
            alias = AssetAlias(
                kwargs.get("asset_alias") or default_alias_name(dag_id, made.kwargs["task_id"])
            )
            outlets = list(made.kwargs.get("outlets") or [])
            if alias not in outlets:
                made.kwargs["outlets"] = [*outlets, alias]
        return made

    def _check_namespace(self) -> None:
        """A namespace written in the DAG is checked when the DAG is parsed: pure parsing, no I/O."""
        if self.asset_namespace is None:
            return
        try:
            resolve_namespace(self.asset_namespace, self.default_catalog)
        except ValueError as err:
            raise ValueError(f"{self.task_id}: asset_namespace is invalid: {err}") from None

    def on_success(self, context: Context, verdict: Verdict, record: RunRecord) -> dict[str, Any]:
        """One asset event per materialized table (and partition), only for runs that succeeded.

        Each event's URI is logged and listed in the summary (``assets``): the URI a downstream DAG
        schedules on, next to the table name the engine printed, so a mismatch is visible at once.
        A declared outlet whose table failed gets no event, whatever ``emit_assets`` says.
        """
        from airflow_provider_rocky._task import secrets
        from airflow_provider_rocky._verdict import events

        if verdict.outcome == "skipped":
            self._say_skipped(verdict)
        if verdict.result is None:
            return {}
        if self._naming.get("reported_for"):
            self.log.info(
                "These are the tables of rocky run %s: a copy of this try ran it, and its event was lost in "
                "a triggerer hand-off (docs/executors.md, Triggerer HA)",
                self._naming["reported_for"],
            )
        try:
            specs = self._specs(verdict, record)
        except ValueError as err:  # a namespace that cannot name these tables: say so, keep the run
            self._drop_failed_outlets(verdict, None)
            self.log.error(
                "No asset events: %s (set asset_namespace or default_catalog on the operator or connection)",
                err,
            )
            return {"assets": [], "assets_total": 0, "assets_error": str(err)}
        # JSONB refuses NUL; a secret the engine printed into a table's extra is redacted like XCom.
        specs = [dataclasses.replace(spec, extra=secrets.for_the_db(spec.extra)) for spec in specs]
        self._drop_failed_outlets(verdict, specs)
        declared = len(events.match_outlets(self.outlets, specs))
        if self.asset_alias is None:  # emit_assets=False: only the declared outlets, with their extra
            events.emit_declared(context["outlet_events"], self.outlets, specs)
            self.log.info("Recorded %d asset event(s) for declared outlets (emit_assets=False)", declared)
            return {}
        count = events.emit(context["outlet_events"], self.asset_alias, self.outlets, specs)
        self._asset_specs = specs
        self.log.info(
            "Recorded %d asset event(s): %d through AssetAlias %r, %d for declared outlets",
            count + declared,
            count,
            self.asset_alias.name,
            declared,
        )
        return self._report_assets(specs)

    def _say_skipped(self, verdict: Verdict) -> None:
        """``SkippedIdempotent`` with no record of the run that did the work: never a silent green.

        The engine's skipped result lists no materializations, and ``rocky history`` names a run's
        models by their last asset-key part only (no catalog, schema or partition), so the tables that
        run landed cannot be named here; the deferred path reports them when the copy that ran them
        recorded them first (``_task/handoff.py``).
        """
        result = verdict.result
        run_id = getattr(result, "skipped_by_run_id", None) or "?"
        alias = f" through AssetAlias {self.asset_alias.name!r}" if self.asset_alias is not None else ""
        declared = [o.uri for o in self.outlets if isinstance(o, Asset)]
        self.log.warning(
            "rocky did not run: the work of idempotency key %r was done by rocky run %s "
            "(SkippedIdempotent), and which tables that run landed is not known here (the engine's result "
            "of a skipped run lists none; rocky history names models, not tables): no asset event is "
            "recorded%s for them%s. See `rocky history` for run %s and trigger what waits on its tables.",
            getattr(result, "idempotency_key", None),
            run_id,
            alias,
            f"; the declared outlets {declared} get theirs" if declared else "",
            run_id,
        )

    def _drop_failed_outlets(self, verdict: Verdict, specs: list[events.AssetEventSpec] | None) -> None:
        """In a run where tables failed, a declared outlet that did not land gets no event.

        Airflow records an event for every declared ``Asset`` of a task that succeeds, and a partial
        run succeeds. The engine's ``errors[]`` do not reliably name their tables (``[]``,
        ``[pipeline]``, ``["<compile>"]``: contract §3.4), so, as the contract advises, failed means
        declared minus materialized: this runtime copy of the task (Airflow copies it to execute)
        drops those outlets. A run without failures keeps every declared event, unchanged tables too.
        ``specs=None`` (what landed cannot be named): every declared outlet is dropped, failing closed.
        """
        result = verdict.result
        if not (getattr(result, "tables_failed", 0) or getattr(result, "errors", None)):
            return
        landed = {spec.uri for spec in specs or ()}
        dropped = [o for o in self.outlets if isinstance(o, Asset) and o.uri not in landed]
        for outlet in dropped:
            self.log.warning(
                "No asset event for declared outlet %s: it did not land in this partial run", outlet.uri
            )
        if dropped:
            self.outlets = [o for o in self.outlets if o not in dropped]

    def _specs(self, verdict: Verdict, record: RunRecord) -> list[events.AssetEventSpec]:
        """The run's events from stdout, plus the tables only Pipes reported."""
        from airflow_provider_rocky._verdict import events

        namespace, catalog = self._naming.get("asset_namespace"), self._naming.get("default_catalog")
        specs = events.asset_events(
            verdict.result, namespace=namespace, default_catalog=catalog, observations=verdict.observations
        )
        if record.pipes is None:
            return specs
        return events.merge_materializations(  # a table is never emitted twice
            specs,
            record.pipes.materializations(),
            namespace=namespace,
            default_catalog=catalog,
            run_status=verdict.result.status,
            engine_version=verdict.result.version,
        )

    def _report_assets(self, specs: list[events.AssetEventSpec]) -> dict[str, Any]:
        """Log ``table -> URI`` per event (the first :data:`LOGGED_ASSETS`); the summary's rows."""
        from airflow_provider_rocky._verdict import summary

        rows = [_asset_row(spec) for spec in specs]
        for row in rows[:LOGGED_ASSETS]:
            at = f" [{row['partition_key']}]" if "partition_key" in row else ""
            self.log.info("asset event: %s%s -> %s", row["table"], at, row["uri"])
        if len(rows) > LOGGED_ASSETS:
            self.log.info("... and %d more asset event(s) (XCom summary: assets)", len(rows) - LOGGED_ASSETS)
        added: dict[str, Any] = {}
        summary.capped(added, "assets", rows)
        return added

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage outputs = the tables this run materialized (only with the OpenLineage provider)."""
        from airflow_provider_rocky._verdict.lineage import operator_lineage

        return operator_lineage(self._asset_specs)
