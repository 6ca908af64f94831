"""The state pool, as the docs tell users to create it (issue 20, item 7).

Airflow releases a deferred task's pool slot by default, and the engine runs while the task is
deferred: a pool created without ``--include-deferred`` lets two deferrable nodes run two engines on
one state file. Every pool command the docs show counts deferred tasks, and names the pool the
example next to it really uses. (``dag.test()`` ignores pools; ``make e2e`` runs a deferrable group
under the pool created with the docs' command and checks the engines never overlap.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from airflow_provider_rocky._project.state import pool_name

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "e2e" / "README.md",
    *sorted((ROOT / "example_dags").glob("*.py")),
    *sorted((ROOT / "airflow_provider_rocky").rglob("*.py")),
]
POOL_COMMAND = re.compile(r"airflow pools set ([^`\n]*)")


def test_every_pool_command_in_the_docs_counts_deferred_tasks() -> None:
    commands = [(path.name, found) for path in DOCS for found in POOL_COMMAND.findall(path.read_text())]
    assert len(commands) >= 3
    assert [c for c in commands if "--include-deferred" not in c[1]] == []


def test_the_task_group_page_example_and_its_pool_command_agree() -> None:
    section = (ROOT / "docs" / "task-group.md").read_text()
    example = section[section.index("```python") : section.index("```\n", section.index("```python") + 9)]
    operator_args = ast.literal_eval(re.search(r"operator_args=(\{.*?\})", example).group(1))  # type: ignore[union-attr]
    pool = pool_name(operator_args)
    assert pool == "rocky_state__rocky_prod"
    (first, *_rest) = POOL_COMMAND.findall(section)
    assert first.split()[0] == pool, f"the docs create {first.split()[0]}, the example uses {pool}"


def test_the_example_dag_names_its_own_pool() -> None:
    source = (ROOT / "example_dags" / "rocky_project.py").read_text()
    conn = re.search(r'"rocky_conn_id": "([^"]+)"', source).group(1)  # type: ignore[union-attr]
    pool = pool_name({"rocky_conn_id": conn})
    (command,) = POOL_COMMAND.findall(source)
    assert command.split()[0] == pool
