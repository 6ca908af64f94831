"""The stand-in refuses a project without rocky.toml, as the real engine does, unless a test opts in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.interpret import interpret

ARGV = [
    sys.executable,
    "-m",
    "airflow_provider_rocky.testing.engine",
    "--output",
    "json",
    "run",
    "--filter=a=b",
]


def standin(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "ROCKY_STANDIN_ALLOW_NO_CONFIG"}
    return subprocess.run(
        ARGV, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_no_rocky_toml_is_refused_like_the_engine_refuses_it(tmp_path: Path) -> None:
    """0.1.0's stand-in ran happily where the real engine exits 1: a wrong project_dir passed tests."""
    done = standin(tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert "Error: failed to load config from rocky.toml" in done.stderr.splitlines()
    assert "ROCKY_STANDIN_ALLOW_NO_CONFIG=1" in done.stderr
    outcome = ProcessOutcome(exit_code=1, stderr_tail=done.stderr.splitlines())
    verdict = interpret(outcome)
    assert verdict.error is not None and "failed to load config from rocky.toml" in str(verdict.error)
    assert (verdict.error.category, verdict.error.retryable) == ("usage", False), (
        "a retry reads the same folder"
    )


@pytest.mark.parametrize("opt_in", [True, False])
def test_a_project_or_the_opt_in_runs(tmp_path: Path, opt_in: bool) -> None:
    if opt_in:
        done = standin(tmp_path, ROCKY_STANDIN_ALLOW_NO_CONFIG="1")
    else:
        (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\n')
        done = standin(tmp_path)
    assert done.returncode == 0, done.stderr[-500:]
    assert '"status": "Success"' in done.stdout
