"""`make demo`: the README Quickstart end to end with `airflow dags test`, in a throwaway AIRFLOW_HOME.

1. `rocky_quickstart` runs deferrable, as the Quickstart does: the engine runs under the (inline)
   triggerer, its lines stream into the log, the summary lands in XCom, each table becomes an asset
   event.
2. The demo reads the metadata DB back and shows that the asset event queued `rocky_downstream`
   (`asset_dag_run_queue`): what a scheduler turns into an asset-triggered run.
3. `rocky_downstream` runs (with `airflow dags test`, there being no scheduler here) and checks the
   table the engine wrote.
4. `rocky_project` runs the example project as a `RockyTaskGroup`: one task per node of its saved
   `rocky dag` manifest, each landing its own table (`airflow dags test` ignores pools).

Uses the real `rocky` when one is on PATH; otherwise installs the stand-in engine and says so. The
engine gets a small DuckDB project (rocky.toml + warehouse file) so the tables it reports really exist.
The stand-in's pace (`ROCKY_STANDIN_DELAY`) is set in the environment, not in the connection: Airflow
registers every connection extra value with its secret masker and warns for one too short to mask.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

ROCKY_TOML = """\
# Demo project for the Rocky provider: a local DuckDB warehouse.
[adapter]
type = "duckdb"
path = "warehouse.duckdb"
"""

#: Reads what the quickstart's asset events queued, from the demo's metadata DB.
QUEUED = """
from airflow.models.asset import AssetDagRunQueue, AssetModel
from airflow.utils.session import create_session
from sqlalchemy import select

with create_session() as session:
    rows = session.execute(
        select(AssetDagRunQueue.target_dag_id, AssetModel.uri).join(
            AssetModel, AssetModel.id == AssetDagRunQueue.asset_id
        )
    ).all()
for dag_id, uri in rows:
    print(f"{dag_id}\\t{uri}")
"""


def connections(binary: str, project: Path) -> dict[str, str]:
    """The two connections, as environment variables (no extra value under 5 characters)."""
    warehouse = project / "warehouse.duckdb"
    rocky = {
        "conn_type": "rocky",
        "extra": {
            "binary_path": binary,
            "project_dir": str(project),
            "asset_namespace": f"duckdb://{warehouse}",
        },
    }
    duckdb = {"conn_type": "rocky_duckdb", "host": str(warehouse)}
    return {
        "AIRFLOW_CONN_ROCKY_DEFAULT": json.dumps(rocky),
        "AIRFLOW_CONN_ROCKY_DUCKDB_DEFAULT": json.dumps(duckdb),
    }


def environment(home: Path, project: Path, binary: str, standin: bool) -> dict[str, str]:
    """The environment of every `airflow` command the demo runs."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        # A DAG scheduled on an asset is queued by its events only while unpaused (the UI's toggle).
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "ROCKY_EXAMPLE_WAREHOUSE": str(project / "warehouse.duckdb"),
        **connections(binary, project),
    }
    if standin:  # slow enough that the log shows lines arriving over time, fast enough for a demo
        env["ROCKY_STANDIN_DELAY"] = "0.4"
    return env


def airflow(env: dict[str, str], *args: str, quiet: bool = False) -> int:
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run([str(BIN / "airflow"), *args], env=env, check=False, stdout=out).returncode


def show_queue(env: dict[str, str]) -> bool:
    """Print what the asset events queued; ``False`` when `rocky_downstream` is not among it."""
    done = subprocess.run(
        [str(BIN / "python"), "-c", QUEUED], env=env, capture_output=True, text=True, check=False
    )
    rows = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
    for dag_id, uri in rows:
        print(f"Asset event on {uri} queued `{dag_id}` (asset_dag_run_queue)", flush=True)
    if not any(dag_id == "rocky_downstream" for dag_id, _ in rows):
        print(f"`rocky_downstream` was not queued by the quickstart's asset events {done.stderr[-500:]}")
        return False
    print("A scheduler starts it from that queue; here `airflow dags test` runs it:", flush=True)
    return True


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="rocky-demo-"))
    project = home / "project"
    project.mkdir()
    (project / "rocky.toml").write_text(ROCKY_TOML)
    binary = shutil.which("rocky")
    if binary is None:
        from airflow_provider_rocky.testing import install_standin

        binary = str(install_standin(home / "bin"))
        print("No `rocky` on PATH: using the stand-in engine (airflow_provider_rocky.testing).", flush=True)
    env = environment(home, project, binary, standin=binary.startswith(str(home)))
    print(f"AIRFLOW_HOME={env['AIRFLOW_HOME']} (throwaway); rocky project at {project}", flush=True)
    if airflow(env, "db", "migrate", quiet=True):
        return 1
    code = airflow(env, "dags", "test", "rocky_quickstart")
    print(f"`airflow dags test rocky_quickstart` (deferrable) exited {code}", flush=True)
    if code or not show_queue(env):
        return code or 1
    code = airflow(env, "dags", "test", "rocky_downstream")
    print(f"`airflow dags test rocky_downstream` exited {code}", flush=True)
    if code:
        return code
    code = airflow(env, "dags", "test", "rocky_project")
    print(f"`airflow dags test rocky_project` (a RockyTaskGroup) exited {code}", flush=True)
    print(
        "The WARNING lines above are Airflow's own: `AssetModel ... not found` / `inactive AssetModel` "
        "for the replicated staging__* tables no DAG declares yet, and `Could not import graphviz` "
        "(docs/troubleshooting.md says what each means and how to act on it)",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
