"""``rocky seed [--seeds DIR] [--pipeline P] --filter NAME``: load one seed, as the engine's DAG does.

Upstream: ``main.rs`` ``Command::Seed`` (``--seeds`` defaults to ``seeds``, relative to the working
directory) and ``commands/run_dag_exec.rs``'s seed dispatch, which loads a seed node with
``run_seed(<config dir>/seeds, pipeline None, filter <seed name>)``. A seed is not a model: ``rocky run
--model <seed>`` is refused ("model '<seed>' not found"), or runs a model of the same name instead.

Choices: ``seeds_dir`` defaults to the ``seeds`` folder beside the config file, what the engine's own
DAG reads (``--seeds`` is passed only when that is not the engine's default ``seeds``); ``pipeline``
is passed only when given (the engine's DAG passes none, so a project with several pipelines needs it:
``run_seed`` resolves one to pick the warehouse adapter).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import blank_to_none
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyUsageError

#: ``Command::Seed``'s ``default_value`` for ``--seeds``.
DEFAULT_SEEDS_DIR = "seeds"


def seeds_dir_for(settings: RockySettings, given: str | None) -> str:
    """The seeds folder: ``given``, else ``seeds`` beside the config file (the engine's DAG)."""
    if given:
        return given
    return os.path.join(os.path.dirname(settings.config_path), DEFAULT_SEEDS_DIR)


@dataclass(frozen=True)
class SeedArgs:
    """The arguments of one ``rocky seed`` of one seed, after templating."""

    seed: str | None = None
    pipeline: str | None = None
    seeds_dir: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> SeedArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """A seed must be named: ``--filter`` is what keeps ``rocky seed`` to this one seed."""
        if values.get("seed") in (None, ""):
            raise RockyUsageError("seed is required: the name of the seed to load (rocky seed --filter)")

    def validate(self) -> None:
        self.check_shape(seed=self.seed)
        for name in ("seed", "pipeline", "seeds_dir"):
            value = getattr(self, name)
            if value is not None and str(value).startswith("-"):
                raise RockyUsageError(f"{name}={value!r} starts with '-': the engine would read it as a flag")

    def argv(self, settings: RockySettings) -> list[str]:
        seeds = seeds_dir_for(settings, self.seeds_dir)
        args = ["seed"] + ([opt("--seeds", seeds)] if seeds != DEFAULT_SEEDS_DIR else [])
        args += [opt("--pipeline", self.pipeline)] if self.pipeline is not None else []
        return [*args, opt("--filter", self.seed)]
