"""``rocky seed``, ``rocky run --dag``, and ``rocky plan`` → ``rocky apply`` as the engine (1.71) reads them.

Real stand-in processes in a real project (``rocky.toml``) through ``RockyHook``'s command methods,
which share the operators' declarations, argv and interpreters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_rocky.exceptions import RockyEngineError, RockyUsageError
from airflow_provider_rocky.hooks.rocky import RockyHook
from airflow_provider_rocky.testing import read_record
from airflow_provider_rocky.testing._standin.plans import PLANS_DIR, bind_to_product

pytestmark = pytest.mark.usefixtures("airflow_db")
ADAPTER = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
DIGEST = "sha256:" + "5e" * 32


def _hook(standin_bin: Path, project: Path, toml: str = ADAPTER) -> RockyHook:
    (project / "rocky.toml").write_text(toml)
    return RockyHook(binary_path=str(standin_bin), project_dir=str(project))


def _env(project: Path, scenario: str = "success") -> dict[str, str]:
    return {"ROCKY_STANDIN_SCENARIO": scenario, "ROCKY_STANDIN_RECORD": str(project / "record.jsonl")}


def _argv(project: Path) -> list[str]:
    (start,) = [r["argv"] for r in read_record(project / "record.jsonl") if r["event"] == "start"][-1:]
    return list(start)


def test_seed_loads_the_named_seed(standin_bin: Path, tmp_path: Path) -> None:
    result = _hook(standin_bin, tmp_path).seed("country_codes", env_vars=_env(tmp_path))
    assert [(t.name, t.rows) for t in result.tables] == [("country_codes", 3)]
    assert _argv(tmp_path)[-2:] == ["seed", "--filter=country_codes"]


def test_a_seed_no_file_has_fails_instead_of_loading_nothing(standin_bin: Path, tmp_path: Path) -> None:
    """The engine exits 0 with ``tables: []`` when --filter matches nothing: a green task that did nothing."""
    with pytest.raises(RockyUsageError, match="loaded no seed named 'contry_codes'"):
        _hook(standin_bin, tmp_path).seed("contry_codes", env_vars=_env(tmp_path))


def test_a_seed_beside_a_config_in_a_subfolder_is_read_from_there(standin_bin: Path, tmp_path: Path) -> None:
    """The engine's DAG reads ``<config dir>/seeds``: so does the seed task, passing --seeds."""
    (tmp_path / "conf" / "seeds").mkdir(parents=True)
    (tmp_path / "conf" / "rocky.toml").write_text(ADAPTER)
    (tmp_path / "conf" / "seeds" / "tiers.csv").write_text("tier\ngold\nsilver\n")
    hook = RockyHook(binary_path=str(standin_bin), project_dir=str(tmp_path), config_path="conf/rocky.toml")
    result = hook.seed("tiers", env_vars=_env(tmp_path))
    assert [(t.name, t.target, t.rows) for t in result.tables] == [("tiers", "main.seeds.tiers", 2)]
    assert "--seeds=conf/seeds" in _argv(tmp_path)


def test_run_dag_reports_every_node(standin_bin: Path, tmp_path: Path) -> None:
    result = _hook(standin_bin, tmp_path).run_dag(partition="2026-04-07", env_vars=_env(tmp_path))
    assert (result.completed, result.failed, result.skipped) == (13, 0, 1)
    assert _argv(tmp_path)[-3:] == ["run", "--dag", "--partition=2026-04-07"]


def test_a_failed_node_fails_the_run_naming_it(standin_bin: Path, tmp_path: Path) -> None:
    with pytest.raises(
        RockyEngineError, match="3 node\\(s\\) of the project failed: load:raw_customers: 1 table"
    ):
        _hook(standin_bin, tmp_path).run_dag(env_vars=_env(tmp_path, "partial"))


TRANSFORMATION = ADAPTER + '[pipeline.marts]\ntype = "transformation"\n'
NO_DISCOVERY = ADAPTER + '[pipeline.raw]\ntype = "replication"\n'


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            TRANSFORMATION,
            "pipeline 'marts' is type 'transformation', but this command only supports replication",
        ),
        (NO_DISCOVERY, "pipeline 'raw' has no discovery adapter configured in rocky.toml"),
    ],
)
def test_plan_is_replication_only_and_says_so(
    standin_bin: Path, tmp_path: Path, toml: str, says: str
) -> None:
    """engine 1.71 plan.rs: resolve_replication_pipeline, then a discovery adapter (README, plan)."""
    with pytest.raises(RockyUsageError) as err:
        _hook(standin_bin, tmp_path, toml).plan(env_vars=_env(tmp_path))
    assert "plans replication pipelines only" in err.value.reason and says in err.value.reason
    assert not err.value.retryable


def _planned(standin_bin: Path, project: Path) -> str:
    toml = (
        ADAPTER + '[pipeline.raw]\ntype = "replication"\n[pipeline.raw.source.discovery]\nadapter = "duck"\n'
    )
    plan = _hook(standin_bin, project, toml).plan(filter="source=orders", env_vars=_env(project))
    assert plan.plan_id is not None
    return str(plan.plan_id)


def test_apply_passes_the_engines_digest_and_the_engine_compares_it(
    standin_bin: Path, tmp_path: Path
) -> None:
    """A product-bound plan (``rocky product propose`` writes one) applies with its ``sha256:`` digest,
    which 0.1.0 refused before spawning; any other digest is the engine's mismatch refusal."""
    plan_id = _planned(standin_bin, tmp_path)
    hook = RockyHook(binary_path=str(standin_bin), project_dir=str(tmp_path))
    bind_to_product(tmp_path / PLANS_DIR / f"{plan_id}.json", "orders_daily", DIGEST)
    with pytest.raises(RockyEngineError, match="is product-bound"):
        hook.apply(plan_id, env_vars=_env(tmp_path))
    with pytest.raises(RockyEngineError, match="spec digest mismatch"):
        hook.apply(plan_id, expect_spec_digest="sha256:" + "00" * 32, env_vars=_env(tmp_path))
    result = hook.apply(plan_id, expect_spec_digest=DIGEST, env_vars=_env(tmp_path))
    assert result.tables_copied == 2
    assert _argv(tmp_path)[-3:] == ["apply", plan_id, f"--expect-spec-digest={DIGEST}"]


def test_a_plan_rocky_plan_wrote_carries_no_spec_digest(standin_bin: Path, tmp_path: Path) -> None:
    plan_id = _planned(standin_bin, tmp_path)
    stored = json.loads((tmp_path / PLANS_DIR / f"{plan_id}.json").read_text())
    assert "spec_digest" not in stored["plan"] and stored["payload"] == {}
    hook = RockyHook(binary_path=str(standin_bin), project_dir=str(tmp_path))
    with pytest.raises(RockyEngineError, match="carries no spec_digest in its payload"):
        hook.apply(plan_id, expect_spec_digest=DIGEST, env_vars=_env(tmp_path))
