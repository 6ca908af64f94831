"""What a node task does for each state of its producer and its report (``_watch/decide.py``).

The rows are the situations the cosmos WATCHER complaints come from: a producer up for retry
(#3001), a report an earlier try already failed on (#2947), a producer failure with no report
(#2554), a node skipped behind an upstream that has since recovered (#2698).
"""

from __future__ import annotations

import pytest

from airflow_provider_rocky._watch.decide import Act, Observed, decide
from airflow_provider_rocky._watch.protocol import NO_REPORT, STALE_SECONDS, UPSTREAM_FAILURE, Detail, Head

NODE = "transformation:orders"
NOW = 1_000_000.0


def _head(
    *, final: bool = True, status: str | None = None, error: dict[str, object] | None = None, age: float = 1.0
) -> Head:
    nodes = {NODE: status} if status else {}
    return Head("gen-2", 2, NOW - 100, NOW - age, final=final, error=error, nodes=nodes)


def _detail(status: str, error: str | None = None, generation: str = "gen-2") -> Detail:
    return Detail(generation, NODE, status, NOW - 2, layer=1, error=error, engine_run_id="run-x")


def _act(
    state: str | None, head: Head | None = None, detail: Detail | None = None, taken: str | None = None
) -> tuple[Act, str]:
    decision = decide(NODE, Observed(state, head, detail, taken, NOW))
    return decision.act, decision.reason


@pytest.mark.parametrize(
    "state", [None, "scheduled", "queued", "up_for_retry", "restarting", "up_for_reschedule"]
)
def test_a_producer_that_is_not_running_or_done_is_waited_for_whatever_its_xcom_says(
    state: str | None,
) -> None:
    """A head still there from an earlier try (up for retry, cleared) is never acted on: cosmos#3001."""
    act, _ = _act(state, _head(status="failed"), _detail("failed", "boom"))
    assert act is Act.WAIT


def test_a_running_producers_report_is_used_only_while_it_is_its_own() -> None:
    running = _head(final=False, status="completed")
    assert _act("running", running, _detail("completed"))[0] is Act.SUCCEED
    assert _act("deferred", running, _detail("completed"))[0] is Act.SUCCEED
    # final while still running: its last moments, or a head left from before this try started
    assert _act("running", _head(final=True, status="failed"), _detail("failed"))[0] is Act.WAIT
    # not rewritten for longer than the heartbeat allows: a killed try's
    stale = _head(final=False, status="failed", age=STALE_SECONDS + 1)
    assert _act("running", stale, _detail("failed"))[0] is Act.WAIT
    assert _act("running", None)[0] is Act.WAIT


def test_only_an_explicit_completed_is_success() -> None:
    """cosmos#2554: a producer that ended without naming the node never makes it green."""
    assert _act("success", _head(status="completed"), _detail("completed"))[0] is Act.SUCCEED
    act, why = _act("success", _head())  # final, no error, the node absent: a stale manifest
    assert act is Act.FAIL and "no such node" in why
    act, why = _act("failed", _head(final=False))  # killed mid-run
    assert act is Act.FAIL and "before the engine reported the node" in why
    act, why = _act("failed", None)  # failed before it published anything
    assert act is Act.FAIL and "without reporting anything" in why
    error = {"class": "RockyBinaryNotFoundError", "category": "binary_missing", "message": "no rocky"}
    decision = decide(NODE, Observed("failed", _head(error=error), None, None, NOW))
    assert decision.act is Act.FAIL and decision.run_error == error


def test_a_report_an_earlier_try_used_is_never_used_again() -> None:
    """cosmos#3001/#2947: a retry or a clear runs the node alone, once the producer's engine is gone."""
    assert _act("success", _head(status="failed"), _detail("failed"), taken="gen-2")[0] is Act.RUN_ALONE
    assert _act("success", _head(status="completed"), _detail("completed"), taken="gen-2")[0] is Act.RUN_ALONE
    # the producer is still running (another node's work): one writer, so wait for its end
    running = _head(final=False, status="failed")
    assert _act("running", running, _detail("failed"), taken="gen-2")[0] is Act.WAIT
    # an earlier generation's use says nothing about this one
    assert _act("success", _head(status="failed"), _detail("failed"), taken="gen-1")[0] is Act.FAIL
    # a producer that published nothing: its absence was used once too
    assert _act("failed", None, taken=NO_REPORT)[0] is Act.RUN_ALONE


def test_a_node_skipped_after_an_upstream_failure_runs_alone_once_the_producer_ended() -> None:
    """cosmos#2698: the task runs only when its upstream tasks succeeded, so the blocker recovered."""
    skipped = _head(status="skipped")
    assert _act("success", skipped, _detail("skipped", UPSTREAM_FAILURE))[0] is Act.RUN_ALONE
    assert (
        _act("running", _head(final=False, status="skipped"), _detail("skipped", UPSTREAM_FAILURE))[0]
        is Act.WAIT
    )


def test_the_detail_must_be_this_generations_and_this_nodes() -> None:
    assert _act("success", _head(status="completed"), None)[0] is Act.WAIT
    assert _act("success", _head(status="completed"), _detail("completed", generation="gen-1"))[0] is Act.WAIT


def test_a_skipped_producer_skips_and_a_coarse_read_needs_no_detail() -> None:
    assert _act("skipped", None)[0] is Act.SKIP
    coarse = decide(NODE, Observed("success", _head(status="failed"), None, None, NOW), need_detail=False)
    assert coarse.act is Act.FAIL, "the trigger fires; the task reads the detail on resume"
