"""The sync mode's *where*: run the engine on a private event loop in the task's own process.

Airflow enforces ``execution_timeout`` on the worker with a one-shot ``SIGALRM`` whose handler raises
``AirflowTaskTimeout`` wherever the main thread happens to be. The engine's own deadline is computed
from the task's start, so it normally fires first and ends the run; Airflow's alarm then follows a
fraction of a second later, in the middle of the bookkeeping (parsing the result, pushing the summary
to XCom, emitting asset events), and the task would fail with no summary in XCom. So once the engine
has ended, :func:`settle_alarm` gives the bookkeeping a fresh, bounded budget of its own
(:data:`FINISH_BUDGET_SECONDS`): a run that reached its deadline still says so, with its summary, and
bookkeeping that hangs still times out.
"""

from __future__ import annotations

import signal
import threading

#: Seconds the bookkeeping after the engine has ended may take before Airflow's alarm fires.
FINISH_BUDGET_SECONDS = 30.0


def settle_alarm(*, armed: bool) -> None:
    """Leave at least :data:`FINISH_BUDGET_SECONDS` on the task's alarm, dropping one already due.

    A no-op off the main thread (Airflow arms no alarm there) or when no alarm was ``armed``. The
    signal is blocked while the timer is inspected, so an alarm that fires meanwhile is caught as
    pending and dropped rather than raised half-way; the previous signal mask is restored.
    """
    if not armed or threading.current_thread() is not threading.main_thread():
        return
    alarm = {signal.SIGALRM}
    previous: set[int | signal.Signals] | None = None
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, alarm)
        remaining, _interval = signal.getitimer(signal.ITIMER_REAL)
        if signal.SIGALRM in signal.sigpending():
            signal.sigtimedwait(alarm, 0)
            remaining = 0.0
        if remaining < FINISH_BUDGET_SECONDS:
            signal.setitimer(signal.ITIMER_REAL, FINISH_BUDGET_SECONDS)
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
