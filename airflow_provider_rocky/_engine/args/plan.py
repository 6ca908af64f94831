"""``rocky plan`` and ``rocky apply <plan_id>``: review what a run would do, then do exactly that.

``rocky plan`` takes ``rocky run``'s selection flags (not the run-only ones: no ``--defer``, no
idempotency key, no resume) plus ``--env``; its argv is a run's with the verb changed, as rocky-sdk's
``_build_plan_args`` builds it. ``rocky apply`` takes the plan's id (``rocky plan`` prints it) and,
optionally, the spec digest the plan was made from: a plan made from other model files is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_rocky._engine.args.base import blank_to_none
from airflow_provider_rocky._engine.args.run import RunArgs, RunSelection
from airflow_provider_rocky._engine.command import RockySettings, opt
from airflow_provider_rocky.exceptions import RockyUsageError

#: A plan id is hex (64 characters: blake3). Anything else is refused before spawning.
_HEX = re.compile(r"[0-9a-fA-F]{8,128}")
#: The engine's spec digest: ``sha256:`` and 64 lowercase hex digits (``rocky-core/src/product/spec.rs``
#: ``spec_digest``, ``DIGEST_PREFIX``); ``rocky apply`` compares it as an exact string (``apply.rs``
#: ``enforce_spec_digest_expectation``), so no other spelling can ever match.
SPEC_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _shown(value: str | None, limit: int = 130) -> str:
    """A refused value quoted, cut when long (a templated XCom may hold megabytes)."""
    if value is None or len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


@dataclass(frozen=True)
class PlanArgs(RunSelection):
    """The arguments of one ``rocky plan``, after templating: a run's selection, plus ``env``."""

    env: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> PlanArgs:
        values = blank_to_none(raw)
        env = values.pop("env", None)
        run = RunArgs.coerce(**values)  # the same coercion (numbers, JSON) as a run's
        return cls(**{**{k: getattr(run, k) for k in values}, "env": env})

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """The run's parse-time checks (a partition with a range, a range with one end...)."""
        RunArgs.check_shape(**{k: v for k, v in values.items() if k != "env"})

    def _run(self) -> RunArgs:
        fields = {k: v for k, v in self.__dict__.items() if k != "env"}
        return RunArgs(**fields)

    def validate(self) -> None:
        self._run().validate()
        if self.env is not None and (not self.env.strip() or self.env.startswith("-")):
            raise RockyUsageError(f"env={self.env!r} must name an environment (and not start with '-')")

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["plan", *self._run().argv(settings)[1:]]
        return args + ([opt("--env", self.env)] if self.env is not None else [])


def _check_spec_digest(digest: str) -> None:
    """Only ``sha256:<64 lowercase hex>`` can equal a spec digest the engine wrote: refuse the rest."""
    if SPEC_DIGEST.fullmatch(digest):
        return
    hint = "the engine's spec digests are 'sha256:' and 64 lowercase hex digits, compared as exact strings"
    bare = digest.lower().removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{64}", bare):
        hint += f": write 'sha256:{bare}'"
    raise RockyUsageError(f"expect_spec_digest={_shown(digest)} can never match: {hint}")


@dataclass(frozen=True)
class ApplyArgs:
    """``rocky apply <plan_id> [--expect-spec-digest d]``."""

    plan_id: str | None = None
    expect_spec_digest: str | None = None

    @classmethod
    def coerce(cls, **raw: Any) -> ApplyArgs:
        values = blank_to_none(raw)
        return cls(**{k: str(v).strip() if v is not None else None for k, v in values.items()})

    @classmethod
    def check_shape(cls, **values: Any) -> None:
        """A plan id is required (templated from the plan task's XCom, typically)."""
        if values.get("plan_id") in (None, ""):
            raise RockyUsageError(
                "plan_id is required: the plan_id a RockyPlanOperator pushed, e.g. "
                "\"{{ ti.xcom_pull(task_ids='plan')['plan_id'] }}\""
            )

    def validate(self) -> None:
        if not self.plan_id or not _HEX.fullmatch(self.plan_id):
            raise RockyUsageError(
                f"plan_id={_shown(self.plan_id)} is not a plan id (the hex id `rocky plan` prints); did the "
                "plan task push one? (its XCom return_value['plan_id'])"
            )
        if self.expect_spec_digest is not None:
            _check_spec_digest(self.expect_spec_digest)

    def argv(self, settings: RockySettings) -> list[str]:
        args = ["apply", str(self.plan_id)]
        return args + (
            [opt("--expect-spec-digest", self.expect_spec_digest)] if self.expect_spec_digest else []
        )
