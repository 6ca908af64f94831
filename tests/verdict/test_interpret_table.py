"""The interpreter over every row of the failure taxonomy, in milliseconds (no process, no Airflow run).

Each row is what a finished engine process left (exit code, stdout, stderr tail, how it ended) and the
verdict the README's taxonomy promises for it (outcome, category, retryable). The row's name is the
test id, so a failure names the row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from run_documents import run_document

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.interpret import interpret


def run_json(**top: Any) -> bytes:
    """A RunOutput document: a one-table success unless ``top`` says otherwise."""
    return json.dumps(run_document(**top), indent=2).encode()


def table_errors(
    *kinds: str, cooldown: int | None = None, error: str = "statement failed"
) -> list[dict[str, Any]]:
    return [
        {
            "asset_key": [],
            "error": error,
            "failure_kind": kind,
            **({"cooldown_seconds": cooldown} if cooldown else {}),
        }
        for kind in kinds
    ]


def partial(*kinds: str, **extra: Any) -> bytes:
    return run_json(status="PartialFailure", tables_failed=len(kinds), errors=table_errors(*kinds), **extra)


def total(*kinds: str, **extra: Any) -> bytes:
    return run_json(
        status="Failure",
        tables_copied=0,
        tables_failed=len(kinds),
        materializations=[],
        errors=table_errors(*kinds),
        **extra,
    )


GATE_CHECK = {
    "asset_key": ["duckdb", "orders", "orders"],
    "checks": [{"name": "null_rate:amount", "passed": False, "severity": "error"}],
}


@dataclass(frozen=True)
class Row:
    name: str
    exit_code: int | None
    stdout: bytes = b""
    stderr: tuple[str, ...] = ()
    ended: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    # the verdict
    outcome: str = "failed"
    category: str | None = None
    retryable: bool | None = None


ROWS = [
    Row("success", 0, run_json(), outcome="success"),
    Row(
        "skipped_idempotent",
        0,
        run_json(status="SkippedIdempotent", skipped_by_run_id="run-1"),
        outcome="skipped",
    ),
    Row(
        "skipped_in_flight",
        0,
        run_json(status="SkippedInFlight", skipped_by_run_id="run-1"),
        category="state",
        retryable=True,
    ),
    Row(
        "drift_is_not_a_failure",
        0,
        run_json(
            drift={
                "tables_checked": 1,
                "tables_drifted": 1,
                "actions_taken": [
                    {"table": "wh.s.t", "action": "drop_and_recreate", "reason": "type changed"}
                ],
            }
        ),
        outcome="success",
    ),
    Row(
        "warning_check_does_not_gate",
        0,
        run_json(
            check_results=[
                {
                    "asset_key": ["t"],
                    "checks": [{"name": "freshness", "passed": False, "severity": "warning"}],
                }
            ]
        ),
        outcome="success",
    ),
    Row("partial_succeeds", 2, partial("query-rejected"), outcome="partial"),
    Row(
        "partial_strict",
        2,
        partial("query-rejected"),
        options={"fail_on_partial": True},
        outcome="partial",
        category="partial",
        retryable=False,
    ),
    Row(
        "partial_strict_transient",
        2,
        partial("transient", "connection-failed"),
        options={"fail_on_partial": True},
        outcome="partial",
        category="partial",
        retryable=True,
    ),
    Row("total_query_rejected", 1, total("query-rejected"), category="adapter", retryable=False),
    Row("total_auth_failed", 1, total("auth-failed"), category="adapter", retryable=False),
    Row("total_not_found", 1, total("not-found"), category="adapter", retryable=False),
    Row("total_transient", 1, total("transient"), category="adapter", retryable=True),
    Row("total_quota_exceeded", 1, total("quota-exceeded"), category="adapter", retryable=True),
    # Not known to be permanent: Airflow's default, a retry (item 1 of issue 20).
    Row("total_unknown_kind", 1, total("unknown"), category="engine", retryable=True),
    Row(
        "total_unknown_kind_network_wording",
        1,
        run_json(
            status="Failure",
            tables_copied=0,
            tables_failed=1,
            materializations=[],
            errors=table_errors("unknown", error="copy of s.t failed: operation timed out"),
        ),
        category="adapter",
        retryable=True,
    ),
    Row(
        "compile_error",
        1,
        run_json(
            status="Failure",
            tables_copied=0,
            materializations=[],
            tables_failed=1,
            errors=table_errors("compile-error", error="E001 type mismatch"),
        ),
        category="compile",
        retryable=False,
    ),
    Row(
        "contract_violation",
        1,
        run_json(
            status="Failure",
            tables_copied=0,
            materializations=[],
            tables_failed=1,
            errors=table_errors("compile-error", error="E010 required column missing"),
        ),
        category="contract",
        retryable=False,
    ),
    Row(
        "budget_breach",
        1,
        run_json(budget_breaches=[{"limit_type": "max_usd", "limit": 5.0, "actual": 7.5}]),
        ("Error: budget exceeded — max_usd: actual 7.50 > limit 5.00",),
        category="budget",
        retryable=False,
    ),
    Row(
        "quality_gate_1_71",
        1,
        run_json(check_results=[GATE_CHECK]),  # 1.71 prints no check_gate_failed: the Error: text decides
        ("Error: quality pipeline failed: 1 error-severity check(s) failed",),
        category="quality_check",
        retryable=False,
    ),
    Row(
        "verify_after_gate", 1, run_json(verify_after_failed=True), category="quality_check", retryable=False
    ),
    Row(
        "interrupted_with_json",
        130,
        run_json(status="PartialFailure", interrupted=True),
        category="interrupted",
        retryable=True,
    ),
    Row("interrupted_without_json", 130, category="interrupted", retryable=True),
    Row(
        "usage_exit_2_without_json",
        2,
        b"",
        ("error: unexpected argument '--x' found", "", "Usage: rocky run"),
        category="usage",
        retryable=False,
    ),
    Row(
        "state_locked",
        1,
        b"",
        ("Error: state store at s.redb is locked by another process; only one rocky writer",),
        category="state",
        retryable=True,
    ),
    Row(
        "state_busy",
        1,
        b"",
        ("Error: state store at s.redb is busy — another rocky process. Retry in a moment.",),
        category="state",
        retryable=True,
    ),
    Row(
        "state_schema_mismatch",
        1,
        b"",
        ("Error: state schema version mismatch: database has v23",),
        category="state",
        retryable=False,
    ),
    Row(
        "governance_refusal",
        1,
        b"",
        ("Error: refusing governance override: workspace_ids is empty",),
        category="governance",
        retryable=False,
    ),
    Row(
        "hard_failure",
        1,
        b"",
        ("Error: failed to prepare target schema", "", "Caused by:", "    0: IO Error"),
        category="engine",
        retryable=True,
    ),
    # The three wordings, and the Fivetran client's own (rocky-fivetran client.rs).
    Row(
        "http_503_without_json",
        1,
        b"",
        ("Error: failed to list Fivetran connectors: HTTP 503 Service Unavailable",),
        category="adapter",
        retryable=True,
    ),
    Row(
        "connection_reset_without_json",
        1,
        b"",
        (
            "Error: failed to discover sources",
            "",
            "Caused by:",
            "    0: connection reset by peer (os error 104)",
        ),
        category="adapter",
        retryable=True,
    ),
    Row(
        "operation_timed_out_without_json",
        1,
        b"",
        ("Error: failed to list Fivetran connectors: operation timed out",),
        category="adapter",
        retryable=True,
    ),
    Row(
        "rate_limited_without_json",
        1,
        b"",
        ("Error: rate limited — retry after backoff",),
        category="adapter",
        retryable=True,
    ),
    Row(
        "unauthorized_without_json",
        1,
        b"",
        ("Error: failed to list Fivetran connectors: API error (401): HTTP 401 Unauthorized",),
        category="adapter",
        retryable=False,
    ),
    Row(  # EAGAIN on a local file lock is not the network
        "duckdb_lock_without_json",
        1,
        b"",
        (
            "Error: failed to open DuckDB database 'w.duckdb'",
            "",
            "Caused by:",
            '    0: IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held',
            "    1: Resource temporarily unavailable (os error 11)",
        ),
        category="engine",
        retryable=True,
    ),
    Row(  # main.rs ~3759 over ConfigError: the folder holds no loadable project
        "config_not_loadable_without_json",
        1,
        b"",
        (
            "Error: failed to load config from rocky.toml",
            "",
            "Caused by:",
            "    0: No rocky.toml found at 'x'",
        ),
        category="usage",
        retryable=False,
    ),
    Row(  # "governance" as a word in a list of names is no governance refusal
        "governance_as_a_name_without_json",
        1,
        b"",
        ("Error: unknown scenario 'x' (known: success, governance_refused, slow)",),
        category="engine",
        retryable=True,
    ),
    Row(
        "unrecognised_error_without_json",
        1,
        b"",
        ("Error: something this provider has never seen",),
        category="engine",
        retryable=True,
    ),
    Row("exit_0_without_json", 0, b"", category="output", retryable=False),
    Row("garbage_stdout", 0, b"done, not JSON\n", category="output", retryable=False),
    Row("invalid_run_result", 0, b'{"command": "run"}', category="output", retryable=False),
    Row(
        "stdout_past_the_cap",
        0,
        run_json(),
        ended={"stdout_overflow": True, "stdout_bytes": 10**9},
        category="output",
        retryable=False,
    ),
    Row(
        "binary_missing",
        None,
        ended={"spawn_error": "FileNotFoundError: rocky"},
        category="binary_missing",
        retryable=False,
    ),
    Row(
        "engine_too_old",
        None,
        ended={
            "spawn_error": "rocky is rocky 1.60.0, older than 1.71.0",
            "spawn_error_kind": "engine_version",
        },
        category="engine_version",
        retryable=False,
    ),
    Row(
        "working_dir_missing",
        None,
        ended={
            "spawn_error": "project_dir '/nope' does not exist on host h",
            "spawn_error_kind": "working_dir_missing",
        },
        category="usage",
        retryable=False,
    ),
    Row(
        "deadline",
        -9,
        ended={"timed_out": True, "deadline_reason": "timeout_seconds=5"},
        category="timeout",
        retryable=True,
    ),
    Row("killed_by_the_task", -15, ended={"killed": True}, category="interrupted", retryable=True),
    Row("killed_by_a_stranger", -9, category="engine", retryable=True),
    Row(
        "panic", 101, b"", ("thread 'main' panicked at src/main.rs:1:1",), category="engine", retryable=False
    ),
    # Engines after 1.71: a run whose only failure is the check gate is PartialFailure, exit 2.
    Row(
        "quality_gate_current",
        2,
        run_json(status="PartialFailure", check_results=[GATE_CHECK], check_gate_failed=True),
        ("Error: check gate failed: 1 error-severity check(s) failed",),
        category="quality_check",
        retryable=False,
    ),
    Row(
        "quality_gate_current_strict_partial",
        2,
        run_json(status="PartialFailure", check_gate_failed=True),
        options={"fail_on_partial": True},
        category="quality_check",
        retryable=False,
    ),
    Row(
        "verify_after_current",
        2,
        run_json(status="PartialFailure", verify_after_failed=True),
        category="quality_check",
        retryable=False,
    ),
    Row("gate_with_exit_0", 0, run_json(check_gate_failed=True), category="quality_check", retryable=False),
    Row("unknown_status", 0, run_json(status="SkippedBudget"), category="output", retryable=False),
    Row("unknown_status_exit_1", 1, run_json(status="Cancelled"), category="output", retryable=False),
    Row("unrecognized_failure_kind", 1, total("throttled"), category="engine", retryable=True),
    Row(
        "unrecognized_beside_transient",
        1,
        total("transient", "throttled"),
        category="engine",
        retryable=True,
    ),
    Row(  # a retry re-runs the tables that failed for good too: still permanent
        "auth_beside_transient",
        1,
        total("transient", "auth-failed"),
        category="adapter",
        retryable=False,
    ),
    Row(
        "partial_unrecognized_strict",
        2,
        partial("throttled"),
        options={"fail_on_partial": True},
        outcome="partial",
        category="partial",
        retryable=False,
    ),
    # One verdict per signal, with or without JSON on stdout.
    Row("sigsegv_without_json", -11, category="engine", retryable=False),
    Row("sigsegv_after_json", -11, run_json(), category="engine", retryable=False),
    Row("sigkill_after_json", -9, run_json(), category="engine", retryable=True),
    Row("sigterm_from_outside", -15, category="interrupted", retryable=True),
    Row("sigabrt_after_json", -6, run_json(status="PartialFailure"), category="engine", retryable=False),
    # 1.71-shaped output that rocky-sdk 0.16+ reject as is: repaired, not failed.
    Row(
        "drift_1_71_without_asset_key",
        0,
        run_json(
            drift={
                "tables_checked": 1,
                "tables_drifted": 1,
                "actions_taken": [{"table": "wh.s.t", "action": "add_columns", "reason": "new column"}],
            }
        ),
        outcome="success",
    ),
    Row("missing_essential_field", 0, run_json(tables_copied=None), category="output", retryable=False),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_taxonomy_row_reaches_its_verdict(row: Row) -> None:
    outcome = ProcessOutcome(
        exit_code=row.exit_code, stdout=row.stdout, stderr_tail=list(row.stderr), **row.ended
    )
    verdict = interpret(outcome, command=["rocky", "run"], max_stdout_bytes=1024, **row.options)
    assert verdict.outcome == row.outcome
    if row.category is None:
        assert verdict.error is None, verdict.error
        return
    assert verdict.error is not None
    assert (verdict.error.category, verdict.error.retryable) == (row.category, row.retryable), str(
        verdict.error
    )
    assert verdict.error.exit_code == row.exit_code and verdict.error.stderr_tail == list(row.stderr)


#: Categories only the other commands reach (tests/verdict/test_gates_table.py covers them).
OTHER_COMMANDS = {"health", "test", "freshness"}


def test_the_table_covers_every_category_a_run_can_reach() -> None:
    from typing import get_args

    from airflow_provider_rocky.exceptions import Category

    expected = set(get_args(Category)) - OTHER_COMMANDS
    assert {row.category for row in ROWS if row.category} == expected
