"""start_from_trigger: the triggerer renders the spec, builds the same command, and reports refusals."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_helpers import RecordingTI, trigger_of

from airflow_provider_rocky._task.commands import RUN
from airflow_provider_rocky.assets import openlineage_dataset_id, rocky_asset
from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

TEMPLATED = RUN.templated


def renders_in_triggerer() -> bool:
    return AIRFLOW_V_3_3_PLUS


needs_rendering = pytest.mark.skipif(not renders_in_triggerer(), reason="Airflow < 3.3 renders nothing there")


def test_the_trigger_kwargs_are_the_operators_template_fields() -> None:
    assert set(RockyOperator.template_fields) == set(TEMPLATED)


@pytest.mark.skipif(renders_in_triggerer(), reason="Airflow 3.3+ renders templates in the triggerer")
def test_templated_start_from_trigger_is_refused_where_airflow_cannot_render_it() -> None:
    with pytest.raises(ValueError, match="partition"):
        RockyOperator(task_id="t", deferrable=True, start_from_trigger=True, partition="{{ ds }}")


def test_start_from_trigger_needs_deferrable() -> None:
    with pytest.raises(ValueError, match="deferrable"):
        RockyOperator(task_id="t", start_from_trigger=True, deferrable=False)


@needs_rendering
@pytest.mark.asyncio
async def test_the_triggerer_renders_builds_and_runs_the_same_command(
    standin_bin: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.jsonl"
    op = RockyOperator(
        task_id="t",
        deferrable=True,
        start_from_trigger=True,
        binary_path=str(standin_bin),
        project_dir=str(tmp_path),
        filter="tenant={{ params.tenant }}",
        partition="{{ ds }}",
        run_models=True,
        asset_namespace="rocky://acme",
        env_vars={"ROCKY_STANDIN_RECORD": str(record), "ROCKY_STANDIN_DELAY": "0"},
    )
    trigger = trigger_of(op, ds="2026-04-07", params={"tenant": "acme"})
    event = await anext(trigger.run())
    argv = next(r for r in read_record(record) if r["event"] == "start" and "run" in r["argv"])["argv"]
    assert "--filter=tenant=acme" in argv and "--partition=2026-04-07" in argv
    assert "--idempotency-key=airflow:d:manual__1:t:-1:try3" in argv
    ti, outlet_events = RecordingTI(), _Events()
    summary = op.execute_complete({"ti": ti, "outlet_events": outlet_events}, event.payload)  # type: ignore[arg-type]
    assert summary is not None and summary["outcome"] == "success"
    # What the engine wrote (its record), not what the provider says it did, is the reference.
    written = [(r["table"], r["partition"]) for r in read_record(record) if r["event"] == "materialized"]
    assert written and summary["materializations_total"] == len(written)
    (alias,) = outlet_events.values()
    expected = sorted((rocky_asset(table, namespace="rocky://acme").uri, key) for table, key in written)
    assert sorted((asset.uri, (extra or {}).get("partition_key")) for asset, extra in alias.added) == expected
    lineage = op.get_openlineage_facets_on_complete(None)  # the real OpenLineage provider's classes
    datasets = {
        openlineage_dataset_id(rocky_asset(table, namespace="rocky://acme").name) for table, _ in written
    }
    assert {(ds.namespace, ds.name) for ds in lineage.outputs} == datasets


@pytest.mark.asyncio
async def test_the_triggerer_tells_rocky_who_started_the_run(standin_bin: Path, tmp_path: Path) -> None:
    """``ROCKY_RUN_TRIGGER``/``ROCKY_SUBMISSION_ID`` as ``execute()`` sets them (0.1.0 set neither here)."""
    record = tmp_path / "record.jsonl"
    op = RockyOperator(
        task_id="t",
        deferrable=True,
        start_from_trigger=True,
        binary_path=str(standin_bin),
        project_dir=str(tmp_path),
        env_vars={"ROCKY_STANDIN_RECORD": str(record), "ROCKY_STANDIN_DELAY": "0"},
    )
    await anext(trigger_of(op).run())
    env = next(r for r in read_record(record) if r["event"] == "start" and "run" in r["argv"])["env"]
    assert env["ROCKY_RUN_TRIGGER"] == "manual"  # the run id says manual__1
    assert env["ROCKY_SUBMISSION_ID"] == "d/manual__1/t/-1"


@pytest.mark.asyncio
async def test_a_refusal_in_the_triggerer_fails_with_the_same_category(tmp_path: Path) -> None:
    op = RockyOperator(task_id="t", deferrable=True, start_from_trigger=True, filter="no-equals")
    trigger = trigger_of(op)
    event = await anext(trigger.run())
    assert event.payload["refused"]["class"] == "RockyUsageError"
    ti = RecordingTI()
    with pytest.raises(RockyUsageError, match="filter"):
        op.execute_complete({"ti": ti}, event.payload)  # type: ignore[arg-type]
    assert ti.xcom["return_value"]["category"] == "usage"


class _Events(dict):  # type: ignore[type-arg]
    """``outlet_events`` stand-in: records ``add`` calls per alias/asset key."""

    def __missing__(self, key: Any) -> Any:
        value = SimpleNamespace(added=[], extra=None)
        value.add = lambda asset, extra=None: value.added.append((asset, extra))
        self[key] = value
        return value
