"""An operator's engine command, declared by name and arguments, its declaration imported on first use.

A DAG file that imports ``RockyOperator`` pays for what building the task needs (the arguments
dataclass, for the names of its templated fields and the checks DAG parsing runs), not for what
running it needs: the interpreters, summaries and reports of every command (``_task/commands.py``
and the ``_verdict`` modules behind it) load when a task runs. Measured in benchmarks/README.md
(``dag_parse_rocky_vs_bash``): a DAG of 100 ``RockyOperator`` tasks against 100 ``BashOperator``.

:class:`LazyCommand` answers the same questions as :class:`~airflow_provider_rocky._task.commands.CommandSpec`
(:class:`CommandLike`), so an operator declares either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_rocky._engine.args.base import flag_names, task_template_fields

if TYPE_CHECKING:
    from airflow_provider_rocky._task.commands import CommandSpec, Report, Summarize
    from airflow_provider_rocky._verdict.interpret import Verdict


__all__ = ["CommandLike", "LazyCommand", "task_template_fields"]


class CommandLike(Protocol):
    """What an operator asks of its declared command."""

    @property
    def name(self) -> str: ...
    @property
    def args(self) -> type[Any]: ...
    @property
    def templated(self) -> tuple[str, ...]: ...
    @property
    def flags(self) -> tuple[str, ...]: ...
    @property
    def interpret(self) -> Callable[..., Verdict]: ...
    @property
    def summarize(self) -> Summarize: ...
    @property
    def report(self) -> Report: ...
    @property
    def reask_in_flight(self) -> bool: ...
    @property
    def emits_assets(self) -> bool: ...
    @property
    def min_engine_version(self) -> str: ...


class LazyCommand:
    """The command ``name`` (a ``_task.commands`` declaration) over the arguments dataclass ``args``."""

    def __init__(self, name: str, args: type[Any]) -> None:
        self._name, self._args = name, args
        self._spec: CommandSpec | None = None

    @property
    def spec(self) -> CommandSpec:
        """The declaration (imported, once, on first use)."""
        if self._spec is None:
            from airflow_provider_rocky._task.commands import command

            self._spec = command(self._name)
            if self._spec.args is not self._args:
                raise TypeError(f"command {self._name!r} is declared over {self._spec.args.__name__}")
        return self._spec

    @property
    def name(self) -> str:
        return self._name

    @property
    def args(self) -> type[Any]:
        return self._args

    @property
    def templated(self) -> tuple[str, ...]:
        return task_template_fields(self._args)

    @property
    def flags(self) -> tuple[str, ...]:
        return flag_names(self._args)

    @property
    def interpret(self) -> Callable[..., Verdict]:
        return self.spec.interpret

    @property
    def summarize(self) -> Summarize:
        return self.spec.summarize

    @property
    def report(self) -> Report:
        return self.spec.report

    @property
    def reask_in_flight(self) -> bool:
        return self.spec.reask_in_flight

    @property
    def emits_assets(self) -> bool:
        return self.spec.emits_assets

    @property
    def min_engine_version(self) -> str:
        return self.spec.min_engine_version
