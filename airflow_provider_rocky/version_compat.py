"""Airflow version checks, in one place (the convention of Airflow's own providers).

Compared on the base version, so ``3.3.0rc1`` and ``3.3.0.dev0`` count as 3.3. Import-cheap: only
``airflow.__version__`` and ``packaging`` (which Airflow itself depends on).
"""

from __future__ import annotations

from packaging.version import Version


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__

    release = Version(Version(__version__).base_version).release
    major, minor, micro = (*release, 0, 0, 0)[:3]
    return major, minor, micro


AIRFLOW_VERSION: tuple[int, int, int] = _airflow_version()
#: Connection forms from provider info (``conn-fields``).
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2, 0)
#: The triggerer renders ``start_from_trigger`` kwargs; ``BaseTrigger.on_kill``; ``retry_policy``.
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3, 0)

__all__ = ["AIRFLOW_VERSION", "AIRFLOW_V_3_2_PLUS", "AIRFLOW_V_3_3_PLUS"]
