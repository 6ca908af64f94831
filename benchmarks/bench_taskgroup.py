"""RockyTaskGroup: DAG parse cost against cosmos's DbtTaskGroup, and the two shapes' run time.

Run it from the bench environment (cosmos installed; dbt-core is not needed)::

    UV_PROJECT_ENVIRONMENT=.venv-bench .tools/bin/uv sync --locked --all-extras --group bench
    .venv-bench/bin/python benchmarks/bench_taskgroup.py            # both sections
    .venv-bench/bin/python benchmarks/bench_taskgroup.py --only parse --nodes 1000 --reps 7

**parse**: one generated project of ``--nodes`` models, each reading up to three earlier ones (the
same graph on both sides): a Rocky manifest (``rocky dag`` JSON) and a dbt ``manifest.json``. Two DAG
files, each one group over its manifest (``RockyTaskGroup`` / ``DbtTaskGroup`` with
``LoadMode.DBT_MANIFEST``, ``ExecutionMode.LOCAL``), each executed in a fresh interpreter with the
``airflow.*`` modules imported beforehand and untimed: every ``airflow.*`` module that importing
either side loads (found by a probe process; the same list for both), as a DAG processor that has
Airflow loaded before it forks a parser (``[dag_processor] parsing_pre_import_modules``). Timed: the
file's execution, i.e. importing the provider (or cosmos) and rendering the group. Interleaved,
median of ``--reps``; ratio = Rocky ÷ cosmos. ``--sdk-only`` pre-imports ``airflow.sdk`` alone.

**shapes**: the same ``--shape-nodes``-model project run end to end with ``dag.test()`` against the
stand-in engine, per-node tasks vs one ``rocky run --dag`` task, in a scratch ``AIRFLOW_HOME``
(SQLite): the time from the first task's start to the last task's end (``task_span``; ``dag.test()``'s
own set-up, the same for both, is left out) and the whole ``dag.test()`` wall time, median of
``--shape-reps``, with the number of engine processes. Both run the stand-in's synthetic project of
that many nodes (``ROCKY_STANDIN_DAG_NODES``: a load node and its models), the one-run task as the
engine's own DAG run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHILD_TIMEOUT = 600
#: A shapes run: 1,000 per-node tasks under dag.test() take tens of minutes on 2 cores.
SHAPE_TIMEOUT = 3 * 3600


def graph(count: int, fan_in: int = 3) -> list[tuple[str, list[str]]]:
    """``count`` models ``m00001``..., each reading up to ``fan_in`` earlier ones."""
    return [
        (f"m{i:05d}", [f"m{i - step:05d}" for step in range(1, fan_in + 1) if i - step >= 1])
        for i in range(1, count + 1)
    ]


def rocky_manifest(models: list[tuple[str, list[str]]]) -> dict[str, Any]:
    from airflow_provider_rocky.testing._standin.project import dag_document

    nodes = [
        {
            "id": f"transformation:{name}",
            "kind": "transformation",
            "label": name,
            "depends_on": [f"transformation:{d}" for d in deps],
            "target": {"catalog": "", "schema": "marts", "table": name},
            "strategy": {"type": "full_refresh"},
        }
        for name, deps in models
    ]
    return dag_document(nodes, "1.71.0")


def dbt_manifest(models: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """The parts of a dbt ``manifest.json`` cosmos's DBT_MANIFEST load reads."""
    nodes = {
        f"model.bench.{name}": {
            "unique_id": f"model.bench.{name}",
            "resource_type": "model",
            "package_name": "bench",
            "name": name,
            "original_file_path": f"models/{name}.sql",
            "depends_on": {"nodes": [f"model.bench.{d}" for d in deps]},
            "tags": [],
            "config": {"materialized": "table"},
            "fqn": ["bench", name],
        }
        for name, deps in models
    }
    return {"metadata": {"project_name": "bench", "dbt_version": "1.10.0"}, "nodes": nodes, "sources": {}}


ROCKY_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_rocky import RockyTaskGroup

