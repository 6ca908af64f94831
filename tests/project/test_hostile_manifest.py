"""Hostile manifests: refused before anything is built from them, or run as the literal names they hold.

Issue 25: a NUL in a node's text made PostgreSQL refuse the serialized DAG (the dag-processor then
exited on every start); manifest names reached template fields and were evaluated as Jinja; a lone
surrogate or a table name Airflow cannot store failed the import without naming the manifest; two
writers of one table and ``..`` table parts were accepted. e2e/run_hostile.py runs the NUL case
through a real ``airflow dag-processor`` on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rocky_hostile as hostile
from airflow.sdk import DAG
from airflow_helpers import trigger_of
from project_helpers import START, demo_manifest, runs, starts, write_manifest

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._project.manifest import ManifestError, parse_manifest
from airflow_provider_rocky.assets import TableRef, resolve_namespace, rocky_asset
from airflow_provider_rocky.testing import read_record

#: One more than ``_project.rules.MAX_NAME_CHARS`` (1,024).
NUL, SURROGATE, LONG = "\x00", "\ud800", "x" * 1025


def _model(name: str, **extra: Any) -> dict[str, Any]:
    node = {
        "id": f"transformation:{name}",
        "kind": "transformation",
        "label": name,
        "target": {"catalog": "", "schema": "marts", "table": name},
        "strategy": {"type": "full_refresh"},
    }
    return {**node, **extra}


def _load(name: str, pipeline: str) -> dict[str, Any]:
    return {"id": f"load:{name}", "kind": "load", "label": name, "pipeline": pipeline}


def _refused(tmp_path: Path, nodes: list[dict[str, Any]]) -> str:
    path = write_manifest(tmp_path, nodes, name="hostile.json")
    with pytest.raises(ManifestError) as caught, DAG("hostile", schedule=None, start_date=START):
        RockyTaskGroup("p", manifest=path, asset_namespace="duckdb:///wh.duckdb")
    message = str(caught.value)
    assert str(path) in message, "the refusal names the manifest"
    assert NUL not in message and SURROGATE not in message, "the refusal itself is storable"
    return message


# (what is hostile, the node, the rule the refusal names)
CASES = [
    ("nul_in_label", [_model("a", label=f"a{NUL}b")], "node 'transformation:a': 'label'", "U+0000"),
    ("nul_in_id", [_model(f"a{NUL}b")], "'id'", "U+0000"),
    ("newline_in_pipeline", [_load("a", "p\nq")], "node 'load:a': 'pipeline'", "U+000A"),
    ("c1_control_in_label", [_model("a", label="a\x85b")], "'label'", "U+0085"),
    ("line_separator_in_label", [_model("a", label="a\u2028b")], "'label'", "U+2028"),
    ("surrogate_in_id", [_model(f"a{SURROGATE}")], "'id'", "lone surrogate U+D800"),
    (
        "surrogate_in_table",
        [_model("a", target={"catalog": "", "schema": "s", "table": f"t{SURROGATE}"})],
        "node 'transformation:a': target table",
        "lone surrogate",
    ),
    ("long_label", [_model("a", label=LONG)], "'label'", "at most 1,024"),
    (
        "dotdot_schema",
        [_model("a", target={"catalog": "c", "schema": "..", "table": "t"})],
        "target schema '..'",
        "dot-segment",
    ),
    (
        "dot_table",
        [_model("a", target={"catalog": "c", "schema": "s", "table": "."})],
        "target table '.'",
        "dot-segment",
    ),
    ("nul_in_dependency", [_model("a", depends_on=[f"x{NUL}"])], "'depends_on' entry", "U+0000"),
    (
        "nul_in_granularity",
        [_model("a", partition_shape={"granularity": f"daily{NUL}"})],
        "partition granularity",
        "U+0000",
    ),
    (
        "two_writers",
        [_model("a"), _model("b", target={"catalog": "", "schema": "MARTS", "table": "A"})],
        "nodes 'transformation:a' and 'transformation:b' both write the table",
        "E036",
    ),
    (
        "asset_name_too_long",
        [_model("a", target={"catalog": "c" * 600, "schema": "s" * 600, "table": "t" * 600})],
        "node 'transformation:a'",
        "Airflow stores at most 1,500",
    ),
]


@pytest.mark.parametrize(("nodes", "where", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_manifest_is_refused_naming_the_file_the_node_and_the_rule(
    tmp_path: Path, nodes: list[dict[str, Any]], where: str, rule: str
) -> None:
    message = _refused(tmp_path, nodes)
    assert where in message and rule in message, message


def test_a_refusal_quotes_an_over_long_value_cut() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps({"command": "dag", "nodes": [_model("a", label="y" * 100_000)]}))
    assert len(str(caught.value)) < 1_000 and "100,000 characters" in str(caught.value)


def test_a_dot_segment_table_gets_no_asset_uri() -> None:
    ns = resolve_namespace("rocky://default")
    with pytest.raises(ValueError, match=r"'\.' or '\.\.' part"):
        ns.locate(TableRef("x", "..", "b"))
    assert rocky_asset("x.a.b").uri == "rocky://default/x/a/b"


def test_hostile_dags_fail_alone_in_a_real_dagbag(tmp_path: Path) -> None:
    """Each hostile manifest is one DAG file's import error, naming it; the other DAGs load."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer  # type: ignore[no-redef]

    folder = tmp_path / "dags"
    folder.mkdir()
    demo = demo_manifest(tmp_path)
    (folder / "good.py").write_text(_dag_file("good", demo))
    for name, nodes, _where, _rule in CASES:
        (folder / f"{name}.py").write_text(
            _dag_file(name, write_manifest(tmp_path, nodes, name=f"{name}.json"))
        )
    bag = DagBag(dag_folder=str(folder))
    assert set(bag.dag_ids) == {"good"}, "every hostile DAG fails, the good one loads"
    errors = {Path(file).stem: text for file, text in bag.import_errors.items()}
    assert set(errors) == {case[0] for case in CASES}
    for name, _nodes, where, rule in CASES:
        text = errors[name]
        assert f"{name}.json" in text and where in text and rule in text, (name, text)
        assert NUL not in text and SURROGATE not in text, name
    serialized = json.dumps(Serializer.to_dict(bag.dags["good"]))
    assert "\\u0000" not in serialized


