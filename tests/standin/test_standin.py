"""The stand-in rocky engine, exercised as a real subprocess (no mocks, no Airflow).

Every JSON it prints must validate against the engine's published schema (when the shared corpus is
present) and parse with ``rocky_sdk.RunResult``, because every provider test runs against it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from rocky_sdk import RockyClient
from standin_process import (
    COMPILE_SCHEMA,
    DOCTOR_SCHEMA,
    LEVELS,
    RUN_ID_RE,
    SHUTDOWN_LINE,
    Completed,
    Live,
    base_env,
    error_line,
    rocky_run,
    run_standin,
    validate_schema,
    wait_until_caught,
)

from airflow_provider_rocky.testing import (
    SCENARIOS,
    STANDIN_VERSION,
    install_standin,
    read_record,
)


# --------------------------------------------------------------------------------------------------
# version, scenarios
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(tmp_path: Path, flag: str) -> None:
    result = run_standin(flag, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"rocky {STANDIN_VERSION}\n"


@dataclass(frozen=True)
class Expect:
    code: int
    status: str | None  # None: nothing on stdout; "text": non-JSON stdout
    env: dict[str, str] = field(default_factory=dict)


FINITE = {
    "success": Expect(0, "Success"),
    "transformation": Expect(0, "Success"),
    "partitioned": Expect(0, "Success"),
    "partial": Expect(2, "PartialFailure"),
    "partial_transient": Expect(2, "PartialFailure"),
    "total_failure": Expect(1, "Failure"),
    "adapter_transient": Expect(1, "Failure"),
    "adapter_auth": Expect(1, "Failure"),
    "hard_failure": Expect(1, None),
    "network_failure": Expect(1, None),
    "usage": Expect(2, None),
    "state_locked": Expect(1, None),
    "state_busy": Expect(1, None),
    "state_schema_mismatch": Expect(1, None),
    "compile_error": Expect(1, "Failure"),
    "contract_violation": Expect(1, "Failure"),
    "budget_breach": Expect(1, "Success"),
    "quality_gate": Expect(1, "Success"),
    "quality_warn": Expect(0, "Success"),
    "verify_after_gate": Expect(1, "Success"),
    "observations": Expect(0, "Success"),
    "contained": Expect(2, "PartialFailure"),
    # Scenarios of the other commands (tests/standin/test_commands.py): a plain success under `run`.
    **dict.fromkeys(
        (
            "doctor_warning",
            "doctor_critical",
            "compile_warning",
            "test_failure",
            "freshness_warn",
            "freshness_error",
            "discover_failed_source",
            "sync_trigger",
        ),
        Expect(0, "Success"),
    ),
    "drift": Expect(0, "Success"),
    "governance_refused": Expect(1, None),
    "slow": Expect(0, "Success"),
    "garbage_stdout": Expect(0, "text"),
    "huge_stdout": Expect(0, "Success", {"ROCKY_STANDIN_TABLES": "1500"}),
    "non_utf8_stderr": Expect(0, "Success"),
    "many_lines": Expect(0, "Success", {"ROCKY_STANDIN_LINES": "700"}),
    "stream_rate": Expect(
        0, "Success", {"ROCKY_STANDIN_LINES_PER_SEC": "200", "ROCKY_STANDIN_SECONDS": "0.25"}
    ),
}
SIGNAL_SCENARIOS = {"hang", "hang_ignore_term", "grandchild", "interruptible"}


def test_every_scenario_is_covered() -> None:
    assert set(SCENARIOS) == set(FINITE) | SIGNAL_SCENARIOS


@pytest.fixture(scope="module")
def scenario_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Completed]:
    """One run per finite scenario (``--filter source=orders``), shared by the assertions below."""
    results = {}
    for name, expect in FINITE.items():
        cwd = tmp_path_factory.mktemp(name)
        results[name] = rocky_run("--filter", "source=orders", cwd=cwd, scenario=name, env=expect.env)
    return results


@pytest.mark.parametrize("name", sorted(FINITE))
def test_scenario_exit_code_stdout_and_status(scenario_results: dict[str, Completed], name: str) -> None:
    expect, result = FINITE[name], scenario_results[name]
    assert result.returncode == expect.code, result.stderr[-2000:]
    if expect.status is None:
        assert result.stdout == ""
    elif expect.status == "text":
        assert result.stdout.strip()
        with pytest.raises(json.JSONDecodeError):
            json.loads(result.stdout)
    else:
        assert result.json is not None
        assert result.json["status"] == expect.status
        assert result.json["filter"] == "source=orders"
        assert result.json["interrupted"] is False


def test_partial_reports_failed_tables_and_resume_hint(scenario_results: dict[str, Completed]) -> None:
    result = scenario_results["partial"]
    doc = result.json
    assert doc is not None
    assert doc["tables_copied"] >= 1 and doc["tables_failed"] >= 1
    assert [m["asset_key"] for m in doc["materializations"]] == [["duckdb", "orders", "orders"]]
    assert all(e["asset_key"] == [] and e["failure_kind"] == "query-rejected" for e in doc["errors"])
    assert result.returncode == 2 and not [line for line in result.stderr_lines if line.startswith("Error:")]


def test_partial_transient_failures_carry_cooldown(scenario_results: dict[str, Completed]) -> None:
    doc = scenario_results["partial_transient"].json
    assert doc is not None and doc["errors"]
    for error in doc["errors"]:
        assert error["failure_kind"] in ("transient", "connection-failed")
        assert error["cooldown_seconds"] > 0


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("total_failure", "query-rejected"),
        ("adapter_transient", "transient"),
        ("adapter_auth", "auth-failed"),
    ],
)
def test_total_failures_land_nothing(scenario_results: dict[str, Completed], name: str, kind: str) -> None:
    result = scenario_results[name]
    doc = result.json
    assert doc is not None
    assert doc["materializations"] == [] and doc["tables_copied"] == 0
    assert doc["tables_failed"] == len(doc["errors"]) == 2
    assert {e["failure_kind"] for e in doc["errors"]} == {kind}
    assert ("cooldown_seconds" in doc["errors"][0]) == (kind == "transient")
    assert "table(s) failed during parallel execution" in error_line(result)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("hard_failure", "Error: failed to prepare target schema"),
        (
            "state_locked",
            "is locked by another process; only one rocky writer can run at a time against the "
            "same state file",
        ),
        ("state_busy", "is busy — another rocky process"),
        (
            "state_schema_mismatch",
            "Error: state schema version mismatch: database has v23, binary expects v22",
        ),
        ("governance_refused", "workspace_ids is empty"),
        ("network_failure", "connection reset by peer (os error 104)"),
    ],
)
def test_hard_failures_write_an_error_line(
    scenario_results: dict[str, Completed], name: str, needle: str
) -> None:
    result = scenario_results[name]
    assert needle in result.stderr
    assert error_line(result)
    if name == "hard_failure":
        assert "\n\nCaused by:\n    0: " in result.stderr
    if name == "state_busy":
        assert error_line(result).endswith("Retry in a moment.")


def test_usage_scenario_is_a_clap_error(scenario_results: dict[str, Completed]) -> None:
    result = scenario_results["usage"]
    assert result.stderr.startswith("error: ")
    assert "Usage: rocky run [OPTIONS]" in result.stderr
    assert result.stderr.rstrip().endswith("For more information, try '--help'.")


@pytest.mark.parametrize(
    ("name", "codes"), [("compile_error", ["E001"]), ("contract_violation", ["E010", "E012", "E013"])]
)
def test_compile_failures(scenario_results: dict[str, Completed], name: str, codes: list[str]) -> None:
    result = scenario_results[name]
    doc = result.json
    assert doc is not None
    assert doc["materializations"] == [] and doc["tables_failed"] == 1
    assert [e["error"].split()[0] for e in doc["errors"]] == codes
    assert all(
        e["failure_kind"] == "compile-error" and e["asset_key"] == ["fct_daily_orders"] for e in doc["errors"]
    )
    assert "model(s) failed" in error_line(result)


def test_budget_breach(scenario_results: dict[str, Completed]) -> None:
    result = scenario_results["budget_breach"]
    doc = result.json
    assert doc is not None
    (breach,) = doc["budget_breaches"]
    assert breach["limit_type"] == "max_usd" and breach["actual"] > breach["limit"]
    assert doc["cost_summary"]["total_cost_usd"] == pytest.approx(breach["actual"])
    assert error_line(result) == (
        f"Error: budget exceeded — max_usd: actual {breach['actual']:.2f} > limit {breach['limit']:.2f}"
    )


def test_quality_gate(scenario_results: dict[str, Completed]) -> None:
    result = scenario_results["quality_gate"]
    doc = result.json
    # Engine 1.71 has no gate field: a gated run is status Success, exit 1 and this Error line.
    assert doc is not None and "check_gate_failed" not in doc and doc["pipeline_type"] == "quality"
    failed = [
        c for t in doc["check_results"] for c in t["checks"] if not c["passed"] and c["severity"] == "error"
    ]
    assert len(failed) == 1
    assert error_line(result) == "Error: quality pipeline failed: 1 error-severity check(s) failed"


def test_quality_warn_has_a_failed_check_but_exits_zero(scenario_results: dict[str, Completed]) -> None:
    doc = scenario_results["quality_warn"].json
    assert doc is not None
    assert any(not c["passed"] for t in doc["check_results"] for c in t["checks"])
    assert "check_gate_failed" not in doc


def test_drift_actions(scenario_results: dict[str, Completed]) -> None:
    doc = scenario_results["drift"].json
    assert doc is not None
    actions = [a["action"] for a in doc["drift"]["actions_taken"]]
    assert actions[0] == "drop_and_recreate" and len(actions) == doc["drift"]["tables_drifted"] == 2
    assert all(a["table"].count(".") == 2 for a in doc["drift"]["actions_taken"])


def test_slow_streams_progress_lines(scenario_results: dict[str, Completed]) -> None:
    assert len(scenario_results["slow"].tracing()) >= 10


def test_huge_stdout(scenario_results: dict[str, Completed]) -> None:
    doc = scenario_results["huge_stdout"].json
    assert doc is not None and len(doc["materializations"]) == doc["tables_copied"] == 1500


def test_non_utf8_stderr(scenario_results: dict[str, Completed]) -> None:
    raw = scenario_results["non_utf8_stderr"].stderr_bytes
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert max(len(line) for line in raw.split(b"\n")) >= 10 * 1024 * 1024
    assert not raw.endswith(b"\n")


def test_many_lines(scenario_results: dict[str, Completed]) -> None:
    progress = [e for e in scenario_results["many_lines"].tracing() if "seq" in e["fields"]]
    assert [e["fields"]["seq"] for e in progress] == list(range(1, 701))


def test_stream_rate_lines_carry_wall_clock(scenario_results: dict[str, Completed]) -> None:
    ticks = [e["fields"] for e in scenario_results["stream_rate"].tracing() if "t_ns" in e["fields"]]
    assert len(ticks) == 50
    stamps = [tick["t_ns"] for tick in ticks]
    assert stamps == sorted(stamps)
    assert all(str(tick["t_ns"]) in tick["message"] for tick in ticks)


def test_tracing_lines_are_structured(scenario_results: dict[str, Completed]) -> None:
    result = scenario_results["success"]
    events = result.tracing()
    assert len(events) == len(result.stderr_lines) >= 5
    for event in events:
        assert event["level"] in LEVELS
        assert isinstance(event["fields"]["message"], str)
        assert event["target"].startswith("rocky")
        assert RUN_ID_RE.match(event["span"]["run_id"]) and event["span"]["name"] == "run"
        datetime.fromisoformat(event["timestamp"])
    assert any(e["fields"]["message"].startswith("copying staging__orders.orders") for e in events)


# --------------------------------------------------------------------------------------------------
# argv: clap errors (exit 2) and engine bails (exit 1)
# --------------------------------------------------------------------------------------------------
#: Value errors: clap 4.6's ``Error::value_validation`` / ``invalid_value`` carry no usage line.
NO_USAGE = [
    ["run", "--lookback", "abc"],
    ["run", "--parallel", "-1"],
    ["run", "--filter"],
    ["--output", "xml", "run"],
]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--partition", "2026-04-01", "--from", "2026-04-01", "--to", "2026-04-02"],
        ["run", "--partition", "2026-04-01", "--latest"],
        ["run", "--missing", "--partition", "2026-04-01"],
        ["run", "--latest", "--missing"],
        ["run", "--from", "2026-04-01", "--to", "2026-04-02", "--latest"],
        ["run", "--to", "2026-04-02", "--from", "2026-04-01", "--missing"],
        ["plan", "--latest", "--missing"],
        ["plan", "--from", "2026-04-01"],
        ["run", "--from", "2026-04-01"],
        ["run", "--to", "2026-04-01"],
        ["run", "--branch", "b", "--shadow"],
        ["run", "--defer-to", "prod"],
        ["run", "--dag", "--defer"],
        ["run", "--dag", "--assume-fresh-state"],
        ["run", "--watch", "--idempotency-key", "k"],
        ["run", "--lookback", "abc"],
        ["run", "--parallel", "-1"],
        ["run", "--filter"],
        ["run", "--filter", "a=b", "--filter", "c=d"],
        ["run", "--all=yes"],
        ["run", "--fail-on-check-error"],
        ["run", "stray"],
        ["run", "--config", "rocky.toml"],
        ["--output", "xml", "run"],
        ["seed", "--model", "m"],
        ["lineage"],  # a subcommand the stand-in does not emulate
        ["freshness"],  # engine 1.71 (the default) has no freshness yet
        ["apply"],  # apply needs its PLAN_ID
        [],
    ],
)
def test_clap_errors_exit_2_without_stdout(tmp_path: Path, argv: list[str]) -> None:
    result = run_standin(*argv, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert ("\nUsage: rocky " in result.stderr) is (argv not in NO_USAGE)
    assert result.stderr.endswith("For more information, try '--help'.\n")


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (
            ["run", "--latest", "--missing"],
            "error: the argument '--latest' cannot be used with '--missing'\n\nUsage: rocky run --latest\n",
        ),
        (
            ["run", "--filter=a=b", "--partition=2026-04-01", "--from=2026-04-01", "--to=2026-04-02"],
            "error: the argument '--partition <PARTITION>' cannot be used with:\n  --from <FROM>\n"
            "  --to <TO>\n\nUsage: rocky run --filter <FILTER> --partition <PARTITION>\n",
        ),
        (
            ["run", "--from=2026-04-01"],
            "error: the following required arguments were not provided:\n  --to <TO>\n\n"
            "Usage: rocky run --from <FROM> --to <TO>\n",
        ),
        (
            ["run", "--lookback=-1"],
            "error: invalid value '-1' for '--lookback <LOOKBACK>': invalid digit found in string\n\n"
            "For more information",
        ),
    ],
)
def test_clap_error_text(tmp_path: Path, argv: list[str], text: str) -> None:
    """clap 4.6.6's wording (``clap_builder/src/error/format.rs``), value names from the derive."""
    result = run_standin(*argv, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(text)


def test_a_key_from_the_environment_counts_for_clap(tmp_path: Path) -> None:
    """``env = "ROCKY_IDEMPOTENCY_KEY"`` makes the variable a given argument: ``--watch`` conflicts."""
    result = run_standin("run", "--watch", cwd=tmp_path, env={"ROCKY_IDEMPOTENCY_KEY": "k"})
    assert result.returncode == 2
    assert "the argument '--watch' cannot be used with '--idempotency-key <KEY>'" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--filter", "no-equals"], "Error: invalid filter 'no-equals': expected key=value"),
        (["--state-namespace", "bad-ns", "run"], "Error: invalid --state-namespace 'bad-ns'"),
        (["run", "--governance-override", "{not json"], "Error: invalid --governance-override: "),
        (["run", "--governance-override", '{"workspace_ids": ["w1"]}'], "expected u64"),
        (["run", "--governance-override", '{"workspace_ids": []}'], "Error: refusing governance override"),
        (
            ["run", "--governance-override", "@missing.json"],
            "Error: failed to read --governance-override file",
        ),
        (
            ["run", "--idempotency-key", "k", "--resume", "run-1"],
            "Error: --idempotency-key cannot be combined",
        ),
        (["run", "--idempotency-key", "k", "--resume-latest"], "Error: --idempotency-key cannot be combined"),
        (["run", "--assume-fresh-state"], "Error: --assume-fresh-state requires a remote `[state]` backend"),
        (["run", "--var", "region"], "Error: invalid --var 'region': expected name=value"),
        (["run", "--var", "9x=1"], "Error: invalid --var name '9x'"),
        (["run", "--dag", "--var", "a=1"], "Error: --var is not yet supported with --dag or --watch"),
        (["run", "--dag", "--models", "models"], "Error: --models is not supported with --dag"),
        (["run", "--dag", "--shadow"], "Error: --shadow / --branch is not supported by `rocky run --dag`"),
        (
            ["run", "--pipeline", "customers_history", "--shadow"],
            "Error: --shadow / --branch is not supported for snapshot pipelines",
        ),
        (["compile", "--var", "x"], "Error: invalid --var 'x'"),
        (["seed", "--seeds", "nowhere"], "Error: failed to discover seeds in nowhere"),
        (["run", "--partition", "2026-13-45"], "Error: invalid partition key '2026-13-45'"),
        (["run", "--from", "2026-04-05", "--to", "2026-04-01"], "is after --to"),
    ],
)
def test_engine_bails_exit_1_without_stdout(tmp_path: Path, argv: list[str], message: str) -> None:
    result = run_standin("--output", "json", *argv, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr_lines[-1] or message in result.stderr


def test_governance_override_accepted_forms(tmp_path: Path) -> None:
    (tmp_path / "override.json").write_text(
        json.dumps({"workspace_ids": [], "allow_empty_workspace_ids": True})
    )
    for value in (
        "@override.json",
        json.dumps({"workspace_ids": [{"id": 7, "binding_type": "READ_WRITE"}, 8]}),
    ):
        result = rocky_run("--filter", "source=orders", "--governance-override", value, cwd=tmp_path)
        assert result.returncode == 0 and result.json is not None


def test_principal_env(tmp_path: Path) -> None:
    bad = rocky_run(cwd=tmp_path, env={"ROCKY_PRINCIPAL": "robot"})
    assert bad.returncode == 1 and bad.stdout == ""
    assert error_line(bad) == "Error: invalid ROCKY_PRINCIPAL 'robot': expected 'human' or 'agent'"
    human = run_standin(
        "--principal", "human", "-o", "json", "run", cwd=tmp_path, env={"ROCKY_PRINCIPAL": "agent"}
    )
    assert human.returncode == 0
    assert human.stderr_lines[0].startswith("warning: --principal human overrides ROCKY_PRINCIPAL=agent")


def test_unknown_scenario_is_a_setup_error(tmp_path: Path) -> None:
    result = rocky_run(cwd=tmp_path, scenario="no_such_scenario")
    assert result.returncode == 64 and result.stdout == ""
    assert "unknown ROCKY_STANDIN_SCENARIO 'no_such_scenario'" in result.stderr


# --------------------------------------------------------------------------------------------------
# run shapes: replication, models, partitions, output formats
# --------------------------------------------------------------------------------------------------
def test_replication_shape(tmp_path: Path) -> None:
    doc = rocky_run("--filter", "source=orders", cwd=tmp_path).json
    assert doc is not None and doc["pipeline_type"] == "replication"
    (first, second) = doc["materializations"]
    assert first["asset_key"] == ["duckdb", "orders", "orders"]
    assert first["metadata"]["target_table_full_name"] == "warehouse.staging__orders.orders"
    assert "sql_hash" not in first["metadata"]
    assert second["asset_key"][-1] == "order_items"
    assert doc["cost_summary"]["adapter_type"] == "duckdb"


def test_no_filter_selects_every_source(tmp_path: Path) -> None:
    doc = rocky_run("--filter", "", cwd=tmp_path).json
    assert doc is not None and doc["filter"] == "" and doc["tables_copied"] == 6


def test_transformation_models_shape(tmp_path: Path) -> None:
    doc = rocky_run("--filter", "source=orders", "--models", "models", cwd=tmp_path).json
    assert doc is not None and doc["pipeline_type"] == "transformation"
    keys = [m["asset_key"] for m in doc["materializations"]]
    assert keys == [["", "marts", "dim_customers"], ["", "marts", "fct_daily_orders"]]
    meta = doc["materializations"][1]["metadata"]
    assert meta["target_table_full_name"] == ".marts.fct_daily_orders"
    assert re.fullmatch(r"[0-9a-f]{16}", meta["sql_hash"]) and meta["column_count"] == 3
    assert "compile_time_ms" in meta


def test_all_runs_replication_then_models(tmp_path: Path) -> None:
    doc = rocky_run("--filter", "source=orders", "--models", "models", "--all", cwd=tmp_path).json
    assert doc is not None
    assert [m["asset_key"][0] for m in doc["materializations"]] == ["duckdb", "duckdb", "", ""]


def test_models_dir_and_sidecar(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "stg_events.sql").write_text("select 1")
    (models / "daily_events.sql").write_text("select 1")
    (models / "daily_events.toml").write_text('[target]\ncatalog = "lake"\nschema = "gold"\n')
    doc = rocky_run("--models", "models", cwd=tmp_path).json
    assert doc is not None
    assert [m["asset_key"] for m in doc["materializations"]] == [
        ["lake", "gold", "daily_events"],
        ["", "marts", "stg_events"],
    ]
    missing = rocky_run("--models", "models", "--model", "nope", cwd=tmp_path)
    assert missing.returncode == 1 and "Error: model 'nope' not found" in missing.stderr


@pytest.mark.parametrize(
    ("flags", "keys"),
    [
        (
            ["--from", "2026-04-04", "--to", "2026-04-08"],
            ["2026-04-04", "2026-04-05", "2026-04-06", "2026-04-07", "2026-04-08"],
        ),
        (["--partition", "2026-04-07", "--lookback", "2"], ["2026-04-05", "2026-04-06", "2026-04-07"]),
        (["--partition", "2026-04"], ["2026-04"]),
        (
            ["--from", "2026-04-07T22", "--to", "2026-04-08T01"],
            ["2026-04-07T22", "2026-04-07T23", "2026-04-08T00", "2026-04-08T01"],
        ),
    ],
)
def test_partitioned_runs(tmp_path: Path, flags: list[str], keys: list[str]) -> None:
    doc = rocky_run("--models", "models", *flags, cwd=tmp_path).json
    assert doc is not None
    assert [m["partition"]["key"] for m in doc["materializations"]] == keys
    assert {tuple(m["asset_key"]) for m in doc["materializations"]} == {("", "marts", "fct_daily_orders")}
    assert all(m["metadata"]["strategy"] == "time_interval" for m in doc["materializations"])
    assert doc["partition_summaries"] == [
        {
            "model": "fct_daily_orders",
            "partitions_planned": len(keys),
            "partitions_succeeded": len(keys),
            "partitions_failed": 0,
        }
    ]
    first = doc["materializations"][0]["partition"]
    assert first["start"] < first["end"]


def test_latest_is_today_utc(tmp_path: Path) -> None:
    doc = rocky_run("--latest", cwd=tmp_path).json
    assert doc is not None
    assert [m["partition"]["key"] for m in doc["materializations"]] == [
        datetime.now(UTC).strftime("%Y-%m-%d")
    ]


def test_partial_partitions_count_failures(tmp_path: Path) -> None:
    doc = rocky_run(
        "--models", "models", "--from", "2026-04-01", "--to", "2026-04-04", cwd=tmp_path, scenario="partial"
    ).json
    assert doc is not None and doc["status"] == "PartialFailure"
    assert doc["partition_summaries"][0] == {
        "model": "fct_daily_orders",
        "partitions_planned": 4,
        "partitions_succeeded": 2,
        "partitions_failed": 2,
    }
    assert all(e["asset_key"] == ["fct_daily_orders"] for e in doc["errors"])


def test_shadow_resume_parallel_and_key_echo(tmp_path: Path) -> None:
    doc = rocky_run(
        "--filter",
        "source=orders",
        "--shadow",
        "--shadow-suffix",
        "_pr42",
        "--resume",
        "run-20260101-000000-001",
        "--parallel",
        "8",
        cwd=tmp_path,
    ).json
    assert doc is not None
    assert doc["shadow"] is True and doc["resumed_from"] == "run-20260101-000000-001"
    assert doc["execution"]["concurrency"] == 8
    assert doc["materializations"][0]["metadata"]["target_table_full_name"].endswith(".orders_pr42")
    assert doc["materializations"][0]["asset_key"] == ["duckdb", "orders", "orders"]


def test_skip_unchanged_reports_model_decisions(tmp_path: Path) -> None:
    doc = rocky_run("--models", "models", "--skip-unchanged", cwd=tmp_path).json
    assert doc is not None
    assert [d["model"] for d in doc["model_decisions"]] == ["dim_customers", "fct_daily_orders"]


def test_output_table_and_default_json_when_piped(tmp_path: Path) -> None:
    table = run_standin("--output", "table", "run", "--filter", "source=orders", cwd=tmp_path)
    assert table.returncode == 0 and table.json is None
    assert table.stdout.startswith("rocky run: Success")
    assert " INFO run{run_id=run-" in table.stderr
    piped = run_standin("run", "--filter", "source=orders", cwd=tmp_path)
    assert piped.json is not None and piped.tracing()


def test_rust_log_filters_levels(tmp_path: Path) -> None:
    quiet = rocky_run("--filter", "source=orders", cwd=tmp_path, env={"RUST_LOG": "warn"})
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = rocky_run("--filter", "source=orders", cwd=tmp_path, env={"RUST_LOG": "debug"})
    assert any(e["level"] == "DEBUG" for e in verbose.tracing())


# --------------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interruptible_graceful_shutdown(
    spawn: Callable[..., Live], tmp_path: Path, sig: signal.Signals
) -> None:
    pipes = tmp_path / "pipes.jsonl"
    live = spawn(
        "--output",
        "json",
        "run",
        "--filter",
        "source=orders",
        scenario="interruptible",
        env={
            "ROCKY_STANDIN_TABLES": "100",
            "ROCKY_STANDIN_SECONDS": "100",
            **_pipes_env({"path": str(pipes)}),
        },
    )
    live.wait_for(lambda line: '"message":"copied ' in line)
    live.proc.send_signal(sig)
    result = live.finish()
    assert result.returncode == 130
    doc = result.json
    assert doc is not None and doc["interrupted"] is True
    assert doc["tables_copied"] >= 1 and doc["tables_copied"] + doc["tables_failed"] == 100
    assert doc["status"] == "PartialFailure"
    assert SHUTDOWN_LINE in result.stderr_lines
    assert not pipes.exists()  # the Pipes batch is only written by a run that finished


