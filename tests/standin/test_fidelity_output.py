"""Conformance: exit codes, stdout and the final ``Error:`` line per outcome (contract §3.1, main.rs).

Rows of docs/engine-fidelity.md's *Exit codes and stdout* and *stderr forms* sections that no older
stand-in test pins; the stand-in runs as a real process.
"""

from __future__ import annotations

import json
from pathlib import Path

from standin_process import error_line, rocky_run


def test_a_partial_run_exits_2_after_its_json_with_no_error_line(tmp_path: Path) -> None:
    """``PartialFailure`` is mapped by ``std::process::exit(2)`` before ``main`` returns the error."""
    result = rocky_run("--filter", "source=orders", cwd=tmp_path, scenario="partial")
    assert result.returncode == 2 and result.json is not None and result.json["status"] == "PartialFailure"
    assert not [line for line in result.stderr_lines if line.startswith("Error:")]


def test_a_total_failure_exits_1_after_its_json_then_the_error_line(tmp_path: Path) -> None:
    """Replication with no table copied: ``anyhow::bail!`` after the JSON, rendered by ``Termination``."""
    result = rocky_run("--filter", "source=orders", cwd=tmp_path, scenario="total_failure")
    assert result.returncode == 1 and result.json is not None and result.json["status"] == "Failure"
    assert error_line(result).startswith("Error: ") and "failed during parallel execution" in error_line(
        result
    )


def test_stdout_is_one_pretty_printed_json_document(tmp_path: Path) -> None:
    """``print_json``: ``serde_json::to_string_pretty`` (two-space indent), one document, a newline."""
    result = rocky_run("--filter", "source=orders", cwd=tmp_path)
    assert result.stdout == json.dumps(result.json, indent=2, ensure_ascii=False) + "\n"
