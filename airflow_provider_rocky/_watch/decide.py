"""What a node task does, given what it observed of its producer: pure rules, one place.

Observed: the producer task's state, its head for this try (``protocol.Head``), this node's detail,
and the generation an earlier try of this node task already acted on (``taken``). The rules:

1. **Which report is current.** A head is trusted only while it is the running try's (the producer
   is running, the head is not final and was rewritten within ``STALE_SECONDS``) or the last try's
   (the producer is terminal). Anything else waits: a producer not started, queued, up for retry
   (its retry will report again: cosmos#3001), or a head left by a killed try.
2. **A report is used once.** A try that succeeded or failed on a report writes ``taken``; a later
   try (retry or clear) of the same node seeing the same generation runs the node alone, once the
   producer's engine is gone (single writer). A stale failure is never raised again (#3001, #2947).
3. **Only an explicit ``completed`` is success.** A node the report does not name, a producer that
   ended without reporting it, a run-level error: the node task fails with the producer's error,
   never green (#2554).
4. **Skipped after an upstream failure, upstream now green** (the node task runs only when every
   Airflow upstream succeeded, or the blocker was an edge only the engine knew): run it alone once
   the producer has ended (#2698).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from airflow_provider_rocky._watch.protocol import NO_REPORT, STALE_SECONDS, UPSTREAM_FAILURE, Detail, Head

#: Producer states whose XCom is the current try's (``deferred``: a producer run in the triggerer).
ACTIVE = frozenset({"running", "deferred"})
TERMINAL = frozenset({"success", "failed", "upstream_failed", "skipped", "removed"})


class Act(enum.Enum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"
    RUN_ALONE = "run_alone"
    SKIP = "skip"


@dataclass(frozen=True)
class Observed:
    """One consistent read of the producer (its state read before and after the documents)."""

    producer_state: str | None
    head: Head | None
    detail: Detail | None = None
    #: The generation an earlier try of this node task acted on, if any.
    taken: str | None = None
    now: float = 0.0


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str
    #: The generation the decision is about (``NO_REPORT``: the producer published nothing).
    generation: str | None = None
    detail: Detail | None = None
    #: The producer's run-level error (``Head.error``) for a node the run never reached.
    run_error: dict[str, object] | None = None

    @property
    def consumes(self) -> bool:
        """Acting on this decision uses the generation's report (a later try must not reuse it)."""
        return self.act in (Act.SUCCEED, Act.FAIL)


def plain_state(state: str | None) -> str:
    """A task state as its lower-case word (``TaskInstanceState.RUNNING`` and ``None`` included)."""
    return str(state).rsplit(".", 1)[-1].lower() if state is not None else "none"


def current_head(observed: Observed) -> tuple[bool, Head | None, str]:
    """Whether the producer's report can be used now, the head to use, and why not when not."""
    state, head = plain_state(observed.producer_state), observed.head
    if state in TERMINAL:
        return True, head, ""
    if state not in ACTIVE:
        return False, None, f"the producer is {state}: waiting for it to run"
    if head is None:
        return False, None, "the producer is running and has not reported yet"
    if head.final:
        return False, None, "the producer reported its end and is finishing: waiting for it to end"
    if observed.now - head.updated_at > STALE_SECONDS:
        return False, None, f"the producer's report is older than {STALE_SECONDS:g}s (a killed try's)"
    return True, head, ""


def decide(node_id: str, observed: Observed, *, need_detail: bool = True) -> Decision:
    """What to do now (``need_detail=False``: the triggerer's coarse check, before reading it)."""
    usable, head, why = current_head(observed)
    if not usable:
        return Decision(Act.WAIT, why)
    state = plain_state(observed.producer_state)
    ended = state in TERMINAL
    generation = head.generation if head is not None else NO_REPORT
    if observed.taken == generation:
        if ended:
            return Decision(Act.RUN_ALONE, "an earlier try already acted on this report", generation)
        return Decision(Act.WAIT, "an earlier try acted on this report: waiting for the producer's end")
    status = head.nodes.get(node_id) if head is not None else None
    if status is None:
        return _unreported(state, ended, head, generation)
    detail = observed.detail
    if need_detail and (detail is None or detail.generation != generation or detail.node != node_id):
        return Decision(Act.WAIT, "the node's report is not readable yet")
    if status == "completed":
        return Decision(Act.SUCCEED, "the engine completed the node", generation, detail)
    if status == "failed":
        return Decision(Act.FAIL, "the engine reported the node failed", generation, detail)
    if status == "skipped" and (detail is None or detail.error == UPSTREAM_FAILURE):
        if ended:
            return Decision(
                Act.RUN_ALONE, "the engine skipped it after an upstream failure; its upstream tasks succeeded"
            )
        return Decision(Act.WAIT, "skipped by the engine after an upstream failure: waiting for its end")
    if status == "skipped":
        return Decision(Act.SKIP, "the engine skipped the node", generation, detail)
    if ended or (head is not None and head.final):
        return Decision(Act.FAIL, f"the engine reported an unknown status {status!r}", generation, detail)
    return Decision(Act.WAIT, f"the engine reported {status!r} so far")


def _unreported(state: str, ended: bool, head: Head | None, generation: str) -> Decision:
    """The report does not name the node (yet)."""
    if not ended:
        return Decision(Act.WAIT, "the engine has not reported the node yet")
    if head is None:
        if state == "skipped":
            return Decision(Act.SKIP, "the producer was skipped", generation)
        return Decision(Act.FAIL, f"the producer ended {state} without reporting anything", generation)
    if head.error is not None:
        return Decision(Act.FAIL, "the producer's run failed before the engine reached the node", generation,
                        run_error=dict(head.error))  # fmt: skip
    if not head.final:
        return Decision(
            Act.FAIL, f"the producer ended {state} before the engine reported the node", generation
        )
    return Decision(
        Act.FAIL,
        "the engine's run has no such node (the manifest is stale: rewrite it with rocky-airflow-manifest)",
        generation,
    )
