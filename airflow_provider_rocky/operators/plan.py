"""Plan, review, apply: ``RockyPlanOperator`` and ``RockyApplyOperator``.

The plan task pushes ``{"plan_id": ..., "statements_by_purpose": ..., "targets": ...}`` (its XCom
return value); a reviewer approves it (Airflow's human-in-the-loop ``ApprovalOperator``, standard
provider, Airflow 3.1+; ``example_dags/rocky_plan_review_apply.py``); the apply task runs exactly the
approved plan, ``rocky apply <plan_id>``, and is interpreted like a run: XCom, asset events, taxonomy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_rocky._task.commands import APPLY, PLAN
from airflow_provider_rocky.operators.base import RockyBaseOperator
from airflow_provider_rocky.operators.materialize import RockyMaterializingOperator

__all__ = ["RockyApplyOperator", "RockyPlanOperator"]


class RockyPlanOperator(RockyBaseOperator):
    """``rocky plan``: what a run with these arguments would do, persisted under the plan's id.

    Takes ``rocky run``'s selection arguments (``filter``, ``pipeline``, ``governance_override``,
    ``run_models``, ``model``, the partition arguments, ``lookback``, ``parallel``, ``shadow_suffix``)
    plus ``env`` (``--env``). A plan that breaks the budget fails as ``budget``. Plans live under
    the project's ``.rocky/plans/``: give plan and apply the same ``project_dir`` (and host).

    Engine 1.71 plans a replication pipeline only (``commands/plan.rs``): the pipeline it resolves
    (``pipeline``, or the project's only one) must be a replication pipeline with a discovery
    adapter, else the engine refuses and the task fails as ``usage``, saying so. ``model`` scopes such
    a plan's SQL preview to one model; it does not plan a transformation pipeline.
    """

    command = PLAN
    template_fields: Sequence[str] = PLAN.templated
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
        env: str | None = None,
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
        self.env = env
        self._check_static_arguments()


class RockyApplyOperator(RockyMaterializingOperator):
    """``rocky apply <plan_id> [--expect-spec-digest d]``: run the reviewed plan, as a run.

    :param plan_id: templated, typically ``"{{ ti.xcom_pull(task_ids='plan')['plan_id'] }}"``.
    :param expect_spec_digest: for a plan bound to a product spec, the spec digest YOU approved, from
        your own source of truth, as the engine writes it (``sha256:`` + 64 lowercase hex: compared
        as an exact string, so any other spelling is refused before spawning). Never feed back the
        plan's own digest: that compares the plan with itself (rocky-sdk's ``apply`` says the same).
    :param fail_on_partial: as ``RockyOperator``'s.
    """

    command = APPLY
    template_fields: Sequence[str] = APPLY.templated

    def __init__(
        self,
        *,
        plan_id: str | None = None,
        expect_spec_digest: str | None = None,
        fail_on_partial: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_id = plan_id
        self.expect_spec_digest = expect_spec_digest
        self.fail_on_partial = fail_on_partial
        self._check_static_arguments()

    def interpret_options(self) -> dict[str, Any]:
        """``fail_on_partial``, as for a run."""
        return {"fail_on_partial": self.fail_on_partial}
