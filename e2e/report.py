"""Check results (one printed line each) and the stand-in engine's invocation record.

``PASS <check>`` / ``FAIL <check>: <why>`` / ``SKIP <check>: <why>``; ``NOTE`` lines report what a
check observed beyond its verdict (provider findings). Details of a failure follow on indented lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CheckFailed(Exception):
    """Raised inside a check to fail it; ``detail`` (log tails) is printed indented below the line."""

    def __init__(self, why: str, detail: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.detail = detail


@dataclass
class Reporter:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def ok(self, check: str, info: str = "") -> None:
        self.passed.append(check)
        print(f"PASS {check}" + (f" ({info})" if info else ""), flush=True)

    def fail(self, check: str, why: str, detail: str = "") -> None:
        self.failed.append(check)
        print(f"FAIL {check}: {why}", flush=True)
        if detail:
            print(detail.rstrip(), flush=True)

    def skip(self, check: str, why: str) -> None:
        self.skipped.append(check)
        print(f"SKIP {check}: {why}", flush=True)

    def note(self, text: str) -> None:
        print(f"NOTE {text}", flush=True)

    def verdict(self, check: str, condition: bool, why: str, detail: str = "", info: str = "") -> bool:
        if condition:
            self.ok(check, info)
        else:
            self.fail(check, why, detail)
        return condition


def indent(text: str, prefix: str = "    | ", limit: int = 40) -> str:
    lines = text.strip().splitlines()
    if len(lines) > limit:
        lines = [f"... ({len(lines) - limit} earlier lines)", *lines[-limit:]]
    return "\n".join(prefix + line[:400] for line in lines)


class Record:
    """``ROCKY_STANDIN_RECORD``: one JSON line per stand-in event (``start``, ``grandchild``, ``end``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(errors="replace").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue  # a line being appended right now
        return out

    def starts_for_key(self, key: str) -> list[dict[str, Any]]:
        """``start`` events whose argv carries ``--idempotency-key=<key>`` (or the 0.1.0 pair form)."""
        found = []
        for event in self.events():
            argv = event.get("argv") or []
            if event.get("event") == "start" and (key in argv or f"--idempotency-key={key}" in argv):
                found.append(event)
        return found

    def starts_for_task(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """``start`` events of one task instance, by the ``ROCKY_SUBMISSION_ID`` the provider sets."""
        prefix = f"{dag_id}/{run_id}/{task_id}/"
        return [
            event
            for event in self.events()
            if event.get("event") == "start"
            and str((event.get("env") or {}).get("ROCKY_SUBMISSION_ID", "")).startswith(prefix)
        ]

    def end_for(self, pid: int) -> dict[str, Any] | None:
        for event in self.events():
            if event.get("event") == "end" and event.get("pid") == pid:
                return event
        return None

    def grandchildren_of(self, pid: int) -> list[int]:
        return [
            int(event["pid"])
            for event in self.events()
            if event.get("event") == "grandchild" and event.get("parent_pid") == pid
        ]


def try_key(dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    """The idempotency key deferrable RockyOperator runs pass (``task_context.try_key``)."""
    return f"airflow:{dag_id}:{run_id}:{task_id}:-1:try{try_number}"