with DAG("bench_rocky", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    RockyTaskGroup("project", manifest={manifest!r}, operator_args={{"rocky_conn_id": "rocky_default"}})
"""

COSMOS_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, LoadMode

with DAG("bench_cosmos", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    DbtTaskGroup(
        group_id="project",
        project_config=ProjectConfig(manifest_path={manifest!r}, project_name="bench"),
        profile_config=ProfileConfig(
            profile_name="bench", target_name="dev", profiles_yml_filepath={profiles!r}
        ),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, dbt_project_path={project!r}),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
    )
"""

CHILD = """
import importlib, json, runpy, sys, time
t0 = time.perf_counter()
for name in json.loads(sys.argv[2]):  # pre-imported, untimed: Airflow as a DAG processor has it loaded
    try:
        importlib.import_module(name)
    except Exception:
        pass
t1 = time.perf_counter()
namespace = runpy.run_path(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"airflow": t1 - t0, "exec": t2 - t1, "tasks": len(namespace["dag"].tasks)}))
"""

PROBE = """
import json, sys
import airflow.sdk, airflow_provider_rocky.task_group, cosmos
print(json.dumps(sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))))
"""


def write_parse_inputs(scratch: Path, count: int) -> dict[str, Path]:
    models = graph(count)
    project = scratch / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: bench\nversion: '1.0'\nprofile: bench\n")
    for name, _ in models:
        (project / "models" / f"{name}.sql").write_text("select 1 as id\n")
    profiles = scratch / "profiles.yml"
    profiles.write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: bench.duckdb\n"
    )
    (project / "target").mkdir()
    dbt = project / "target" / "manifest.json"
    dbt.write_text(json.dumps(dbt_manifest(models)))
    rocky = scratch / "rocky_dag.json"
    rocky.write_text(json.dumps(rocky_manifest(models)))
    files = {
        "rocky": scratch / "dag_rocky.py",
        "cosmos": scratch / "dag_cosmos.py",
    }
    files["rocky"].write_text(ROCKY_DAG.format(manifest=str(rocky)))
    files["cosmos"].write_text(
        COSMOS_DAG.format(manifest=str(dbt), profiles=str(profiles), project=str(project))
    )
    return files


def child_env(scratch: Path) -> dict[str, str]:
    home = scratch / "airflow"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        # Bytecode for the provider too (an installed package is compiled; cosmos is): the warm-up run
        # writes it under the scratch directory, never into the checkout.
        "PYTHONPYCACHEPREFIX": str(scratch / "pycache"),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": str(ROOT),
    }


