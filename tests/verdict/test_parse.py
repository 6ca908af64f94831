"""Reading a result right whatever the engine and the SDK: repairs, dropped rows, essential fields.

Each case runs on the SDK installed in the environment (the suite runs on rocky-sdk 0.15 and 0.29):
the provider's reading must come out the same on both.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rocky_sdk.types import RunResult
from run_documents import LANDED as MAT
from run_documents import TABLE, run_document

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import report, summary
from airflow_provider_rocky._verdict.events import asset_events
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky._verdict.parse import RUN_TOLERANCE, ResultError, parse


def doc(**top: Any) -> dict[str, Any]:
    return run_document(**{"version": "1.77.0", **top})


def read(document: dict[str, Any]) -> tuple[RunResult, tuple[str, ...]]:
    parsed = parse(RunResult, json.dumps(document).encode(), RUN_TOLERANCE)
    return parsed.result, parsed.notes


def test_engine_1_71_drift_and_anomalies_without_asset_key_are_repaired() -> None:
    result, notes = read(
        doc(
            drift={
                "tables_checked": 1,
                "tables_drifted": 1,
                "actions_taken": [{"table": TABLE, "action": "x", "reason": "r"}],
            },
            anomalies=[
                {
                    "table": TABLE,
                    "current_count": 5,
                    "baseline_avg": 376.2,
                    "deviation_pct": 98.7,
                    "reason": "dropped",
                }
            ],
        )
    )
    assert result.drift.actions_taken[0].table == TABLE and len(result.anomalies) == 1
    if notes:  # rocky-sdk 0.16+ needed the repair; 0.15 reads the 1.71 shape as is
        assert all("added asset_key" in note for note in notes)
        assert list(getattr(result.drift.actions_taken[0], "asset_key", [])) == TABLE.split(".")


@pytest.mark.parametrize(
    ("block", "bad", "dropped"),
    [
        ("model_decisions", [{"model": "m", "decision": "rebuild", "reason": "r"}], "model_decisions[0]"),
        (
            "consumer_diagnostics",
            [{"severity": "Critical", "code": "E060", "message": "m", "model": "c"}],
            None,
        ),
        ("source_syncs", [{"id": "s", "schema": "raw", "outcome": "rescheduled", "waited_secs": 1}], None),
        ("anomaly_evaluated", [{"table": TABLE}], None),
        ("metrics", {"tables_processed": "many"}, "metrics"),
    ],
)
def test_an_unreadable_informational_row_is_dropped_with_a_note(
    block: str, bad: Any, dropped: str | None
) -> None:
    result, notes = read(doc(**{block: bad}))
    assert result.tables_copied == 1 and result.materializations
    if dropped is not None:  # strict in every SDK version: always dropped
        assert any(note.startswith(f"dropped {dropped} ") for note in notes), notes
    assert all(note.startswith(("dropped ", "added asset_key")) for note in notes)


def test_an_unknown_volume_verdict_on_a_table_is_dropped_not_the_table() -> None:
    mat = {**MAT, "volume": {"model": "m", "product": "p", "severity": "warning", "verdict": "way_off"}}
    result, notes = read(doc(materializations=[mat]))
    assert len(result.materializations) == 1
    assert not notes or notes == ("dropped materializations[0].volume (" + notes[0].split(" (", 1)[1],)


@pytest.mark.parametrize(
    "broken",
    [
        {"tables_copied": None},
        {"status": 5},
        {"materializations": [{"asset_key": ["a"]}]},
        {"errors": [{"asset_key": [], "failure_kind": "transient"}]},
        {"check_results": [{"asset_key": ["a"], "checks": [{"passed": False}]}]},
    ],
)
def test_a_problem_in_an_essential_field_is_an_unreadable_result(broken: dict[str, Any]) -> None:
    with pytest.raises(ResultError):
        read(doc(**broken))
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=json.dumps(doc(**broken)).encode()))
    assert verdict.error is not None and verdict.error.category == "output"


@pytest.mark.parametrize(
    "stdout",
    [
        b"{" + b'"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"version": "1.77.0", "materializations": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b"{not json at all",
        b"{}",
        json.dumps(doc(drift=None)).encode(),
    ],
)
def test_the_interpreter_never_raises_on_any_stdout(stdout: bytes) -> None:
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=stdout))
    assert verdict.outcome == "failed" and verdict.error is not None and verdict.error.category == "output"


def observed(version: str = "1.77.0") -> dict[str, Any]:
    mats = [
        {
            **MAT,
            "volume": {
                "model": "orders",
                "product": "p",
                "severity": "warning",
                "verdict": "below_min",
                "row_count": 5,
                "min_rows": 100,
                "reason": "5 rows, below min_rows 100",
            },
            "notes": ["merged 2 late rows"],
        },
    ]
    return doc(
        version=version,
        materializations=mats,
        anomalies=[
            {
                "table": TABLE,
                "asset_key": TABLE.split("."),
                "current_count": 5,
                "baseline_avg": 376.2,
                "deviation_pct": 98.7,
                "reason": "row count dropped 98.7%",
            }
        ],
        anomaly_evaluated=[
            {
                "table": "wh.s.other",
                "asset_key": ["wh", "s", "other"],
                "evaluated": False,
                "not_evaluated_reason": "baseline has fewer than 3 runs",
            }
        ],
        contained=[{"model": "fct", "blocked_by": ["dim"], "unblock_hint": "fix dim"}],
        volume_warnings=["product p: orders has 5 rows, below min_rows 100"],
        source_syncs=[
            {"id": "stripe", "schema": "raw", "outcome": "paused", "waited_secs": 0, "detail": "paused"},
            {"id": "orders", "schema": "raw", "outcome": "succeeded", "waited_secs": 3},
        ],
        consumer_diagnostics=[
            {"severity": "Warning", "code": "E060", "message": "reads a dropped column", "model": "bi"}
        ],
        check_results=[
            {
                "asset_key": ["duckdb", "orders", "orders"],
                "checks": [
                    {
                        "name": "freshness",
                        "passed": False,
                        "severity": "warning",
                        "lag_seconds": 0,
                        "threshold_seconds": 60,
                        "not_evaluated": "no loaded_at column",
                    }
                ],
            }
        ],
    )


def test_every_observation_reaches_the_summary_the_log_and_the_asset_event() -> None:
    """The same on rocky-sdk 0.15 (which models none of the newer blocks) and 0.29 (which models all)."""
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=json.dumps(observed()).encode()))
    assert verdict.outcome == "success", verdict.error
    compact = summary.build(verdict)
    totals = {
        key: compact[f"{key}_total"]
        for key in (
            "anomalies",
            "contained",
            "volume_warnings",
            "volume_verdicts",
            "source_syncs_failed",
            "checks_not_evaluated",
            "consumer_diagnostics",
        )
    }
    assert totals == dict.fromkeys(totals, 1) | {"anomalies": 2}
    assert compact["source_syncs_failed"][0]["id"] == "stripe"
    assert (
        compact["materializations"][0].items()
        >= {
            "volume_verdict": "below_min",
            "notes": ["merged 2 late rows"],
        }.items()
    )
    assert [row["evaluated"] for row in compact["anomalies"]] == [True, False]
    warnings = [text for text, warn in report.report(verdict) if warn]
    for word in (
        "anomaly detected",
        "NOT EVALUATED",
        "contained: fct",
        "volume warning",
        "volume below_min",
        "source sync stripe",
        "check NOT EVALUATED",
        "consumer bi",
    ):
        assert any(word in line for line in warnings), word
    (event,) = asset_events(verdict.result, observations=verdict.observations)  # type: ignore[arg-type]
    assert (
        event.extra.items()
        >= {
            "volume_verdict": "below_min",
            "notes": ["merged 2 late rows"],
            "anomaly": "row count dropped 98.7%",
            "checks_not_evaluated": ["freshness"],
        }.items()
    )
    json.dumps(compact) and json.dumps(event.extra)  # JSON-native


def test_observations_stay_bounded() -> None:
    many = observed()
    many["volume_warnings"] = [f"warning {i} " + "x" * 1000 for i in range(5000)]
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=json.dumps(many).encode()))
    compact = summary.build(verdict)
    assert compact["volume_warnings_total"] == 5000 and len(compact["volume_warnings"]) == summary.MAX_ITEMS
    assert max(len(w) for w in compact["volume_warnings"]) <= summary.MAX_MESSAGE
    assert len(json.dumps(compact)) < 64 * 1024


def test_an_empty_catalog_and_an_unnamed_error_read_as_a_person_would() -> None:
    model = {
        **MAT,
        "asset_key": ["", "marts", "fct_orders"],
        "metadata": {"strategy": "full_refresh", "target_table_full_name": ".marts.fct_orders"},
    }
    failed = {
        "asset_key": [],
        "error": "statement failed on wh.staging__acme.orders: Binder Error",
        "failure_kind": "query-rejected",
    }
    document = doc(status="PartialFailure", tables_failed=1, materializations=[model], errors=[failed])
    verdict = interpret(ProcessOutcome(exit_code=2, stdout=json.dumps(document).encode()))
    compact = summary.build(verdict)
    assert compact["materializations"][0]["table"] == "marts.fct_orders"
    assert compact["errors"][0]["table"] == "wh.staging__acme.orders"
    lines = [text for text, _ in report.report(verdict)]
    assert any("landed marts.fct_orders " in line for line in lines)
    assert any(
        line.startswith("PARTIAL SUCCESS: 1 table(s) failed: wh.staging__acme.orders.") for line in lines
    )
