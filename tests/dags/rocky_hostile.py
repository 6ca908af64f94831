"""Hostile inputs run by tests/project/ and tests/operators/: model names that look like Jinja
templates, a shared ephemeral model that renders as a join, a NUL from ``dag_run.conf``.

The manifest and the project (a ``models/`` folder the stand-in reads) are written beside the other
project DAGs' the first time this file is parsed. ``a49`` and ``v<secret>`` exist too: what the
names would render to, so a rendered name would run (the wrong model) instead of failing.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_rocky import RockyDAG
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing._standin.project import dag_document, shaped_nodes

WORK = Path(os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")) / "hostile"
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
#: Model names that are templates to Jinja; the secret is an Airflow Variable the test sets.
JINJA_NAMES = [
    "a{{ 7 * 7 }}",
    "v{{ var.value.get('rt_secret') }}",
    "b{{ unclosed",
    "c{% if true %}x{% endif %}",
]
SECRET = "rt-secret-value-4711"
PROJECT = WORK / "project"
MANIFEST = WORK / "jinja.json"
#: 12 models -> one ephemeral model -> 12 models: 144 edges pairwise, a join (24 edges) instead.
JOINED = WORK / "joined.json"


def _node(index: int, name: str) -> dict[str, object]:
    return {
        "id": f"transformation:{name}",
        "kind": "transformation",
        "label": f"label {name}",
        "target": {"catalog": "", "schema": "marts", "table": f"jinja_{index}"},
        "strategy": {"type": "full_refresh"},
    }


def _as_models(nodes: list[dict[str, object]]) -> list[dict[str, object]]:
    """The hub shape with its seeds as models: the join is the point here, not how seeds run."""
    renamed = {str(n["id"]): str(n["id"]).replace("seed:", "transformation:") for n in nodes}
    out = []
    for node in nodes:
        kind = "transformation" if node["kind"] == "seed" else node["kind"]
        deps = [renamed[d] for d in node.get("depends_on", [])]  # type: ignore[attr-defined]
        out.append({**node, "id": renamed[str(node["id"])], "kind": kind, "depends_on": deps})
    return out


if not MANIFEST.exists():
    (PROJECT / "models").mkdir(parents=True, exist_ok=True)
    for _name in [*JINJA_NAMES, "a49", f"v{SECRET}"]:
        (PROJECT / "models" / f"{_name}.sql").write_text("select 1 as id\n")
    MANIFEST.write_text(json.dumps(dag_document([_node(i, n) for i, n in enumerate(JINJA_NAMES)], "1.71.0")))
    JOINED.write_text(json.dumps(dag_document(_as_models(shaped_nodes("hub", 25)), "1.71.0")))

for _mode in ("sync", "deferrable"):
    _extra = {"deferrable": True, "event_hold_seconds": 0} if _mode == "deferrable" else {}
    _env = {"ROCKY_STANDIN_RECORD": str(WORK / f"jinja_names_{_mode}.jsonl"), "ROCKY_STANDIN_DELAY": "0"}
    globals()[f"jinja_names_{_mode}"] = RockyDAG(
        f"jinja_names_{_mode}",
        manifest=MANIFEST,
        operator_args={"binary_path": STANDIN, "project_dir": str(PROJECT), "env_vars": _env, **_extra},
        schedule=None,
        start_date=datetime(2026, 1, 1),
        tags=["rocky", "project"],
    )

(WORK / "joined").mkdir(parents=True, exist_ok=True)
joined = RockyDAG(
    "joined",
    manifest=JOINED,
    operator_args={
        "binary_path": STANDIN,
        "project_dir": str(WORK / "joined"),
        "env_vars": {"ROCKY_STANDIN_RECORD": str(WORK / "joined.jsonl"), "ROCKY_STANDIN_DELAY": "0"},
    },
    schedule=None,
    start_date=datetime(2026, 1, 1),
    tags=["rocky", "project"],
)

# A NUL from dag_run.conf, in a templated argument or a templated env_vars value: refused as usage
# before anything is spawned (on main, ``Popen`` raised ``ValueError: embedded null byte``).
for _mode in ("sync", "deferrable"):
    with DAG(f"nul_conf_{_mode}", schedule=None, start_date=datetime(2026, 1, 1), tags=["rocky"]) as _d:
        RockyOperator(
            task_id="rocky_run",
            binary_path=STANDIN,
            project_dir=str(WORK),
            model="{{ dag_run.conf['model'] }}",
            env_vars={
                "ROCKY_STANDIN_RECORD": str(WORK / f"nul_conf_{_mode}.jsonl"),
                "ROCKY_STANDIN_DELAY": "0",
                "CONF_VALUE": "{{ dag_run.conf['env'] }}",
            },
            deferrable=_mode == "deferrable",
            event_hold_seconds=0,
        )
    globals()[_d.dag_id] = _d
