"""``RockyRetryPolicy``: Airflow 3.3's ``retry_policy`` deciding from the taxonomy's structured fields.

Turn it on per task (or in ``default_args``), with ``retries`` as the cap::

    RockyOperator(task_id="run", retries=3, retry_policy=RockyRetryPolicy())

What it decides (``evaluate``):

* a transient warehouse failure or quota (``adapter``, retryable; also a ``partial`` whose every failure
  was transient) retries after the engine's own ``cooldown_seconds`` (its circuit breaker's recovery
  hint, the largest one given), else after ``cooldown_fallback`` (300 s: what dagster-rocky uses);
* a busy or locked state store (``state``, retryable: another writer, or a copy of the try holding its
  idempotency key) retries after ``state_delay`` (60 s): the other writer is usually done by then;
* every other retryable Rocky failure (an ``engine`` error this provider does not recognise,
  ``freshness``, a doctor's live probe, ``timeout``, ``interrupted``, an engine killed by a signal)
  keeps the task's own ``retry_delay`` (``RetryDecision.default``);
* usage, auth, compile, contract, budget, governance, crashes and the other categories known to be
  permanent never reach it: they derive from ``AirflowFailException``, which fails a task at once
  without consulting a policy; the policy answers ``fail`` for them anyway, should another caller ask;
* anything that is not a Rocky error: the task's own settings.

Airflow stores only that a task has a policy, never the policy itself (the worker re-parses the DAG
and uses the live object): :meth:`serialize` exists for callers that want a JSON form. On Airflow 3.1
and 3.2 there is no ``retry_policy``: the exceptions' base classes keep deciding, as they always did,
and constructing this policy raises a clear error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky.exceptions import RockyError
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy
else:  # Airflow < 3.3: a plain base, so the module still imports (and says why it cannot be used)
    RetryPolicy = object

__all__ = ["COOLDOWN_FALLBACK", "STATE_DELAY", "RockyRetryPolicy"]

#: Delay after a transient/quota failure that gave no ``cooldown_seconds``.
COOLDOWN_FALLBACK = timedelta(seconds=300)
#: Delay after a busy or locked state store.
STATE_DELAY = timedelta(seconds=60)
_COOLDOWN_CATEGORIES = frozenset({"adapter", "partial"})


class RockyRetryPolicy(RetryPolicy):
    """Retry Rocky failures after the delay their category calls for (module docstring).

    :param cooldown_fallback: after a transient/quota failure without the engine's ``cooldown_seconds``.
    :param state_delay: after a busy or locked state store.
    :param max_delay: the longest delay ever asked for (an engine cooldown of hours is capped).
    """

    def __init__(
        self,
        *,
        cooldown_fallback: timedelta = COOLDOWN_FALLBACK,
        state_delay: timedelta = STATE_DELAY,
        max_delay: timedelta = timedelta(hours=1),
    ) -> None:
        if not AIRFLOW_V_3_3_PLUS:
            raise RuntimeError(
                "RockyRetryPolicy needs Airflow 3.3+ (retry_policy); on this Airflow the Rocky errors' "
                "classes already decide: retryable categories honour `retries`, the others fail at once"
            )
        self.cooldown_fallback = cooldown_fallback
        self.state_delay = state_delay
        self.max_delay = max_delay

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
    ) -> RetryDecision:
        """The decision for this failure (module docstring)."""
        if not isinstance(exception, RockyError):
            return RetryDecision.default()
        if not exception.retryable:
            return RetryDecision.fail(reason=f"[rocky:{exception.category}] a retry cannot fix this")
        delay = self.delay_for(exception)
        if delay is None:
            return RetryDecision.default()
        reason = f"[rocky:{exception.category}] retry {try_number}/{max_tries} in {delay.total_seconds():g}s"
        return RetryDecision.retry(delay=delay, reason=reason)

    def delay_for(self, error: RockyError) -> timedelta | None:
        """The delay this retryable error calls for; ``None``: the task's own ``retry_delay``."""
        if error.category == "state":
            return min(self.state_delay, self.max_delay)
        if error.category in _COOLDOWN_CATEGORIES:
            seconds = cooldown_of(error)
            delay = timedelta(seconds=seconds) if seconds else self.cooldown_fallback
            return min(delay, self.max_delay)
        return None

    def serialize(self) -> dict[str, Any]:
        """A JSON form (Airflow itself never stores the policy)."""
        return {
            "cooldown_fallback": self.cooldown_fallback.total_seconds(),
            "state_delay": self.state_delay.total_seconds(),
            "max_delay": self.max_delay.total_seconds(),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> RockyRetryPolicy:
        """Inverse of :meth:`serialize`."""
        return cls(**{key: timedelta(seconds=float(value)) for key, value in data.items()})


def cooldown_of(error: RockyError) -> int | None:
    """The engine's largest ``cooldown_seconds``: on the error, else on its result's ``errors[]``."""
    direct = getattr(error, "cooldown_seconds", None)
    if direct:
        return int(direct)
    rows = getattr(error.result, "errors", None) or []
    cooldowns = [row.cooldown_seconds for row in rows if getattr(row, "cooldown_seconds", None)]
    return max(cooldowns) if cooldowns else None
