"""Writing the manifest: the command (write, check, refuse) and the opt-in cached engine call."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from airflow.sdk import DAG
from project_helpers import START, starts

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._project.engine import EngineManifest, cached_manifest
from airflow_provider_rocky._project.manifest import ManifestError, load_manifest
from airflow_provider_rocky.manifest import main

pytestmark = pytest.mark.usefixtures("standin_bin")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith("ROCKY_STANDIN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ROCKY_STANDIN_DELAY", "0")
    # A project: `rocky dag` loads the config first, as the engine does (dag.rs), and refuses without one.
    (tmp_path / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\n')


def _write(standin_bin: Path, tmp_path: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "manifests" / "rocky.json"
    code = main(
        ["--binary-path", str(standin_bin), "--project-dir", str(tmp_path), "--output", str(out), *extra]
    )
    return code, out


def test_the_command_writes_a_manifest_the_group_renders(
    standin_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _write(standin_bin, tmp_path)
    assert code == 0
    assert f"wrote {out}: 14 nodes, 9 tasks (engine 1.71.0)" in capsys.readouterr().out
    assert load_manifest(out).nodes[0].id == "source:raw_orders"
    assert _write(standin_bin, tmp_path, "--check")[0] == 0
    doc = json.loads(out.read_text())
    doc["nodes"] = doc["nodes"][:-1]
    out.write_text(json.dumps(doc))
    assert _write(standin_bin, tmp_path, "--check")[0] == 1
    assert "stale" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("scenario", "extra", "says"),
    [
        ("hard_failure", [], "exited 1 (Error: failed to load models"),
        ("garbage_stdout", [], "printed no usable manifest"),
        ("hang", ["--timeout", "1"], "took longer than 1s"),
    ],
)
def test_a_failing_engine_never_replaces_a_good_manifest(
    standin_bin: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    extra: list[str],
    says: str,
) -> None:
    _, out = _write(standin_bin, tmp_path)
    good = out.read_text()
    monkeypatch.setenv("ROCKY_STANDIN_SCENARIO", scenario)
    assert _write(standin_bin, tmp_path, *extra)[0] == 2
    assert says in capsys.readouterr().err
    assert out.read_text() == good


def test_a_missing_binary_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--binary-path",
            str(tmp_path / "no-rocky"),
            "--project-dir",
            str(tmp_path),
            "--output",
            str(tmp_path / "m.json"),
        ]
    )
    assert code == 2 and "could not start" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_the_command_can_take_the_engine_from_a_connection(
    standin_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    record = tmp_path / "record.jsonl"
    extra = {
        "binary_path": str(standin_bin),
        "project_dir": str(tmp_path),
        "env": {"ROCKY_STANDIN_RECORD": str(record)},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ROCKY_MANIFEST", json.dumps({"conn_type": "rocky", "extra": extra}))
    assert main(["--conn-id", "rocky_manifest", "--output", str(tmp_path / "m.json")]) == 0
    (start,) = starts(record)
    assert start["cwd"] == str(tmp_path) and start["argv"] == [
        "--config",
        "rocky.toml",
        "--output",
        "json",
        "dag",
    ]


def _engine(standin_bin: Path, tmp_path: Path, record: Path) -> EngineManifest:
    return EngineManifest(
        project_dir=str(tmp_path),
        binary_path=str(standin_bin),
        env={"ROCKY_STANDIN_RECORD": str(record)},
        timeout_seconds=30,
    )


def test_the_cached_engine_call_runs_once_until_the_project_changes(
    standin_bin: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.jsonl"
    engine = _engine(standin_bin, tmp_path, record)
    for _ in range(3):
        with DAG("dev", schedule=None, start_date=START) as dag:
            RockyTaskGroup("p", manifest=engine)
        assert len(dag.tasks) == 9
    assert len(starts(record)) == 1, "parsed three times, asked once"
    models = tmp_path / "models"
    models.mkdir()
    (models / "new_model.sql").write_text("select 1")
    cached_manifest(engine)
    assert len(starts(record)) == 2, "a new model invalidates the cache"
    cached_manifest(engine)
    assert len(starts(record)) == 2
    assert Path(engine.cache_file).is_file() and Path(engine.cache_file + ".fingerprint").is_file()


def test_a_failed_refresh_keeps_the_previous_manifest_or_is_an_import_error(
    standin_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = _engine(standin_bin, tmp_path, tmp_path / "record.jsonl")
    monkeypatch.setenv("ROCKY_STANDIN_SCENARIO", "hard_failure")
    with pytest.raises(ManifestError, match=r"airflow-dag\.json: `.*dag` exited 1"):
        cached_manifest(engine)
    monkeypatch.delenv("ROCKY_STANDIN_SCENARIO")
    first = cached_manifest(engine)
    (tmp_path / "rocky.toml").write_text("# changed\n")
    monkeypatch.setenv("ROCKY_STANDIN_SCENARIO", "hard_failure")
    with caplog.at_level(logging.WARNING):
        again = cached_manifest(engine)
    assert again.nodes == first.nodes and "using the previous manifest" in caplog.text


@pytest.mark.usefixtures("airflow_db")
def test_a_connection_that_cannot_be_read_fails_as_2_not_as_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo'd --conn-id was a traceback and exit 1, which --check reports as 'stale'."""
    assert main(["--conn-id", "no_such_conn", "--check", "--output", str(tmp_path / "m.json")]) == 2
    assert "no_such_conn" in capsys.readouterr().err


def test_a_hanging_engine_times_out_before_the_import_does_and_the_previous_manifest_is_kept(
    standin_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25.8: the default timeout (60 s) exceeded ``dagbag_import_timeout`` (30 s), so a hanging
    engine timed the import out and the DAG disappeared. Now the engine gets half the import timeout,
    through a real DagBag and its own import alarm (4 s here: the engine gets 2 s)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    project = tmp_path / "project"
    project.mkdir()
    (project / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\n')  # rocky dag loads it first
    cached_manifest(
        EngineManifest(project_dir=str(project), binary_path=str(standin_bin))
    )  # the previous one
    (project / "rocky.toml").write_text(
        '# changed: the next parse asks the engine again\n[adapter]\ntype = "duckdb"\n'
    )
    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "4")
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "dev.py").write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_rocky import RockyTaskGroup\n"
        "from airflow_provider_rocky.task_group import EngineManifest\n"
        "with DAG('dev_hang', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        f"    RockyTaskGroup('p', manifest=EngineManifest(project_dir={str(project)!r}, "
        f"binary_path={str(standin_bin)!r}, env={{'ROCKY_STANDIN_SCENARIO': 'hang'}}))\n"
    )
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    assert len(bag.dags["dev_hang"].tasks) == 9, "rendered from the previous manifest"


def test_an_explicit_timeout_above_the_import_timeout_is_capped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_rocky._project.engine import parse_time_budget

    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "30")
    assert parse_time_budget(None) == 15 and parse_time_budget(5) == 5
    with caplog.at_level(logging.WARNING):
        assert parse_time_budget(60) == 15
    assert "exceeds half of [core] dagbag_import_timeout=30" in caplog.text
    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "0")  # disabled: nothing to stay below
    assert parse_time_budget(None) == 60 and parse_time_budget(90) == 90
