"""Everyday Airflow semantics (issue 20): retries, freshness waits, the verdict's own stderr window,
only secrets masked, no event for a failed declared table, a quiet green run. One DAG per case and
mode; tests/operators/test_everyday.py reads what each left in the metadata DB.

A scenario that changes with the try (``{{ 'x' if ti.try_number == 1 else 'success' }}``) shows a
retry that really runs and ends the failure, as it would once a network blip or a stale source passed.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_rocky.assets import rocky_asset
from airflow_provider_rocky.operators.gates import RockyFreshnessOperator
from airflow_provider_rocky.operators.rocky import RockyOperator
from airflow_provider_rocky.version_compat import AIRFLOW_V_3_3_PLUS

WORK = os.environ.get("ROCKY_TEST_WORKDIR", "/tmp")
STANDIN = os.path.join(os.environ.get("AIRFLOW_HOME", "/tmp"), "bin", "rocky")
MODES = ("sync", "deferrable")
START = datetime(2026, 1, 1)
NAMESPACE = "rocky://everyday"


def then_success(first: str) -> str:
    """The scenario ``first`` on the first try, ``success`` after it."""
    return "{{ '" + first + "' if ti.try_number == 1 else 'success' }}"


def common(dag_id: str, mode: str, scenario: str, **env: str) -> dict[str, Any]:
    return {
        "binary_path": STANDIN,
        "project_dir": WORK,
        "deferrable": mode == "deferrable",
        "event_hold_seconds": 0,  # dag.test() runs the trigger inline
        "env_vars": {
            "ROCKY_STANDIN_SCENARIO": scenario,
            "ROCKY_STANDIN_DELAY": "0",
            "ROCKY_STANDIN_RECORD": os.path.join(WORK, f"{dag_id}.jsonl"),
            **env,
        },
    }


def declare(name: str, mode: str, scenario: str, operator: Any = RockyOperator, **kwargs: Any) -> None:
    """One DAG ``everyday__<name>__<mode>`` holding one task ``rocky_run``; ``env`` joins env_vars."""
    dag_id = f"everyday__{name}__{mode}"
    env = kwargs.pop("env", {})
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as made:
        operator(task_id="rocky_run", **kwargs, **common(dag_id, mode, scenario, **env))
    globals()[dag_id] = made


#: Item 1: failures not known to be permanent honour ``retries`` (and the policy, on 3.3).
RETRIED = ("network_failure", "hard_failure")
#: Item 3: with ``stderr_tail_lines=0`` the verdict still reads the engine's last lines.
UNSHOWN = ("state_locked", "quality_gate")
ORDERS = {"filter": "source=orders"}
NO_DELAY = {"retries": 1, "retry_delay": timedelta(0)}

for _mode in MODES:
    for _scenario in RETRIED:
        declare(f"retried__{_scenario}", _mode, then_success(_scenario), **ORDERS, **NO_DELAY)
    if AIRFLOW_V_3_3_PLUS:
        from airflow_provider_rocky.retry import RockyRetryPolicy

        declare(
            "policy__network_failure",
            _mode,
            then_success("network_failure"),
            **ORDERS,
            retries=1,
            retry_delay=timedelta(hours=1),  # the policy decides: the transient fallback, 1 s here
            retry_policy=RockyRetryPolicy(cooldown_fallback=timedelta(seconds=1)),
        )
    # Item 2: a stale source fails the try as retryable; the next try finds it fresh.
    declare(
        "freshness_wait",
        _mode,
        then_success("freshness_error"),
        RockyFreshnessOperator,
        **NO_DELAY,
        env={"ROCKY_STANDIN_ENGINE_VERSION": "1.77.0"},
    )
    for _scenario in UNSHOWN:
        declare(f"unshown__{_scenario}", _mode, _scenario, **ORDERS, stderr_tail_lines=0)
    # Item 4: configuration in env_vars is not a secret; a sensitive-named value is.
    declare(
        "config_env",
        _mode,
        "success",
        **ORDERS,
        asset_namespace=NAMESPACE,
        env={"ROCKY_CATALOG": "warehouse", "WAREHOUSE_TOKEN": "everyday-t0ken-5d1e"},
    )
    # Item 5: a declared table that failed gets no event, with emit_assets=False too.
    declare(
        "declared_partial",
        _mode,
        "partial",
        **ORDERS,
        asset_namespace=NAMESPACE,
        emit_assets=False,
        outlets=[
            rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE),
            rocky_asset("warehouse.staging__orders.order_items", namespace=NAMESPACE),
        ],
    )
    # Item 9: a plain green run, one table declared, the rest through the alias.
    declare(
        "green",
        _mode,
        "success",
        **ORDERS,
        asset_namespace=NAMESPACE,
        outlets=[rocky_asset("warehouse.staging__orders.orders", namespace=NAMESPACE)],
    )
