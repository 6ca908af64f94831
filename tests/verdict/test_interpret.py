"""The interpreter on real stand-in output: the XCom summary stays bounded for 10,000 tables."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessRunner
from airflow_provider_rocky._engine.run import RunRecord
from airflow_provider_rocky._task import wire
from airflow_provider_rocky._verdict import summary
from airflow_provider_rocky._verdict.interpret import interpret

#: The README states the measured size; this bound is what the design promises (100 items per list).
SUMMARY_BOUND_BYTES = 64 * 1024


def test_summary_is_bounded_for_10000_tables() -> None:
    command = RockyCommand(
        argv=(sys.executable, "-m", "airflow_provider_rocky.testing.engine", "--output", "json", "run"),
        env={
            "ROCKY_STANDIN_SCENARIO": "huge_stdout",
            "ROCKY_STANDIN_TABLES": "10000",
            "ROCKY_STANDIN_DELAY": "0",
        },
        cwd=os.environ["ROCKY_TEST_WORKDIR"],
    )
    outcome = asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    verdict = interpret(outcome)
    assert verdict.outcome == "success" and verdict.result is not None
    assert len(verdict.result.materializations) == 10000
    compact = summary.build(verdict)
    size = len(json.dumps(compact))
    event = wire.pack(RunRecord(outcome), command, {})
    event_size = len(json.dumps(event))
    print(
        f"\nsummary={size} bytes, full stdout={len(outcome.stdout)} bytes, trigger event={event_size} bytes"
    )
    assert size < SUMMARY_BOUND_BYTES
    assert (
        compact["materializations_total"] == 10000 and len(compact["materializations"]) == summary.MAX_ITEMS
    )
    assert len(json.dumps(event)) < len(outcome.stdout) / 5, "the trigger event carries stdout compressed"
