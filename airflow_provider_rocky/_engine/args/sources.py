"""``rocky discover``: the sources a project reads, and when each last synced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import blank_to_none
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyUsageError


@dataclass(frozen=True)
class DiscoverArgs:
    """``rocky discover [--pipeline p] [--no-cache]`` (rocky-sdk's ``RockyClient.discover``)."""

    pipeline: str | None = None
    no_cache: bool = False

    @classmethod
    def coerce(cls, **raw: Any) -> DiscoverArgs:
        return cls(**blank_to_none(raw))

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """Nothing depends only on which arguments are set."""

    def validate(self) -> None:
        if self.pipeline is not None and self.pipeline.startswith("-"):
            raise RockyUsageError(
                f"pipeline={self.pipeline!r} starts with '-': the engine would read it as a flag"
            )

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["discover", *([opt("--pipeline", self.pipeline)] if self.pipeline else [])]
        return args + (["--no-cache"] if self.no_cache else [])
