"""``RockyOperator``: run ``rocky run`` as an Airflow task, on the worker or under the triggerer.

The command is declared (:data:`~airflow_provider_rocky._task.commands.RUN`, imported when a task
runs: ``_task/declared.py``); spawning, both modes,
the interpreter, XCom and the asset events are the shared path of
:class:`~airflow_provider_rocky.operators.base.RockyBaseOperator` and
:class:`~airflow_provider_rocky.operators.materialize.RockyMaterializingOperator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_rocky._engine.args.base import task_template_fields
from airflow_provider_rocky._engine.args.run import RunArgs
from airflow_provider_rocky._task.declared import LazyCommand
from airflow_provider_rocky.operators.base import FULL_RESULT_KEY, ON_KILL_GRACE_SECONDS
from airflow_provider_rocky.operators.materialize import RockyMaterializingOperator

__all__ = ["FULL_RESULT_KEY", "ON_KILL_GRACE_SECONDS", "RockyOperator"]


class RockyOperator(RockyMaterializingOperator):
    """Run ``rocky run`` with live logs, the typed result in XCom, and categorized failures.

    Run arguments mirror ``rocky_sdk.RockyClient.run`` (``filter``, ``governance_override``, ``run_models``,
    ``partition``, ``partition_from``/``partition_to``, ``latest``, ``missing``, ``lookback``, ``parallel``,
    ``pipeline``, ``shadow_suffix``, ``idempotency_key``) plus ``model`` (``run_model``), ``resume_latest``
    (``resume_run``), ``defer_upstream``/``defer_to`` (``--defer``/``--defer-to``; not called ``defer``,
    which is ``BaseOperator.defer``). The task-level arguments (connection, overrides, ``env_vars``,
    time budget, modes) are :class:`~airflow_provider_rocky.operators.base.RockyBaseOperator`'s; the
    asset arguments :class:`~airflow_provider_rocky.operators.materialize.RockyMaterializingOperator`'s.

    :param fail_on_partial: raise ``category == "partial"`` (after XCom is pushed) when some tables failed;
        by default a partial run succeeds with a loud warning, as dagster-rocky does.
    """

    command = LazyCommand("run", RunArgs)
    template_fields: Sequence[str] = task_template_fields(RunArgs)
    template_fields_renderers: ClassVar[dict[str, str]] = {"governance_override": "json", "env_vars": "json"}

    def __init__(
        self,
        *,
        filter: str | None = None,
        governance_override: dict[str, Any] | str | None = None,
        run_models: bool = False,
        partition: str | None = None,
        partition_from: str | None = None,
        partition_to: str | None = None,
        latest: bool = False,
        missing: bool = False,
        lookback: int | str | None = None,
        parallel: int | str | None = None,
        pipeline: str | None = None,
        model: str | None = None,
        shadow_suffix: str | None = None,
        idempotency_key: str | None = None,
        resume_latest: bool = False,
        defer_upstream: bool = False,
        defer_to: str | None = None,
        fail_on_partial: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filter = filter
        self.governance_override = governance_override
        self.run_models = run_models
        self.partition = partition
        self.partition_from = partition_from
        self.partition_to = partition_to
        self.latest = latest
        self.missing = missing
        self.lookback = lookback
        self.parallel = parallel
        self.pipeline = pipeline
        self.model = model
        self.shadow_suffix = shadow_suffix
        self.idempotency_key = idempotency_key
        self.resume_latest = resume_latest
        self.defer_upstream = defer_upstream
        self.defer_to = defer_to
        self.fail_on_partial = fail_on_partial
        self._check_static_arguments()

    def interpret_options(self) -> dict[str, Any]:
        """``fail_on_partial`` decides whether a partial success fails the task."""
        return {"fail_on_partial": self.fail_on_partial}