def _dag_file(dag_id: str, manifest: Path) -> str:
    return (
        "from datetime import datetime\n"
        "from airflow_provider_rocky import RockyDAG\n"
        f"dag = RockyDAG({dag_id!r}, manifest={str(manifest)!r}, schedule=None, "
        "start_date=datetime(2026, 1, 1), asset_namespace='duckdb:///wh.duckdb')\n"
    )


# -- names are literals, never rendered -----------------------------------------------------------


@pytest.mark.usefixtures("airflow_db", "standin_bin")
@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_model_named_like_a_template_runs_by_that_name(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """``a{{ 7 * 7 }}`` ran ``a49``, a Variable reached argv, ``b{{ unclosed`` failed the task: now
    every node runs the model it names (``a49`` and ``v<secret>`` exist, so a rendered name would run)."""
    monkeypatch.setenv("AIRFLOW_VAR_RT_SECRET", hostile.SECRET)
    dag = getattr(hostile, f"jinja_names_{mode}")
    record = hostile.WORK / f"jinja_names_{mode}.jsonl"
    record.unlink(missing_ok=True)
    assert {runs(task)[0] for task in dag.tasks} == set(hostile.JINJA_NAMES)
    run = dag.test()
    assert str(run.state) == "success"
    ran = [e for e in starts(record) if "run" in e["argv"]]  # not the --version probes
    models = sorted(e["argv"][e["argv"].index("--model") + 1] for e in ran)
    assert models == sorted(hostile.JINJA_NAMES), "each node ran its own model, as named"
    assert not any(hostile.SECRET in " ".join(e["argv"]) for e in ran), "no Variable reached argv"


def test_start_from_trigger_carries_literal_names_past_the_triggerers_rendering() -> None:
    """The triggerer (Airflow 3.3+) renders trigger kwargs named like template fields: a literal
    name travels in the spec, which nothing renders, and its kwarg holds no template."""
    from airflow_provider_rocky._task.request import RunRequest

    with DAG("jinja_start", schedule=None, start_date=START):
        group = RockyTaskGroup(
            "p", manifest=hostile.MANIFEST, operator_args={"deferrable": True, "start_from_trigger": True}
        )
    for task in group.rocky_tasks:
        kwargs = task.start_trigger_args.trigger_kwargs
        rendered_by_airflow = json.dumps({k: v for k, v in kwargs.items() if k != "spec"})
        assert kwargs["model"] is None and not any(n in rendered_by_airflow for n in hostile.JINJA_NAMES)
        request = RunRequest.from_spec("run", kwargs["spec"], {"model": None, "pipeline": None})
        assert request.values["model"] == runs(task)[0]


@pytest.mark.asyncio
async def test_the_triggerer_runs_a_literal_name_as_it_is(standin_bin: Path, tmp_path: Path) -> None:
    """start_from_trigger through the triggerer's own rendering (Airflow 3.3+; none before)."""
    record = tmp_path / "record.jsonl"
    env = {"ROCKY_STANDIN_RECORD": str(record), "ROCKY_STANDIN_DELAY": "0"}
    with DAG("jinja_trigger", schedule=None, start_date=START):
        group = RockyTaskGroup(
            "p",
            manifest=hostile.MANIFEST,
            operator_args={
                "deferrable": True,
                "start_from_trigger": True,
                "binary_path": str(standin_bin),
                "project_dir": str(hostile.PROJECT),
                "env_vars": env,
            },
        )
    (task,) = [t for t in group.rocky_tasks if runs(t)[0] == "a{{ 7 * 7 }}"]
    await anext(trigger_of(task).run())
    (argv,) = [e["argv"] for e in read_record(record) if e["event"] == "start" and "run" in e["argv"]]
    assert "--model=a{{ 7 * 7 }}" in argv
