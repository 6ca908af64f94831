"""`make e2e-hostile`: hostile manifests beside good DAGs under a real `airflow dag-processor` on PostgreSQL.

Issue 25.1: a NUL in a manifest's node text went into ``task_display_name``/``doc_md``; PostgreSQL
refused the serialized DAG and Airflow 3.3's dag-processor exited 1 within seconds on every start,
the folder's other DAGs never saved and no import error recorded. Here the DAGs folder holds a
``RockyDAG`` over a manifest with a NUL in a node id, one over a lone surrogate in a table name, a
``RockyDAG`` over the demo manifest and a plain DAG. Checks (one line each, as ``make e2e``):

* the dag-processor is still running after several parse loops;
* every good DAG is serialized in PostgreSQL, and no serialized DAG carries a NUL;
* each hostile file has an import error naming its manifest, the node and the rule.

``--code DIR`` runs the dag-processor on the provider in ``DIR`` instead (``PYTHONPATH``), e.g. a
checkout of main, to see the failure this guards against. Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from deployment import Deployment, Topology, _pg_bin, wait_until
from report import Reporter, indent
from run import Interrupted, _finish, _on_signal, progress, teardown
from system import ensure_debian_packages, ensure_venv

from airflow_provider_rocky.testing._standin.project import dag_document, demo_nodes

#: Seconds the dag-processor must stay up while re-parsing the folder (a parse loop every ~5 s).
OBSERVE_SECONDS = 45.0
GOOD_DAGS = ("hostile_good_project", "hostile_good_plain")
#: DAG file -> (the field made hostile, the value, what the import error must name). A NUL in the
#: node's id reaches ``task_display_name`` and ``doc_md`` (the issue's crash); in the table, the Asset.
HOSTILE = {
    "hostile_nul": ("id", "\x00", ("nul.json", "nodes[0]: 'id'", "U+0000")),
    "hostile_surrogate": ("table", "\ud800", ("surrogate.json", "target table", "lone surrogate U+D800")),
}

#: Serialized DAGs whose JSON holds an escaped NUL (``standard_conforming_strings``: a literal backslash).
NUL_QUERY = "SELECT dag_id FROM serialized_dag WHERE strpos(data::text, '\\u0000') > 0"

_ROCKY_DAG = (
    "from datetime import datetime\n"
    "from airflow_provider_rocky import RockyDAG\n"
    "dag = RockyDAG({dag_id!r}, manifest={manifest!r}, schedule=None, start_date=datetime(2026, 1, 1))\n"
)
_PLAIN_DAG = (
    "from datetime import datetime\n"
    "from airflow.sdk import DAG\n"
    "from airflow.providers.standard.operators.empty import EmptyOperator\n"
    "with DAG('hostile_good_plain', schedule=None, start_date=datetime(2026, 1, 1)):\n"
    "    EmptyOperator(task_id='noop')\n"
)


def _hostile_node(field: str, value: str) -> dict[str, object]:
    node: dict[str, object] = {
        "id": "transformation:a",
        "kind": "transformation",
        "label": "a",
        "target": {"catalog": "", "schema": "marts", "table": "a"},
        "strategy": {"type": "full_refresh"},
    }
    if field == "id":
        node["id"] = f"transformation:a{value}b"
    else:
        node["target"] = {"catalog": "", "schema": "marts", "table": f"a{value}"}
    return node


def write_dags(dags: Path) -> None:
    """The folder: two hostile RockyDAGs, a good RockyDAG and a plain DAG, manifests beside them."""
    (dags / "demo.json").write_text(json.dumps(dag_document(demo_nodes(), "1.71.0")))
    (dags / "hostile_good_project.py").write_text(
        _ROCKY_DAG.format(dag_id="hostile_good_project", manifest=str(dags / "demo.json"))
    )
    (dags / "hostile_good_plain.py").write_text(_PLAIN_DAG)
    for dag_id, (field, value, (manifest, *_named)) in HOSTILE.items():
        (dags / manifest).write_text(json.dumps(dag_document([_hostile_node(field, value)], "1.71.0")))
        (dags / f"{dag_id}.py").write_text(_ROCKY_DAG.format(dag_id=dag_id, manifest=str(dags / manifest)))


def _sql(dep: Deployment, query: str) -> list[list[str]]:
    server = ["-h", "127.0.0.1", "-p", str(dep.postgres.port), "-U", "postgres", "-d", "airflow"]
    out = dep.postgres._as_user([_pg_bin("psql"), *server, "-At", "-F", "\x1f", "-R", "\x1e", "-c", query])
    return [row.split("\x1f") for row in out.strip("\n\x1e").split("\x1e") if row]


def setup(began: float, code: str | None) -> Deployment:
    progress("Debian packages (postgresql), e2e venv", began)
    ensure_debian_packages({"postgresql": (glob.glob("/usr/lib/postgresql/*/bin/initdb") or ["/x"])[0]})
    base = Path(tempfile.mkdtemp(prefix="rocky-e2e-hostile-"))
    base.chmod(0o755)  # the postgres user must reach its data dir below
    dep = Deployment(base, ensure_venv(), Topology(dag_dirs=()))
    dep.prepare()
    write_dags(dep.home / "dags")
    dep.env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] = "5"
    dep.env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
    if code is not None:
        dep.env["PYTHONPATH"] = code
    progress(f"deployment under {base} (provider code: {code or 'this checkout'})", began)
    dep.postgres.start()
    dep.airflow("db", "migrate", timeout=300)
    return dep


def checks(dep: Deployment, rep: Reporter, began: float) -> None:
    processor = dep.service("dag-processor")
    processor.start()
    dep.services["dag-processor"] = processor
    progress("dag-processor started; waiting for the good DAGs", began)

    def saved() -> set[str]:
        return {row[0] for row in _sql(dep, "SELECT dag_id FROM serialized_dag")}

    wait_until(lambda: set(GOOD_DAGS) <= saved() or not processor.running(), timeout=180, interval=3)
    progress(f"observing the dag-processor for {OBSERVE_SECONDS:.0f} s of parse loops", began)
    deadline = time.monotonic() + OBSERVE_SECONDS
    while time.monotonic() < deadline and processor.running():
        time.sleep(1)
    rep.verdict(
        "dag-processor keeps running beside a hostile manifest",
        processor.running(),
        "the dag-processor exited",
        indent(dep.log_tail("dag-processor", 30)),
        info=f"up {OBSERVE_SECONDS:.0f}+ s of parse loops on PostgreSQL",
    )
    found = saved()
    rep.verdict(
        "every other DAG in the folder is saved",
        set(GOOD_DAGS) <= found and not found & set(HOSTILE),
        f"serialized: {sorted(found)}",
        info=", ".join(sorted(found)),
    )
    carrying = [row[0] for row in _sql(dep, NUL_QUERY)]
    rep.verdict(
        "no serialized DAG carries a NUL",
        not carrying,
        f"serialized with a NUL (escaped \\u0000) inside: {carrying}",
        info="task_display_name and doc_md hold only what the rules let through",
    )
    errors = {Path(row[0]).stem: row[1] for row in _sql(dep, "SELECT filename, stacktrace FROM import_error")}
    for dag_id, (_field, _value, named) in HOSTILE.items():
        text = errors.get(dag_id, "")
        rep.verdict(
            f"{dag_id}: an import error naming the manifest, the node and the rule",
            all(part in text for part in named),
            f"import error: {text[-600:]!r}"
            if text
            else f"no import error recorded (files: {sorted(errors)})",
            info=text.strip().splitlines()[-1][:200] if text else "",
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--code", help="run the dag-processor on the provider package under this directory")
    args = parser.parse_args()
    began = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, _on_signal)
    signal.alarm(10 * 60)
    rep = Reporter()
    dep: Deployment | None = None
    try:
        dep = setup(began, os.path.abspath(args.code) if args.code else None)
        checks(dep, rep, began)
    except Interrupted as sig:
        rep.fail("run", f"interrupted by {sig}")
    except Exception as err:  # any harness error is a failed run, then teardown
        detail = "\n".join(dep.log_tail(name) for name in dep.services) if dep else ""
        rep.fail("run", f"{type(err).__name__}: {err}", indent(detail, limit=80) if detail else "")
    finally:
        teardown(dep, rep, began)  # finds every process this run started by its session marker
    return _finish(dep, rep, began)


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
