"""The gate commands as tasks: ``rocky doctor``, ``compile``, ``test``, ``ci`` and ``freshness``.

Each is a declaration over :class:`~airflow_provider_rocky.operators.base.RockyBaseOperator`: the same
connection, overrides, ``env_vars``, ``timeout_seconds`` and ``deferrable`` arguments as
``RockyOperator``, the engine's lines streamed live, the JSON read with rocky-sdk's models, a compact
XCom summary, the taxonomy's errors with the stderr tail (docs/operators.md, Gates and workflow).
Triage in the order the engine's failure-modes page gives: compile-time failures are cheap, runtime
ones cost warehouse credits, so gate a run on ``RockyCompileOperator`` / ``RockyDoctorOperator`` upstream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_rocky._task.commands import CI, COMPILE, DOCTOR, FRESHNESS, TEST
from airflow_provider_rocky.operators.base import RockyBaseOperator

__all__ = [
    "RockyCiOperator",
    "RockyCompileOperator",
    "RockyDoctorOperator",
    "RockyFreshnessOperator",
    "RockyTestOperator",
]

_WITH_VARS: dict[str, str] = {"env_vars": "json", "var": "json"}


class RockyDoctorOperator(RockyBaseOperator):
    """``rocky doctor``: fail when a check is critical, naming each with the engine's suggestions.

    :param checks: what gates the task (default: every check): check groups (``["state", "auth"]``:
        every check of the group) or single checks (``["auth/default"]``). When every name is in one
        group, that group is passed as ``--check`` (the engine's ``--check`` takes a group); else every
        check runs and only those named gate, the others logged. A name the engine did not report
        fails the task as ``usage`` naming the nearest check (a typo never turns the gate off).
        Warnings log at WARNING and never fail.
    :param verbose: ``--verbose``.
    """

    command = DOCTOR
    template_fields: Sequence[str] = DOCTOR.templated

    def __init__(
        self, *, checks: Sequence[str] | str | None = None, verbose: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.checks = list(checks) if isinstance(checks, list | tuple) else checks
        self.verbose = verbose
        self._check_static_arguments()

    def interpret_options(self) -> dict[str, Any]:
        """The checks that gate the task."""
        checks = self.checks
        names = [checks] if isinstance(checks, str) else list(checks or [])
        return {"checks": [name.strip() for part in names for name in str(part).split(",") if name.strip()]}


class RockyCompileOperator(RockyBaseOperator):
    """``rocky compile``: fail on Error diagnostics (E010-E013: ``contract``, others: ``compile``).

    :param model: compile one model (``--model``).
    :param contracts: the contracts directory (``--contracts``).
    :param target_dialect: ``dbx``, ``sf``, ``bq`` or ``duckdb`` (``--target-dialect``).
    :param with_seed: ``--with-seed``.
    :param var: ``--var NAME=VALUE`` for each entry (templated).
    """

    command = COMPILE
    template_fields: Sequence[str] = COMPILE.templated
    template_fields_renderers: ClassVar[dict[str, str]] = _WITH_VARS

    def __init__(
        self,
        *,
        model: str | None = None,
        contracts: str | None = None,
        target_dialect: str | None = None,
        with_seed: bool = False,
        var: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.contracts = contracts
        self.target_dialect = target_dialect
        self.with_seed = with_seed
        self.var = dict(var) if var else None
        self._check_static_arguments()


class RockyTestOperator(RockyBaseOperator):
    """``rocky test`` (local, DuckDB): fail without retry when a test fails, naming each failure.

    :param model: test one model (``--model``). :param contracts: ``--contracts``.
    :param pipeline: ``--pipeline``. :param declarative: ``--declarative``.
    :param var: ``--var NAME=VALUE`` for each entry (templated).
    """

    command = TEST
    template_fields: Sequence[str] = TEST.templated
    template_fields_renderers: ClassVar[dict[str, str]] = _WITH_VARS

    def __init__(
        self,
        *,
        model: str | None = None,
        contracts: str | None = None,
        pipeline: str | None = None,
        declarative: bool = False,
        var: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.contracts = contracts
        self.pipeline = pipeline
        self.declarative = declarative
        self.var = dict(var) if var else None
        self._check_static_arguments()


class RockyCiOperator(RockyBaseOperator):
    """``rocky ci``: compile and test; errors and failed tests fail, warnings only (exit 4) pass loudly.

    :param contracts: ``--contracts``. :param var: ``--var NAME=VALUE`` for each entry (templated).
    """

    command = CI
    template_fields: Sequence[str] = CI.templated
    template_fields_renderers: ClassVar[dict[str, str]] = _WITH_VARS

    def __init__(
        self, *, contracts: str | None = None, var: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contracts = contracts
        self.var = dict(var) if var else None
        self._check_static_arguments()


class RockyFreshnessOperator(RockyBaseOperator):
    """``rocky freshness`` (engines 1.74 and later; refused before the run on older ones).

    Fails the try as ``freshness``, retryable, when a source or model is past its ``error_after`` (or
    could not be evaluated); a ``warn`` entry logs at WARNING. To wait until fresh, give it
    ``retries`` and a ``retry_delay``: a stale source fails this try, a later try sees it fresh.

    :param pipeline: ``--pipeline``.
    """

    command = FRESHNESS
    template_fields: Sequence[str] = FRESHNESS.templated

    def __init__(self, *, pipeline: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self._check_static_arguments()
