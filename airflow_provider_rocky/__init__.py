"""Apache Airflow 3 provider for the Rocky SQL transformation engine.

The names DAG authors use are importable from here, lazily: importing the package (as Airflow's
providers manager does at discovery) loads no operator, hook or Airflow module until a name is used.

* :class:`RockyOperator` (``rocky run``), the gate and workflow operators (``RockyDoctorOperator``,
  ``RockyCompileOperator``, ``RockyTestOperator``, ``RockyCiOperator``, ``RockyFreshnessOperator``,
  ``RockyPlanOperator``, ``RockyApplyOperator``), the project's ``RockySeedOperator`` (``rocky seed``)
  and ``RockyRunDagOperator`` (``rocky run --dag``), :class:`RockyHook`, :class:`RockyRunTrigger`;
* :func:`rocky_asset` / :func:`rocky_asset_uri`, the Assets a Rocky run emits;
* :class:`RockyError`, the base of the failure taxonomy (``airflow_provider_rocky.exceptions``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: Public name -> module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "RockyOperator": "airflow_provider_rocky.operators.rocky",
    "RockyDoctorOperator": "airflow_provider_rocky.operators.gates",
    "RockyCompileOperator": "airflow_provider_rocky.operators.gates",
    "RockyTestOperator": "airflow_provider_rocky.operators.gates",
    "RockyCiOperator": "airflow_provider_rocky.operators.gates",
    "RockyFreshnessOperator": "airflow_provider_rocky.operators.gates",
    "RockyPlanOperator": "airflow_provider_rocky.operators.plan",
    "RockyApplyOperator": "airflow_provider_rocky.operators.plan",
    "RockySeedOperator": "airflow_provider_rocky.operators.seed",
    "RockyRunDagOperator": "airflow_provider_rocky.operators.run_dag",
    "RockyHook": "airflow_provider_rocky.hooks.rocky",
    "RockyRunTrigger": "airflow_provider_rocky.triggers.rocky",
    "RockySourceSyncTrigger": "airflow_provider_rocky.triggers.source_sync",
    "RockyRetryPolicy": "airflow_provider_rocky.retry",
    "rocky_asset": "airflow_provider_rocky.assets",
    "rocky_asset_uri": "airflow_provider_rocky.assets",
    "RockyError": "airflow_provider_rocky.exceptions",
    "RockyTaskGroup": "airflow_provider_rocky.task_group",
    "RockyDAG": "airflow_provider_rocky.task_group",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_provider_rocky' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
