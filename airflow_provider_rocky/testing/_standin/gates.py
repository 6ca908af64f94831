"""``rocky compile``, ``test`` and ``ci`` (contract §7): the gates a DAG runs before a run.

(``rocky doctor`` is ``doctor.py``.) Each is clean unless the scenario says otherwise (the names are
in ``testing/scenarios.py``):

* compile: ``compile_error`` (E001) / ``contract_violation`` (E010, E012, E013) are Error diagnostics
  (``has_errors``, JSON then exit 1); ``compile_warning`` a W004 warning (exit 0).
* test: ``test_failure`` fails one test (JSON then exit 1).
* ci: compile and test together: exit 1 on an error or a failed test, 4 when only warnings remain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_rocky.testing._standin.cli import Invocation
from airflow_provider_rocky.testing._standin.errors import CommandError
from airflow_provider_rocky.testing._standin.outputs import render
from airflow_provider_rocky.testing._standin.selection import Unit, model_units
from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd
from airflow_provider_rocky.testing.scenarios import DIAGNOSTICS, Scenario

CI_WARNINGS_EXIT = 4
WARNING_DIAGNOSTIC = (
    "W004",
    "column 'email' is classified pii but has no masking policy",
    "add a [mask] rule for 'email', or drop its pii classification",
)


def _print(document: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        write_fd(1, render(document, "json").encode("utf-8"))
    else:
        lines = [f"{key}: {value}" for key, value in document.items() if not isinstance(value, list | dict)]
        write_fd(1, ("\n".join(lines) + "\n").encode("utf-8"))


def diagnostics(scenario: Scenario, units: list[Unit]) -> list[dict[str, Any]]:
    """The compile diagnostics of the scenario: errors on the last model, a warning on the first."""
    failing, first = units[-1].name, units[0].name
    found = [
        {
            "severity": "Error",
            "code": code,
            "message": DIAGNOSTICS[code][0],
            "span": {"file": f"models/{failing}.sql", "line": 3, "col": 5},
            "model": failing,
            "suggestion": DIAGNOSTICS[code][1],
        }
        for code in scenario.compile_codes
    ]
    if scenario.name == "compile_warning":
        code, message, suggestion = WARNING_DIAGNOSTIC
        span = {"file": f"models/{first}.sql", "line": 1, "col": 1}
        found.append(
            {
                "severity": "Warning",
                "code": code,
                "message": message,
                "span": span,
                "model": first,
                "suggestion": suggestion,
            }
        )
    return found


def compile_models(
    inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str, version: str
) -> int:
    """Compile the models; JSON, then exit 1 on Error diagnostics."""
    units = model_units(inv.get("models") or "models", inv.get("model"), cwd)
    found = diagnostics(scenario, units)
    errors = [d for d in found if d["severity"] == "Error"]
    document = {
        "version": version,
        "command": "compile",
        "models": len(units),
        "execution_layers": min(2, len(units)),
        "diagnostics": found,
        "has_errors": bool(errors),
        "compile_timings": {
            "project_load_ms": 1,
            "semantic_graph_ms": 1,
            "typecheck_ms": 1,
            "typecheck_join_keys_ms": 0,
            "contracts_ms": 0,
            "total_ms": 3,
        },
        "models_detail": [
            {
                "name": u.name,
                "strategy": {"type": u.strategy},
                "target": {"catalog": u.catalog, "schema": u.schema, "table": u.table},
            }
            for u in units
        ],
    }
    log.info(f"compiled {len(units)} models", models=len(units), errors=len(errors))
    _print(document, fmt)
    if errors:
        raise CommandError("compilation failed with errors")
    return 0


def _tests(scenario: Scenario, units: list[Unit]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Per-model results and failures: ``test_failure`` fails the not-null test of the last model."""
    failures: list[dict[str, str]] = []
    if scenario.name == "test_failure":
        name = f"not_null:{units[-1].name}.order_date"
        failures.append({"name": name, "error": "2 row(s) with NULL order_date (expected 0)"})
    failed_models = {f["name"].split(":", 1)[1].split(".", 1)[0] for f in failures}
    results = [{"model": u.name, "status": "fail" if u.name in failed_models else "pass"} for u in units]
    return results, failures


def test_models(
    inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str, version: str
) -> int:
    """Run each model's tests; JSON, then exit 1 when one failed."""
    units = model_units(inv.get("models") or "models", inv.get("model"), cwd)
    results, failures = _tests(scenario, units)
    total = 2 * len(units)
    document = {
        "version": version,
        "command": "test",
        "total": total,
        "passed": total - len(failures),
        "failed": len(failures),
        "failures": failures,
        "model_results": results,
    }
    log.info(f"tests finished: {total - len(failures)}/{total} passed", failed=len(failures))
    _print(document, fmt)
    if failures:
        raise CommandError(f"{len(failures)} test(s) failed")
    return 0


def ci(inv: Invocation, scenario: Scenario, cwd: Path, log: StderrLog, fmt: str, version: str) -> int:
    """Compile and test; the exit code says which (1 failed, 4 warnings only, 0 clean)."""
    units = model_units(inv.get("models") or "models", None, cwd)
    found = diagnostics(scenario, units)
    _results, failures = _tests(scenario, units)
    compile_ok = not any(d["severity"] == "Error" for d in found)
    code = 1 if not compile_ok or failures else CI_WARNINGS_EXIT if found else 0
    document = {
        "version": version,
        "command": "ci",
        "compile_ok": compile_ok,
        "tests_ok": not failures,
        "models_compiled": len(units),
        "tests_passed": 2 * len(units) - len(failures),
        "tests_failed": len(failures),
        "exit_code": code,
        "diagnostics": found,
        "failures": failures,
    }
    log.info(f"ci finished with exit code {code}", exit_code=code)
    _print(document, fmt)
    if code == 1:
        log.plain(
            "Error: ci failed: " + ("compilation failed with errors" if not compile_ok else "tests failed")
        )
    return code
