"""A value no program can be given (a NUL byte) fails as ``usage`` before ``Popen``, on every path.

Issue 25.1: on main a NUL from ``dag_run.conf`` reached ``Popen``, which raised ``ValueError:
embedded null byte``, a task failure with no category and no summary; a command built elsewhere
(``EngineManifest``, a stored trigger row) crashed the same way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import rocky_hostile as hostile
from airflow_helpers import RecordingTI, read_run, trigger_of

from airflow_provider_rocky import RockyTaskGroup
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessRunner
from airflow_provider_rocky._project.engine import EngineManifest, cached_manifest
from airflow_provider_rocky._project.manifest import ManifestError
from airflow_provider_rocky._verdict.interpret import interpret
from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

SECRET = "nul-secret-1234"


@pytest.mark.usefixtures("airflow_db", "standin_bin")
@pytest.mark.parametrize("mode", ["sync", "deferrable"])
@pytest.mark.parametrize(
    "conf",
    [{"model": "a\x00b", "env": "ok"}, {"model": "m", "env": f"{SECRET}\x00"}],
    ids=["argument", "env_vars"],
)
def test_a_nul_from_dag_run_conf_fails_as_usage_before_anything_starts(
    mode: str, conf: dict[str, str]
) -> None:
    dag = getattr(hostile, f"nul_conf_{mode}")
    record = hostile.WORK / f"nul_conf_{mode}.jsonl"
    record.unlink(missing_ok=True)
    run = dag.test(run_conf=conf)
    result = read_run(dag.dag_id, run.run_id, "rocky_run")
    assert result.task_state == "failed"
    assert result.summary is not None and result.summary["category"] == "usage"
    assert not record.exists() or not read_record(record), "nothing was spawned"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"model": "a\x00b"}, "the value of --model 'a\\x00b' holds a NUL byte"),
        ({"idempotency_key": f"{SECRET}\x00"}, "the value of --idempotency-key holds a NUL byte"),
        (
            {"env_vars": {"CONF_VALUE": f"{SECRET}\x00"}},
            "the environment value of CONF_VALUE holds a NUL byte",
        ),
        ({"project_dir": "/tmp/a\x00"}, "project_dir '/tmp/a\\x00' holds a NUL byte"),
        ({"model": "a\ud800"}, "the value of --model 'a\\ud800' holds text this system cannot encode"),
    ],
    ids=["argument", "secret_flag", "env_vars", "project_dir", "surrogate"],
)
def test_the_refusal_names_the_value_and_never_a_secret(values: dict[str, object], named: str) -> None:
    op = RockyOperator(task_id="t", binary_path=sys.executable, **values)  # type: ignore[arg-type]
    with pytest.raises(RockyUsageError) as caught:
        op.build({"ti": None})  # type: ignore[typeddict-item]
    assert named in caught.value.reason and SECRET not in str(caught.value), caught.value.reason


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="Airflow < 3.3 renders nothing in the triggerer")
@pytest.mark.asyncio
async def test_start_from_trigger_refuses_a_rendered_nul_in_the_triggerer(standin_bin: Path) -> None:
    op = RockyOperator(
        task_id="t",
        deferrable=True,
        start_from_trigger=True,
        binary_path=str(standin_bin),
        model="{{ params.model }}",
    )
    event = await anext(trigger_of(op, params={"model": "a\x00b"}).run())
    assert event.payload["refused"]["class"] == "RockyUsageError"
    ti = RecordingTI()
    with pytest.raises(RockyUsageError, match="NUL byte"):
        op.execute_complete({"ti": ti}, event.payload)  # type: ignore[arg-type]
    assert ti.xcom["return_value"]["category"] == "usage"


def test_a_command_built_elsewhere_is_refused_by_the_spawn_as_usage() -> None:
    """A stored row or a manifest call builds its command without build_command: the spawn checks."""
    command = RockyCommand(argv=(sys.executable, "-c", "pass"), env={"TOKEN": f"{SECRET}\x00"})
    outcome = asyncio.run(ProcessRunner(command, on_line=lambda _: None).run())
    assert outcome.exit_code is None and outcome.spawn_error_kind == "unspawnable"
    error = interpret(outcome, binary=sys.executable).error
    assert error is not None and error.category == "usage" and not error.retryable
    assert "environment value of TOKEN holds a NUL byte" in error.reason and SECRET not in error.reason


def test_an_engine_manifest_with_a_nul_is_a_manifest_error(tmp_path: Path) -> None:
    engine = EngineManifest(project_dir=str(tmp_path), binary_path=f"rocky\x00{SECRET}")
    with pytest.raises(ManifestError, match="NUL byte"):
        cached_manifest(engine)
    from airflow.sdk import DAG

    with pytest.raises(ManifestError), DAG("nul_engine", schedule=None):
        RockyTaskGroup("p", manifest=engine)


def test_the_connection_test_names_a_nul_binary_path() -> None:
    hook = RockyHook(binary_path="rocky\x00x")
    with pytest.raises(RockyUsageError, match="binary_path 'rocky\\\\x00x' holds a NUL byte"):
        hook.version()
    ok, message = hook.test_connection()
    assert not ok and "NUL byte" in message