def airflow_modules(env: dict[str, str], sdk_only: bool) -> list[str]:
    """The ``airflow.*`` modules importing either side loads (what the timed children pre-import)."""
    if sdk_only:
        return ["airflow.sdk"]
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def parse_once(path: Path, env: dict[str, str], modules: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps(modules)],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{path.name} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def bench_parse(count: int, reps: int, sdk_only: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rocky-bench-taskgroup-") as tmp:
        scratch = Path(tmp)
        files = write_parse_inputs(scratch, count)
        env = child_env(scratch)
        modules = airflow_modules(env, sdk_only)
        for path in files.values():  # warm the OS file cache and the bytecode caches, untimed
            parse_once(path, env, modules)
        samples: dict[str, list[dict[str, float]]] = {side: [] for side in files}
        for _ in range(reps):
            for side, path in files.items():
                samples[side].append(parse_once(path, env, modules))
    out: dict[str, Any] = {"nodes": count, "reps": reps, "pre_imported_airflow_modules": len(modules)}
    for side, runs in samples.items():
        out[side] = {
            "exec_median_s": statistics.median(r["exec"] for r in runs),
            "exec_min_s": min(r["exec"] for r in runs),
            "airflow_import_median_s": statistics.median(r["airflow"] for r in runs),
            "tasks": int(runs[0]["tasks"]),
        }
    out["ratio"] = out["rocky"]["exec_median_s"] / out["cosmos"]["exec_median_s"]
    return out


SHAPES_DAG = """
import os
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_rocky import RockyTaskGroup

ENV = {{"ROCKY_STANDIN_RECORD": os.environ["BENCH_RECORD"], "ROCKY_STANDIN_DELAY": {delay!r},
       "ROCKY_STANDIN_DAG_NODES": {count!r}}}
ARGS = {{"binary_path": {binary!r}, "project_dir": {project!r}, "env_vars": ENV}}
for shape in ("nodes", "one_run", "watch"):
    with DAG(f"shape_{{shape}}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        RockyTaskGroup("p", manifest={manifest!r}, operator_args=ARGS, shape=shape, state_isolation="none")
    globals()[f"shape_{{shape}}"] = dag
"""

SHAPES_CHILD = """
import json, sys, time
from airflow.utils import db
if sys.argv[3] == "init":
    db.resetdb()
    print(json.dumps({}))
    raise SystemExit(0)
sys.path.insert(0, sys.argv[1])
import shapes
dag = getattr(shapes, "shape_" + sys.argv[2])
t0 = time.perf_counter()
run = dag.test()
seconds = time.perf_counter() - t0
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from sqlalchemy import select
with create_session() as session:
    tis = session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id)).all()
    span = (max(t.end_date for t in tis) - min(t.start_date for t in tis)).total_seconds()
    bad = {t.task_id: str(t.state) for t in tis if str(t.state) != "success"}
print(json.dumps({"seconds": seconds, "span": span, "state": str(run.state), "not_success": bad}))
"""


SHAPES = tuple(os.environ.get("BENCH_SHAPES", "nodes,one_run,watch").split(","))


def bench_shapes(count: int, reps: int, delay: str) -> dict[str, Any]:
    from airflow_provider_rocky.testing import install_standin, read_record
    from airflow_provider_rocky.testing._standin.project import dag_document, synthetic_nodes

    with tempfile.TemporaryDirectory(prefix="rocky-bench-shapes-") as tmp:
        scratch = Path(tmp)
        binary = install_standin(scratch / "bin")
        dags = scratch / "dags"
        dags.mkdir()
        manifest = scratch / "rocky_dag.json"
        # The stand-in's synthetic project (ROCKY_STANDIN_DAG_NODES): the graph the group renders and
        # the one `rocky run --dag` runs are the same nodes.
        manifest.write_text(json.dumps(dag_document(synthetic_nodes(count), "1.71.0")))
        (scratch / "project").mkdir()
        # A DuckDB project: the engine refuses a folder without its config, and every shape writes
        # the same tables into the same warehouse file.
        (scratch / "project" / "rocky.toml").write_text(
            '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
        )
        (dags / "shapes.py").write_text(
            SHAPES_DAG.format(
                binary=str(binary),
                project=str(scratch / "project"),
                delay=delay,
                manifest=str(manifest),
                count=str(count),
            )
        )
        env = {**child_env(scratch), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{scratch}/airflow.db"
        _shape_child(dags, "nodes", "init", env)
        out: dict[str, Any] = {"models": count, "reps": reps, "delay": delay}
        for shape in SHAPES:
            times, spans, engines = [], [], []
            for rep in range(reps):
                record = scratch / f"{shape}-{rep}.jsonl"
                result = _shape_child(dags, shape, "run", {**env, "BENCH_RECORD": str(record)})
                assert result["state"] == "success", result
                times.append(result["seconds"])
                spans.append(result["span"])
                engines.append(sum(1 for e in read_record(record) if e["event"] == "start"))
            out[shape] = {
                "dag_test_median_s": statistics.median(times),
                "task_span_median_s": statistics.median(spans),
                "engine_processes": engines[0],
            }
    if "nodes" in SHAPES and "one_run" in SHAPES:
        out["span_ratio"] = out["nodes"]["task_span_median_s"] / out["one_run"]["task_span_median_s"]
    return out


def _shape_child(dags: Path, shape: str, mode: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SHAPES_CHILD, str(dags), shape, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=SHAPE_TIMEOUT,
        cwd=dags,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dag.test of {shape} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("parse", "shapes"), help="one section")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--sdk-only", action="store_true", help="pre-import airflow.sdk only")
    parser.add_argument("--shape-nodes", type=int, default=30)
    parser.add_argument("--shape-reps", type=int, default=3)
    parser.add_argument("--delay", default="0.05", help="ROCKY_STANDIN_DELAY of the shapes runs")
    args = parser.parse_args(argv)
    began = time.time()
    results: dict[str, Any] = {}
    if args.only in (None, "parse"):
        results["parse"] = bench_parse(args.nodes, args.reps, args.sdk_only)
        print(json.dumps({"parse": results["parse"]}, indent=2), flush=True)
    if args.only in (None, "shapes"):
        results["shapes"] = bench_shapes(args.shape_nodes, args.shape_reps, args.delay)
        print(json.dumps({"shapes": results["shapes"]}, indent=2), flush=True)
    print(f"# took {time.time() - began:.0f}s; load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
