"""``RockySeedOperator``: load one seed with ``rocky seed``, as the engine's own DAG does.

A seed node of a Rocky project is not a model: ``rocky run --model <seed>`` is refused by the engine,
or runs a model of the same name instead. ``rocky seed --filter <seed>`` loads it
(``main.rs`` ``Command::Seed``; the engine's DAG runner, ``run_dag_exec.rs``, does exactly this).
``RockyTaskGroup`` renders one per seed node; it is usable on its own too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine.args.base import task_template_fields
from airflow_provider_rocky._engine.args.seed import SeedArgs
from airflow_provider_rocky._task.declared import LazyCommand
from airflow_provider_rocky.operators.materialize import RockyMaterializingOperator

if TYPE_CHECKING:
    from airflow_provider_rocky._engine.run import RunRecord
    from airflow_provider_rocky._verdict import events
    from airflow_provider_rocky._verdict.interpret import Verdict

__all__ = ["RockySeedOperator"]


class RockySeedOperator(RockyMaterializingOperator):
    """``rocky seed [--seeds DIR] [--pipeline P] --filter <seed>``: one seed's CSV into its table.

    :param seed: the seed's name (its file's stem, or the sidecar's ``name``); templated.
    :param pipeline: the pipeline whose warehouse adapter loads it; needed when the project defines
        more than one pipeline (the engine resolves one: ``resolve_pipeline``).
    :param seeds_dir: the seeds folder (default: ``seeds`` beside the config file, as the engine's
        DAG reads it).

    The loaded table is one asset event (the table the engine reports); a seed that failed fails the
    task as ``engine``; a name no seed file has fails as ``usage`` (the engine would load nothing
    and exit 0).
    """

    command = LazyCommand("seed", SeedArgs)
    template_fields: Sequence[str] = task_template_fields(SeedArgs)

    def __init__(
        self,
        *,
        seed: str | None = None,
        pipeline: str | None = None,
        seeds_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.pipeline = pipeline
        self.seeds_dir = seeds_dir
        self._check_static_arguments()

    def _specs(self, verdict: Verdict, record: RunRecord) -> list[events.AssetEventSpec]:
        """The seed's table, from ``SeedOutput.tables[].target`` (no Pipes: ``rocky seed`` writes none)."""
        from airflow_provider_rocky._verdict.seed import seed_events

        naming = self._naming
        return seed_events(
            verdict.result,
            namespace=naming.get("asset_namespace"),
            default_catalog=naming.get("default_catalog"),
        )