def test_interruptible_before_any_table_is_a_failure(spawn: Callable[..., Live]) -> None:
    live = spawn(
        "--output",
        "json",
        "run",
        "--filter",
        "table=orders",
        scenario="interruptible",
        env={"ROCKY_STANDIN_SECONDS": "100"},
    )
    wait_until_caught(live.proc.pid, signal.SIGTERM)  # the fan-out started; no table finished yet
    live.proc.send_signal(signal.SIGTERM)
    result = live.finish()
    assert result.returncode == 130
    assert result.json is not None and result.json["status"] == "Failure" and result.json["interrupted"]


def test_hang_handles_sigterm_like_replication(spawn: Callable[..., Live]) -> None:
    live = spawn("--output", "json", "run", "--filter", "source=orders", scenario="hang")
    live.wait_for(lambda line: "copying staging__orders.order_items" in line)
    live.proc.send_signal(signal.SIGTERM)
    result = live.finish()
    assert result.returncode == 130
    assert result.json is not None and result.json["interrupted"] and result.json["tables_copied"] == 1


def test_hang_ignore_term_needs_sigkill(spawn: Callable[..., Live]) -> None:
    live = spawn("--output", "json", "run", scenario="hang_ignore_term")
    live.wait_for(lambda line: '"message":"copying ' in line)
    live.proc.send_signal(signal.SIGTERM)
    live.proc.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        live.proc.wait(timeout=1.0)
    live.killpg()
    assert live.proc.wait(timeout=10) == -signal.SIGKILL
    assert live.stdout == b""


