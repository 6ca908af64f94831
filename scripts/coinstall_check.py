"""`make coinstall`: the provider installs beside dagster-rocky 1.74 (which needs rocky-sdk >= 0.29).

Run inside the throwaway environment the make target builds; it prints the versions it resolved and
reads an engine-1.71 result that rocky-sdk 0.29 alone rejects (drift without ``asset_key``).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version


def main() -> int:
    import dagster_rocky  # noqa: F401  (importable beside the provider)

    from airflow_provider_rocky import RockyOperator  # noqa: F401
    from airflow_provider_rocky._engine.process import ProcessOutcome
    from airflow_provider_rocky._verdict.interpret import interpret

    names = ("apache-airflow", "airflow-provider-rocky", "rocky-sdk", "dagster-rocky", "dagster")
    print(" ".join(f"{name}=={version(name)}" for name in names))
    drift = {"table": "wh.s.t", "action": "drop_and_recreate", "reason": "type changed"}
    document = {
        "version": "1.71.0",
        "command": "run",
        "status": "Success",
        "filter": "",
        "duration_ms": 1,
        "tables_copied": 0,
        "materializations": [],
        "check_results": [],
        "permissions": {"grants_added": 0, "grants_revoked": 0, "catalogs_created": 0, "schemas_created": 0},
        "drift": {"tables_checked": 1, "tables_drifted": 1, "actions_taken": [drift]},
    }
    verdict = interpret(ProcessOutcome(exit_code=0, stdout=json.dumps(document).encode()))
    print(f"engine-1.71 drift result read as: {verdict.outcome} ({verdict.error})")
    return 0 if verdict.outcome == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
