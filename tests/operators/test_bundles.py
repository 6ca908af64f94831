"""Deferrable tasks and versioned DAG bundles: a project inside a real ``GitDagBundle`` checkout.

The worker's task runner runs a task from a checkout of its bundle at the DAG run's version; a
triggerer prepares none. A deferred (or ``start_from_trigger``) run whose ``project_dir`` lies in that
checkout is refused before anything is deferred or spawned, naming the bundle and the fix; the same
task runs in sync mode, on the worker that holds the checkout.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_helpers import outlet_events

from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.triggers.rocky import RockyRunTrigger

git_bundle = pytest.importorskip("airflow.providers.git.bundles.git", reason="apache-airflow-providers-git")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A git repository holding a DAG and its Rocky project, checked out at a commit as Airflow does."""
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "bundles"))
    repo = tmp_path / "repo"
    (repo / "rocky_project").mkdir(parents=True)
    (repo / "rocky_project" / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\n')
    (repo / "dags").mkdir()
    (repo / "dags" / "nightly.py").write_text(
        "# project_dir = os.path.dirname(__file__) + '/../rocky_project'\n"
    )
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "-m", "dags")
    version = _git(repo, "rev-parse", "HEAD")
    checkout = git_bundle.GitDagBundle(
        name="rocky_repo", tracking_ref="main", repo_url=str(repo), version=version
    )
    checkout.initialize()
    return checkout


def _ti(bundle: Any) -> Any:
    return SimpleNamespace(
        dag_id="nightly",
        run_id="manual__1",
        task_id="rocky_run",
        map_index=-1,
        try_number=1,
        bundle_instance=bundle,
    )


class RecordingTI(SimpleNamespace):
    def xcom_push(self, key: str, value: Any) -> None:
        self.__dict__.setdefault("xcom", {})[key] = value


def test_a_deferred_project_inside_a_git_bundle_is_refused_before_deferring(
    bundle: Any, standin_bin: Path, tmp_path: Path
) -> None:
    """0.1.0 deferred it; the triggerer then ran the engine in a directory it does not have."""
    project = Path(bundle.path) / "rocky_project"
    assert (project / "rocky.toml").is_file(), "the real checkout holds the project"
    record = tmp_path / "record.jsonl"
    op = RockyOperator(
        task_id="rocky_run",
        deferrable=True,
        binary_path=str(standin_bin),
        project_dir=str(project),
        env_vars={"ROCKY_STANDIN_RECORD": str(record)},
    )
    ti = RecordingTI(**vars(_ti(bundle)))
    with pytest.raises(RockyUsageError) as refused:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    message = str(refused.value)
    assert "DAG bundle 'rocky_repo' at version " + bundle.version in message
    assert "deferrable=False" in message and str(project) in message
    assert ti.xcom["return_value"]["category"] == "usage"
    assert read_record(record) == [], "nothing was spawned"


def test_the_same_task_runs_in_sync_mode_from_the_checkout(
    bundle: Any, standin_bin: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.jsonl"
    op = RockyOperator(
        task_id="rocky_run",
        binary_path=str(standin_bin),
        project_dir=str(Path(bundle.path) / "rocky_project"),
        env_vars={"ROCKY_STANDIN_RECORD": str(record)},
        emit_assets=False,
    )
    context = {"ti": RecordingTI(**vars(_ti(bundle))), "outlet_events": outlet_events()}
    summary = op.execute(context)  # type: ignore[arg-type]
    assert summary["outcome"] == "success"
    assert any(e["event"] == "end" and e["status"] == "Success" for e in read_record(record))


def test_start_from_trigger_refuses_a_bundle_checkout_in_the_triggerer(
    bundle: Any, standin_bin: Path
) -> None:
    """The triggerer builds the command itself: it refuses before spawning, with the same usage error."""
    op = RockyOperator(
        task_id="rocky_run",
        deferrable=True,
        start_from_trigger=True,
        binary_path=str(standin_bin),
        project_dir=str(Path(bundle.path) / "rocky_project"),
    )
    assert op.start_trigger_args is not None
    event = asyncio.run(anext(RockyRunTrigger(**op.start_trigger_args.trigger_kwargs).run()))
    assert event.payload["refused"]["class"] == "RockyUsageError"
    assert "DAG bundle 'rocky_repo' at version " + bundle.version in event.payload["refused"]["message"]
