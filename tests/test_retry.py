"""RockyRetryPolicy: the delay each category calls for, and Airflow 3.3's own evaluation of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from run_results import run_result

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

needs_33 = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="retry_policy is Airflow 3.3+")


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3 has retry_policy")
def test_before_3_3_the_policy_says_why_it_cannot_be_used() -> None:
    from airflow_provider_rocky.retry import RockyRetryPolicy

    with pytest.raises(RuntimeError, match=r"needs Airflow 3\.3\+"):
        RockyRetryPolicy()


def transient(cooldown: int | None) -> exc.RockyError:
    error = exc.RockyTransientAdapterError("the warehouse failed transiently")
    error.cooldown_seconds = cooldown  # type: ignore[attr-defined]
    return error


def partial_with(cooldowns: list[int]) -> exc.RockyError:
    result = run_result([]).model_copy(
        update={
            "errors": [
                {"asset_key": [], "error": "x", "failure_kind": "transient", "cooldown_seconds": c}
                for c in cooldowns
            ]
        }
    )
    from rocky_sdk.types import RunResult

    return exc.RockyTransientPartialFailure("partial", result=RunResult.model_validate(result.model_dump()))


@needs_33
@pytest.mark.parametrize(
    ("error", "action", "seconds"),
    [
        (transient(45), "retry", 45),
        (transient(None), "retry", 300),
        (transient(86_400), "retry", 3600),  # capped by max_delay
        (partial_with([30, 90]), "retry", 90),
        (exc.RockyStateBusyError("locked by another process"), "retry", 60),
        (exc.RockyTimeoutError("deadline"), "default", None),
        (exc.RockyInterruptedError("killed"), "default", None),
        (exc.RockyAdapterError("401"), "fail", None),
        (exc.RockyCompileError("E001"), "fail", None),
        (ValueError("not rocky"), "default", None),
    ],
)
def test_each_category_gets_its_decision(error: BaseException, action: str, seconds: int | None) -> None:
    from airflow_provider_rocky.retry import RockyRetryPolicy

    decision = RockyRetryPolicy().evaluate(error, try_number=1, max_tries=3)
    assert decision.action.value.lower() == action
    assert decision.retry_delay == (timedelta(seconds=seconds) if seconds else None)


@needs_33
def test_the_policy_round_trips_its_json_form() -> None:
    from airflow_provider_rocky.retry import RockyRetryPolicy

    policy = RockyRetryPolicy(cooldown_fallback=timedelta(seconds=5), state_delay=timedelta(seconds=7))
    again = RockyRetryPolicy.deserialize(policy.serialize())
    assert (
        again.serialize()
        == policy.serialize()
        == {"cooldown_fallback": 5.0, "state_delay": 7.0, "max_delay": 3600.0}
    )


@needs_33
@pytest.mark.usefixtures("airflow_db", "standin_bin")
@pytest.mark.parametrize(
    ("scenario", "tries", "delay"), [("adapter_transient", 2, 1.0), ("adapter_auth", 1, None)]
)
def test_airflow_evaluates_the_policy_on_a_real_failure(
    scenario: str, tries: int, delay: float | None
) -> None:
    """dag.test() runs Airflow 3.3's own task runner: the engine's cooldown (1 s) replaces retry_delay."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from airflow_helpers import run_dag
    from sqlalchemy import select

    run = run_dag("rocky_retry", f"retry__{scenario}")
    assert run.task_state == "failed"
    with create_session() as session:
        history = session.scalars(
            select(TaskInstanceHistory).where(
                TaskInstanceHistory.run_id == run.run_id, TaskInstanceHistory.dag_id == run.dag_id
            )
        ).all()
        overrides = [h.retry_delay_override for h in history]
        reasons = [h.retry_reason for h in history]
    assert len(history) == tries - 1, "an auth failure is not retried; a transient one is, once"
    if delay is not None:
        assert overrides == [delay] and reasons[0].startswith("[rocky:adapter] retry 1/1 in 1s")