def test_transformation_path_dies_on_sigterm(spawn: Callable[..., Live]) -> None:
    live = spawn(
        "--output", "json", "run", "--models", "models", scenario="success", env={"ROCKY_STANDIN_DELAY": "5"}
    )
    live.wait_for(lambda line: "rocky run starting" in line)
    live.proc.send_signal(signal.SIGTERM)
    assert live.proc.wait(timeout=10) == -signal.SIGTERM
    assert live.finish().stdout == ""


def test_grandchild_shares_the_process_group(spawn: Callable[..., Live], tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    live = spawn("--output", "json", "run", scenario="grandchild", env={"ROCKY_STANDIN_RECORD": str(record)})
    grandchild_pid = None
    try:
        line = live.wait_for(lambda text: "grandchild_pid" in text)
        grandchild_pid = json.loads(line)["fields"]["grandchild_pid"]
        events = [e for e in read_record(record) if e["event"] == "grandchild"]
        assert [e["pid"] for e in events] == [grandchild_pid]
        grandchild = psutil.Process(grandchild_pid)
        assert grandchild.is_running() and grandchild.status() != psutil.STATUS_ZOMBIE
        assert os.getpgid(grandchild_pid) == os.getpgid(live.proc.pid) == live.proc.pid
        assert live.proc.poll() is None
    finally:
        live.killpg()
    live.proc.wait(timeout=10)
    if grandchild_pid is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(grandchild_pid).wait(timeout=10)
        assert (
            not psutil.pid_exists(grandchild_pid)
            or psutil.Process(grandchild_pid).status() == psutil.STATUS_ZOMBIE
        )


def test_the_grandchild_knob_adds_a_quiet_helper_to_any_scenario(
    spawn: Callable[..., Live], tmp_path: Path
) -> None:
    """``ROCKY_STANDIN_GRANDCHILD=1``: the helper joins a normal run, in its group, writing nowhere."""
    record = tmp_path / "record.jsonl"
    env = {"ROCKY_STANDIN_RECORD": str(record), "ROCKY_STANDIN_GRANDCHILD": "1", "ROCKY_STANDIN_DELAY": "1"}
    live = spawn("--output", "json", "run", scenario="success", env=env)
    try:
        line = live.wait_for(lambda text: "grandchild_pid" in text)
        helper = int(json.loads(line)["fields"]["grandchild_pid"])
        assert os.getpgid(helper) == live.proc.pid
        assert {os.readlink(f"/proc/{helper}/fd/{fd}") for fd in (1, 2)} == {os.devnull}
    finally:
        live.killpg()
    live.proc.wait(timeout=10)
    plain = run_standin("--output", "json", "run", cwd=tmp_path, env={"ROCKY_STANDIN_RECORD": str(record)})
    assert plain.returncode == 0
    assert [e["event"] for e in read_record(record)].count("grandchild") == 1  # none without the knob


# --------------------------------------------------------------------------------------------------
# idempotency
# --------------------------------------------------------------------------------------------------
def test_same_key_twice_is_skipped(tmp_path: Path) -> None:
    first = rocky_run("--filter", "source=orders", "--idempotency-key", "nightly-1", cwd=tmp_path)
    assert first.json is not None and first.json["status"] == "Success"
    assert first.json["idempotency_key"] == "nightly-1"
    second = rocky_run("--filter", "source=orders", "--idempotency-key", "nightly-1", cwd=tmp_path)
    assert second.returncode == 0 and second.json is not None
    assert second.json["status"] == "SkippedIdempotent"
    assert second.json["skipped_by_run_id"] == first.run_id()
    assert second.json["materializations"] == [] and second.json["idempotency_key"] == "nightly-1"
    assert (tmp_path / "models" / ".rocky-state.redb.idempotency.json").exists()


def test_key_from_env_and_store_location(tmp_path: Path) -> None:
    first = rocky_run("--filter", "a=b", cwd=tmp_path, env={"ROCKY_IDEMPOTENCY_KEY": "env-key"})
    assert first.json is not None and first.json["idempotency_key"] == "env-key"
    ns = run_standin(
        "--state-namespace", "tenant_a", "--output", "json", "run", "--idempotency-key", "k", cwd=tmp_path
    )
    assert ns.json is not None and ns.json["status"] == "Success"
    assert (tmp_path / "models" / ".rocky-state" / "tenant_a.redb.idempotency.json").exists()
    sp = run_standin(
        "--state-path", "state/x.redb", "--output", "json", "run", "--idempotency-key", "k", cwd=tmp_path
    )
    assert sp.json is not None and sp.json["status"] == "Success"  # a different store: not deflected
    assert (tmp_path / "state" / "x.redb.idempotency.json").exists()


def test_failed_run_releases_the_key(tmp_path: Path) -> None:
    failed = rocky_run("--idempotency-key", "k", cwd=tmp_path, scenario="total_failure")
    assert failed.returncode == 1 and failed.json is not None and failed.json["idempotency_key"] == "k"
    retry = rocky_run("--idempotency-key", "k", cwd=tmp_path)
    assert retry.json is not None and retry.json["status"] == "Success"


# --------------------------------------------------------------------------------------------------
# record file, pipes, duckdb
# --------------------------------------------------------------------------------------------------
def test_record_file(tmp_path: Path) -> None:
    record = tmp_path / "rec.jsonl"
    env = {"ROCKY_STANDIN_RECORD": str(record), "MY_SECRET_TOKEN": "s3cr3t"}
    rocky_run("--filter", "source=orders", cwd=tmp_path, env=env, scenario="partial")
    run_standin("run", "--bogus", cwd=tmp_path, env=env)
    events = read_record(record)
    written = [e for e in events if e["event"] == "materialized"]
    start, end, usage_start, usage_end = [e for e in events if e["event"] in ("start", "end")]
    assert written and {e["pid"] for e in written} == {start["pid"]}, "each landed table, by whom"
    assert start["event"] == "start" and start["argv"] == [
        "--output",
        "json",
        "run",
        "--filter",
        "source=orders",
    ]
    assert start["env"]["MY_SECRET_TOKEN"] == "s3cr3t" and start["cwd"] == str(tmp_path)
    assert start["scenario"] == "partial" and start["pgid"] > 0
    assert end["time"] >= start["time"]
    del end["time"]
    assert end == {"event": "end", "pid": start["pid"], "exit_code": 2, "status": "PartialFailure"}
    assert usage_start["argv"] == ["run", "--bogus"] and usage_end["exit_code"] == 2
    assert read_record(tmp_path / "absent.jsonl") == []


def _pipes_env(channel: dict[str, str]) -> dict[str, str]:
    return {
        "DAGSTER_PIPES_CONTEXT": base64.b64encode(b"{}").decode(),
        "DAGSTER_PIPES_MESSAGES": base64.b64encode(json.dumps(channel).encode()).decode(),
    }


def test_pipes_messages_to_file(tmp_path: Path) -> None:
    path = tmp_path / "pipes.jsonl"
    result = rocky_run(
        "--filter", "source=orders", cwd=tmp_path, scenario="drift", env=_pipes_env({"path": str(path)})
    )
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    assert {m["__dagster_pipes_version"] for m in messages} == {"0.1"}
    methods = [m["method"] for m in messages]
    assert messages[0]["params"] == {"message": "rocky run starting", "level": "INFO"}
    assert methods[-1] == "closed" and messages[-1]["params"] is None
    mats = [m["params"] for m in messages if m["method"] == "report_asset_materialization"]
    assert [m["asset_key"] for m in mats] == ["duckdb/orders/orders", "duckdb/orders/order_items"]
    assert mats[0]["metadata"]["rows_copied"] == 12 and mats[0]["data_version"] is None
    drift = [m["params"] for m in messages if m["method"] == "report_asset_check"]
    assert drift[0]["check_name"] == "drift" and drift[0]["severity"] == "WARN"
    assert drift[0]["asset_key"] == "warehouse.staging__orders.orders"
    assert messages[-2]["params"]["message"].startswith("rocky run complete: 2 copied, 0 failed in ")
    assert result.json is not None


def test_pipes_transformation_and_stderr_channel(tmp_path: Path) -> None:
    result = rocky_run("--models", "models", cwd=tmp_path, env=_pipes_env({"stdio": "stderr"}))
    pipes = [
        json.loads(line) for line in result.stderr_lines if line.startswith('{"__dagster_pipes_version"')
    ]
    assert pipes[0]["params"]["message"] == "rocky run starting (transformation pipeline)"
    assert pipes[-1]["params"]["message"].startswith("rocky run complete: 2 models executed in ")
    assert "closed" not in [m["method"] for m in pipes]


@pytest.mark.parametrize(
    "messages",
    ["not-base64!", base64.b64encode(zlib.compress(b'{"path": "x"}')).decode()],
)
def test_undecodable_pipes_env_warns(tmp_path: Path, messages: str) -> None:
    env = {"DAGSTER_PIPES_CONTEXT": "x", "DAGSTER_PIPES_MESSAGES": messages}
    result = rocky_run("--filter", "source=orders", cwd=tmp_path, env=env)
    assert result.returncode == 0
    warns = [e for e in result.tracing() if e["level"] == "WARN" and e["target"] == "rocky::pipes"]
    assert len(warns) == 1
    assert not (tmp_path / "x").exists()


def test_duckdb_warehouse_matches_rows_copied(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "play.duckdb"\n')
    doc = rocky_run("--filter", "source=orders", "--models", "models", "--all", cwd=tmp_path).json
    assert doc is not None
    parts = rocky_run("--models", "models", "--from", "2026-04-01", "--to", "2026-04-03", cwd=tmp_path).json
    assert parts is not None and [m["rows_copied"] for m in parts["materializations"]] == [1, 1, 1]
    con = duckdb.connect(str(tmp_path / "play.duckdb"), read_only=True)
    try:
        for mat in doc["materializations"]:
            name = mat["metadata"]["target_table_full_name"].lstrip(".")
            (count,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            if name == "marts.fct_daily_orders":
                count -= 3  # the partitioned run added three April days
            assert count == mat["rows_copied"], name
        assert (
            doc["materializations"][0]["metadata"]["target_table_full_name"] == "play.staging__orders.orders"
        )
        april = con.execute(
            "SELECT count(*) FROM marts.fct_daily_orders "
            "WHERE order_date BETWEEN '2026-04-01' AND '2026-04-03'"
        ).fetchone()
        assert april == (3,)
    finally:
        con.close()


def test_no_config_means_no_warehouse_writes(tmp_path: Path) -> None:
    rocky_run("--filter", "source=orders", cwd=tmp_path)
    assert not list(tmp_path.glob("*.duckdb"))


# --------------------------------------------------------------------------------------------------
# doctor / compile, helpers, SDK
# --------------------------------------------------------------------------------------------------
def test_doctor_and_compile(tmp_path: Path) -> None:
    healthy = run_standin("--output", "json", "doctor", cwd=tmp_path)
    assert healthy.returncode == 0 and healthy.json is not None and healthy.json["overall"] == "healthy"
    validate_schema(healthy.json, DOCTOR_SCHEMA)
    critical = run_standin("--output", "json", "doctor", cwd=tmp_path, scenario="doctor_critical")
    assert critical.returncode == 3 and critical.json is not None and critical.json["overall"] == "critical"
    clean = run_standin("--output", "json", "compile", cwd=tmp_path)
    assert clean.returncode == 0 and clean.json is not None and clean.json["has_errors"] is False
    validate_schema(clean.json, COMPILE_SCHEMA)
    broken = run_standin("--output", "json", "compile", cwd=tmp_path, scenario="contract_violation")
    assert broken.returncode == 1 and broken.json is not None
    validate_schema(broken.json, COMPILE_SCHEMA)
    assert [d["code"] for d in broken.json["diagnostics"]] == ["E010", "E012", "E013"]
    assert error_line(broken) == "Error: compilation failed with errors"


def test_install_standin_and_console_script(tmp_path: Path) -> None:
    rocky = install_standin(tmp_path / "bin")
    assert rocky.name == "rocky" and os.access(rocky, os.X_OK)
    out = subprocess.run(
        [str(rocky), "--version"], capture_output=True, text=True, env=base_env(), check=True
    )
    assert out.stdout == f"rocky {STANDIN_VERSION}\n"
    script = Path(sys.executable).parent / "rocky-standin"
    if script.exists():
        out = subprocess.run(
            [str(script), "--version"], capture_output=True, text=True, env=base_env(), check=True
        )
        assert out.stdout.strip() == f"rocky {STANDIN_VERSION}"


def test_rocky_sdk_client_drives_the_standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rocky = install_standin(tmp_path / "bin")
    for key in [k for k in os.environ if k.startswith("ROCKY_STANDIN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ROCKY_STANDIN_DELAY", "0")
    monkeypatch.setenv("ROCKY_STANDIN_SCENARIO", "partial")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "sdk.duckdb"\n')
    client = RockyClient(binary_path=str(rocky), timeout_seconds=60)
    result = client.run(
        filter="tenant=acme",
        run_models=True,
        partition_from="2026-04-01",
        partition_to="2026-04-02",
        governance_override={"workspace_ids": [1]},
        idempotency_key="sdk-1",
        parallel=2,
    )
    assert result.status == "PartialFailure" and result.idempotency_key == "sdk-1"
    assert {tuple(m.asset_key) for m in result.materializations} >= {("duckdb", "acme", "orders")}
    assert result.partition_summaries and result.partition_summaries[0].partitions_planned == 2
