"""`make demo` is the README Quickstart: deferrable, and no WARNING of its own making on a green run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def test_no_connection_extra_value_makes_airflow_warn_it_is_too_short_to_mask(tmp_path: Path) -> None:
    """Airflow registers every extra value with its masker on lookup (``Connection.get_uri`` calls
    ``extra_dejson``) and warns "Skipping masking for a secret as it's too short" for the first one
    under ``[logging] min_length_masked_secret`` (5): 0.1.0's demo put ``ROCKY_STANDIN_DELAY=0.4`` there.
    """
    demo = load(ROOT / "scripts" / "demo.py")
    env = demo.environment(tmp_path, tmp_path / "project", str(tmp_path / "bin" / "rocky"), standin=True)
    for name in ("AIRFLOW_CONN_ROCKY_DEFAULT", "AIRFLOW_CONN_ROCKY_DUCKDB_DEFAULT"):
        extra = json.loads(env[name]).get("extra", {})
        assert [text for text in strings(extra) if len(text) < 5] == [], name
    assert env["ROCKY_STANDIN_DELAY"] == "0.4", "the stand-in's pace travels in the environment instead"


def test_the_quickstart_example_is_the_readme_quickstart_deferrable() -> None:
    quickstart = load(ROOT / "example_dags" / "rocky_quickstart.py")
    assert quickstart.rocky_run.dag_id == "rocky_quickstart" and quickstart.rocky_run.deferrable is True
    readme = (ROOT / "README.md").read_text()
    assert "deferrable=True" in readme.split("## Quickstart", 1)[1].split("##", 1)[0]
