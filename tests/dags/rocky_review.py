"""example_dags/rocky_plan_review_apply.py pointed at the stand-in (tests/test_examples.py runs it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "example_dags"))

from rocky_plan_review_apply import build

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")

review = build(
    "review",
    binary_path=STANDIN,
    project_dir=WORK,
    env_vars={"ROCKY_STANDIN_DELAY": "0"},
)
