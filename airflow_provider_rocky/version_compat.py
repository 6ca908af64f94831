"""Airflow version checks, in one place (the convention of Airflow's own providers).

Compared on the base version, so ``3.3.0rc1`` and ``3.3.0.dev0`` count as 3.3. Import-cheap: only
``airflow.__version__`` and ``packaging`` (which Airflow itself depends on); the secrets masker's
rule is imported on first use.
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


def should_hide_value_for_key(name: str) -> bool:
    """Airflow's own rule for a sensitive name (``[core] sensitive_var_conn_names`` included).

    ``airflow.sdk._shared.secrets_masker`` on 3.1.8 through 3.3.2 (3.3 deprecates the older
    ``airflow.sdk.execution_time.secrets_masker``, which 3.1 also has): imported on first use.
    """
    import importlib

    try:
        module = importlib.import_module("airflow.sdk._shared.secrets_masker")
    except ImportError:  # pragma: no cover - an Airflow that moved it again
        module = importlib.import_module("airflow.sdk.execution_time.secrets_masker")
    return bool(module.should_hide_value_for_key(name))


__all__ = ["AIRFLOW_VERSION", "AIRFLOW_V_3_2_PLUS", "AIRFLOW_V_3_3_PLUS", "should_hide_value_for_key"]
