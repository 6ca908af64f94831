"""`make demo`: run example_dags/rocky_quickstart.py with `airflow dags test` in a throwaway AIRFLOW_HOME.

Uses the real `rocky` when one is on PATH; otherwise installs the stand-in engine and says so. The
engine gets a small DuckDB project (rocky.toml + warehouse file) so the tables it reports really exist.
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


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="rocky-demo-"))
    project = home / "project"
    project.mkdir()
    (project / "rocky.toml").write_text(ROCKY_TOML)
    binary = shutil.which("rocky")
    extra_env: dict[str, str] = {}
    if binary is None:
        from airflow_provider_rocky.testing import install_standin

        binary = str(install_standin(home / "bin"))
        # Slow enough that the log shows lines arriving over time, fast enough for a demo.
        extra_env = {"ROCKY_STANDIN_DELAY": "0.4"}
        print(
            "No `rocky` binary on PATH: using the stand-in engine (airflow_provider_rocky.testing).",
            flush=True,
        )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "ROCKY_EXAMPLE_WAREHOUSE": str(project / "warehouse.duckdb"),
        "AIRFLOW_CONN_ROCKY_DUCKDB_DEFAULT": json.dumps(
            {"conn_type": "rocky_duckdb", "host": str(project / "warehouse.duckdb")}
        ),
        "AIRFLOW_CONN_ROCKY_DEFAULT": json.dumps(
            {
                "conn_type": "rocky",
                "extra": {
                    "binary_path": binary,
                    "project_dir": str(project),
                    "asset_namespace": f"duckdb://{project / 'warehouse.duckdb'}",
                    "env": extra_env,
                },
            }
        ),
    }
    print(f"AIRFLOW_HOME={env['AIRFLOW_HOME']} (throwaway); rocky project at {project}", flush=True)
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    for dag_id in ("rocky_quickstart", "rocky_downstream"):
        done = subprocess.run([str(BIN / "airflow"), "dags", "test", dag_id], env=env, check=False)
        print(f"`airflow dags test {dag_id}` exited {done.returncode}", flush=True)
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
