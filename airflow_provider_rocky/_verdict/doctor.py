"""What ``rocky doctor``'s result means, for the checks that gate the task (``checks=``).

Read with rocky-sdk's ``DoctorResult`` (a check status this provider does not know is read as
critical, with a note, as dagster-rocky's ``strict_doctor`` does). Decided in this order:

1. **every name in** ``checks=`` **was reported**: a group name (``state``, ``auth``) by at least one
   check of the group, a check name (``auth/default``) by exactly that check. Otherwise the gate
   tested nothing: ``usage``, naming the nearest check the engine knows (``stat`` → ``state``), and
   for the groups the engine leaves out of some projects, when it reports them;
2. **the result agrees with itself**: ``overall`` is one the engine prints (healthy, warning,
   critical), else the task fails closed (``output``: this provider cannot know what it means);
   ``overall: critical`` or exit 3 without a single critical check fails closed as ``health``;
3. **a critical check that gates** fails the task as ``health``, naming each with its message and
   the engine's suggestions. A critical check of the configuration (``config``, ``adapters``,
   ``pipelines``, ``state_sync``), or one whose message says the warehouse refused the credentials
   (401/403), is not retryable; any other critical live probe (a ping that did not get through, the
   state schema during a rolling upgrade, the state backend, the scheduler) is
   (``RockyTransientHealthError``);
4. a critical check that does not gate (``checks=`` names others) never passes silently: the result
   gets a note, logged at WARNING and kept in the summary's ``notes``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.args.doctor import GROUPS, SILENT, STATIC, gates, group_of
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict import wording
from airflow_provider_rocky._verdict.gates import enum_fallback, listed, sdk_model
from airflow_provider_rocky._verdict.parse import Tolerance
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with

#: The ``overall`` values the engine prints (``doctor.rs``: "critical" / "warning" / "healthy").
OVERALLS = ("healthy", "warning", "critical")
#: Exit code of a critical doctor (``doctor.rs`` ``DOCTOR_CRITICAL_EXIT_CODE``).
CRITICAL_EXIT = 3

DOCTOR_READING = Reading(
    sdk_model("DoctorResult"),
    "DoctorResult",
    Tolerance(repairs=(enum_fallback("checks", "status", ("healthy", "warning", "critical"), "critical"),)),
)


def status(check: Any) -> str:
    """A check's status as text (an enum's value, or the string itself)."""
    return str(getattr(check.status, "value", check.status))


def unreported(names: Sequence[str], reported: Sequence[str]) -> list[str]:
    """The ``checks=`` entries no reported check answers."""
    return [name for name in names if not any(gates(name, check) for check in reported)]


def _nearest(name: str, reported: Sequence[str]) -> str:
    known = list(dict.fromkeys([*reported, *{group_of(c) for c in reported}, *GROUPS]))
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    silent = SILENT.get(group_of(name))
    hint = f"did you mean {near[0]!r}?" if near and near[0] != name else f"known groups: {', '.join(GROUPS)}"
    if silent:
        hint = f"the engine reports {group_of(name)!r} {silent}"
    return hint


def _missing(names: Sequence[str], reported: Sequence[str], make: ErrorFactory, result: Any) -> Verdict:
    shown = listed(list(dict.fromkeys(reported))) if reported else "no check"
    wrong = listed([f"{name!r} ({_nearest(name, reported)})" for name in names])
    message = (
        f"rocky doctor: checks= names what the engine did not report, so the gate would test nothing: "
        f"{wrong}. It reported: {shown}"
    )
    return make.failed(make(exc.RockyUsageError, message, result), result)


def _contradiction(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict | None:
    """Fail closed on a result that contradicts itself (module docstring, 2)."""
    overall = str(getattr(result.overall, "value", result.overall))
    if overall not in OVERALLS:
        message = (
            f"rocky doctor reported overall {overall[:100]!r}, which this provider does not know "
            f"({', '.join(OVERALLS)}): failing closed; upgrade airflow-provider-rocky"
        )
        return make.failed(make(exc.RockyOutputError, message, result), result)
    critical = [c for c in result.checks if status(c) == "critical"]
    if (ended.exit_code == CRITICAL_EXIT or overall == "critical") and not critical:
        message = (
            f"rocky doctor: overall {overall} (exit {ended.exit_code}) without a critical check: "
            f"the result contradicts itself, failing closed{_advice(result)}"
        )
        return make.failed(make(exc.RockyHealthError, message, result), result)
    return None


def _advice(result: Any) -> str:
    return f"; the engine suggests: {listed(list(result.suggestions))}" if result.suggestions else ""


def _health_error(critical: Sequence[Any], make: ErrorFactory, result: Any) -> exc.RockyError:
    named = listed([f"{c.name}: {c.message}" for c in critical])
    message = f"rocky doctor: {len(critical)} critical check(s): {named}{_advice(result)}"
    permanent = any(group_of(str(c.name)) in STATIC or wording.is_auth(str(c.message)) for c in critical)
    return make(exc.RockyHealthError if permanent else exc.RockyTransientHealthError, message, result)


def interpret_doctor(outcome: ProcessOutcome, *, checks: Sequence[str] = (), **kwargs: Any) -> Verdict:
    """``rocky doctor``: the checks named in ``checks`` (or every one) gate the task (module docstring)."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        reported = [str(c.name) for c in result.checks]
        if missing := unreported(checks, reported):
            return _missing(missing, reported, make, result)
        if (contradicted := _contradiction(ended, result, make)) is not None:
            return contradicted
        critical = [c for c in result.checks if status(c) == "critical"]
        gating = [c for c in critical if not checks or any(gates(n, str(c.name)) for n in checks)]
        if gating:
            return make.failed(_health_error(gating, make, result), result)
        if critical:
            names = ", ".join(str(c.name) for c in critical[:10])
            make.notes = (
                *make.notes,
                f"overall critical: {names} critical but not among checks={list(checks)} (not gating)",
            )
        if ended.exit_code not in (0, CRITICAL_EXIT):
            message = make.error_text or f"rocky doctor exited {ended.exit_code}"
            return make.failed(make(exc.RockyEngineError, message, result), result)
        return make.verdict("success", result, None)

    return interpret_with(outcome, DOCTOR_READING, decide, **kwargs)
