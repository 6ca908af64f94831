"""The report's documents as they may be stored, and a run-level error as a report carries it."""

from __future__ import annotations

from typing import Any

from airflow_provider_rocky._task import secrets
from airflow_provider_rocky.exceptions import RockyError

#: Keys of a report whose values are engine text (redacted with Airflow's masker before a push); the
#: rest are identifiers and words of this provider (node ids, statuses, generations), only made
#: storable: a secret that happens to equal a model's name must not rename the node in the report.
ENGINE_TEXT = frozenset({"lines", "error", "compile_error", "message", "stderr_tail"})


def for_the_db(document: dict[str, Any]) -> dict[str, Any]:
    """A report document as it may be stored: engine text redacted, everything storable."""
    return {
        key: secrets.for_the_db(value)
        if key in ENGINE_TEXT and not isinstance(value, dict)
        else for_the_db(value)
        if isinstance(value, dict) and key == "error"
        else secrets.storable(value)
        for key, value in document.items()
    }


def error_document(error: RockyError) -> dict[str, Any]:
    """A run-level error as the report carries it (its class, so node tasks raise the same kind)."""
    return {
        "class": type(error).__name__,
        "category": error.category,
        "message": error.reason[:2000],
        "exit_code": error.exit_code,
        "stderr_tail": list(error.stderr_tail[-10:]),
    }
