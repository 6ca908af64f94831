"""What ``rocky plan`` means: a reviewable list of statements and the ``plan_id`` to apply them by.

Read with rocky-sdk's ``PlanResult``. A plan whose budget check failed (``has_budget_errors``, or an
Error budget diagnostic; the engine's E027) fails as ``budget`` before anyone approves it; a plan
without a ``plan_id`` (every engine since 1.34 prints one) cannot be applied and fails as ``output``.
``rocky apply <plan_id>`` of a run plan prints a run's result and is interpreted as a run.

Engine 1.71 plans replication pipelines only (``commands/plan.rs``: ``resolve_replication_pipeline``,
then a discovery adapter): a plan of a transformation, quality, snapshot or load pipeline, or of a
project whose one pipeline is not replication, is refused with exit 1 and no JSON. That refusal is
``usage`` (not retryable: the arguments or the project must change), saying so.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.gates import (
    SEVERITIES,
    enum_fallback,
    errors_of,
    listed,
    render_diagnostic,
)
from airflow_provider_rocky._verdict.parse import Tolerance
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with


def _plan_model() -> Any:
    from rocky_sdk.types import PlanResult

    return PlanResult


PLAN_READING = Reading(
    _plan_model,
    "PlanResult",
    Tolerance(
        rows=frozenset({"classification_actions", "mask_actions", "retention_actions", "skipped"}),
        blocks=frozenset({"breaking_verdict", "intent_check", "cost_preview"}),
        repairs=(enum_fallback("budget_diagnostics", "severity", SEVERITIES, "Warning"),),  # as compile
    ),
)


#: The engine's words when the resolved pipeline cannot be planned (``registry.rs``).
REPLICATION_ONLY = (
    "but this command only supports replication pipelines",
    "has no discovery adapter configured",
)


def interpret_plan(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky plan``: a plan to review, or why there is none to apply."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        budget = errors_of(getattr(result, "budget_diagnostics", None) or [])
        if getattr(result, "has_budget_errors", False) or budget:
            named = listed([render_diagnostic(d) for d in budget]) or make.error_text
            return make.failed(
                make(exc.RockyBudgetError, f"the plan breaks the budget: {named}", result), result
            )
        if ended.exit_code != 0:
            message = make.error_text or f"rocky plan exited {ended.exit_code}"
            return make.failed(make(exc.RockyEngineError, message, result), result)
        if not result.plan_id:
            message = "rocky plan printed no plan_id (engines since 1.34 always do): nothing to apply"
            return make.failed(make(exc.RockyOutputError, message, result), result)
        return make.verdict("success", result, None)

    verdict = interpret_with(outcome, PLAN_READING, decide, **kwargs)
    error = verdict.error
    if verdict.result is None and error is not None and any(m in error.reason for m in REPLICATION_ONLY):
        make = ErrorFactory(outcome, kwargs.get("command", ()))
        reason = (
            "rocky plan (engine 1.71) plans replication pipelines only, with a discovery adapter: give "
            f"pipeline= a replication pipeline (and configure its source.discovery): {error.reason}"
        )
        verdict.error = make(exc.RockyUsageError, reason)
    return verdict
