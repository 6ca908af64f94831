"""What every command's arguments share: rendered values coerced once, names declared once.

A command's arguments are a frozen dataclass. Its fields *are* the declaration: the operator's
arguments, its templated fields and the names ``start_from_trigger`` carries are derived from them
(:func:`operator_name`, :func:`templated_names`, :func:`flag_names`), never listed again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from airflow_provider_rocky.exceptions import RockyUsageError


def arg(default: Any = None, *, operator: str | None = None) -> Any:
    """A dataclass field whose operator argument is named ``operator`` (default: the field's name)."""
    return dataclasses.field(default=default, metadata={"operator": operator} if operator else {})


def operator_name(item: dataclasses.Field[Any]) -> str:
    """The operator argument (and trigger kwarg) a field is set from."""
    return str(item.metadata.get("operator") or item.name)


def templated_names(cls: type) -> tuple[str, ...]:
    """Operator names of the fields that take values (templated); booleans are flags, not templated."""
    return tuple(operator_name(f) for f in dataclasses.fields(cls) if not isinstance(f.default, bool))


def task_template_fields(cls: type) -> tuple[str, ...]:
    """An operator's ``template_fields``: the argument values, ``env_vars``, the setting overrides."""
    from airflow_provider_rocky._engine.command import SETTING_OVERRIDES

    return (*templated_names(cls), "env_vars", *SETTING_OVERRIDES)


def flag_names(cls: type) -> tuple[str, ...]:
    """Operator names of the boolean fields (fixed at DAG parse time)."""
    return tuple(operator_name(f) for f in dataclasses.fields(cls) if isinstance(f.default, bool))


def from_operator(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Operator-named values → field-named values of ``cls`` (unknown names are ignored)."""
    return {f.name: values[operator_name(f)] for f in dataclasses.fields(cls) if operator_name(f) in values}


def blank_to_none(raw: dict[str, Any]) -> dict[str, Any]:
    """Rendered templates: a blank string means the argument was not given."""
    return {
        key: None if isinstance(value, str) and not value.strip() else value for key, value in raw.items()
    }


def as_int(values: dict[str, Any], names: Iterable[str]) -> None:
    """Numbers rendered as text (``"{{ params.n }}"``) become ints; anything else is a usage error."""
    for name in names:
        value = values.get(name)
        if value is not None and not isinstance(value, int):
            try:
                values[name] = int(str(value).strip())
            except ValueError:
                raise RockyUsageError(f"{name}={value!r} is not an integer") from None


def as_json_object(values: dict[str, Any], name: str) -> None:
    """A JSON argument given as text (a rendered template) becomes the object it spells."""
    value = values.get(name)
    if isinstance(value, str):
        try:
            values[name] = json.loads(value)
        except ValueError as exc:
            raise RockyUsageError(f"{name} is not valid JSON: {exc}") from None
