"""What the gate commands' results mean: ``rocky doctor``, ``compile``, ``test``, ``ci``, ``freshness``.

Read with rocky-sdk's own models (``DoctorResult``, ``CompileResult``, ``TestResult``, ``CiResult``,
``FreshnessOutput``; freshness with a loose model of our own on SDKs before 0.29, which lack it),
through the shared pipeline (:mod:`~airflow_provider_rocky._verdict.verdict`). The verdicts:

* doctor: :mod:`.doctor` (the checks that gate, what the engine did not report, contradictions).
* compile / ci: Error diagnostics fail; E010-E013 only: ``contract``, any other code: ``compile``;
  neither is retried. ``ci`` failing tests: ``test``; exit 4 (warnings only) succeeds.
* test: failed tests fail as ``test``, naming each.
* freshness: an ``error`` or ``runtime_error`` entry fails as ``freshness``; ``warn`` succeeds loudly.

A result that contradicts itself fails closed, naming the contradiction: a ``test`` block counting
failures its rows do not show (``declarative: {failed: 5, results: []}``), a freshness ``summary``
counting errors no entry shows, a ``ci`` result whose own ``exit_code`` says failure while its flags
say success. The counts are the engine's own tally (``rocky test``: ``failed`` = rows failing at error
severity, ``errored`` = rows that could not run, and either fails the command:
``engine/crates/rocky-cli/src/commands/test.rs``; ``rocky ci``: ``exit_code`` 1 exactly when compile
or tests failed: ``engine/crates/rocky-engine/src/ci.rs``, ``CiResult::exit_code``), so a count
above the rows means rows went missing, never that the gate passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky import exceptions as exc
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._verdict.parse import Repair, Tolerance
from airflow_provider_rocky._verdict.tally import count, disagreements, failing_closed
from airflow_provider_rocky._verdict.verdict import ErrorFactory, Reading, Verdict, interpret_with

if TYPE_CHECKING:
    from pydantic import BaseModel

_CONTRACT_CODE = re.compile(r"^E01[0-3]$")
SEVERITIES = ("Error", "Warning", "Info")
#: Items named in an error message; the XCom summary and the log carry the rest.
SHOWN = 10


def enum_fallback(rows: str, key: str, allowed: Iterable[str], fallback: str) -> Repair:
    """Rows of ``rows`` whose ``key`` is not one of ``allowed`` get ``fallback``, with a note."""
    known = frozenset(allowed)

    def repair(data: dict[str, Any], notes: list[str]) -> None:
        for index, row in enumerate(data.get(rows) or []):
            if isinstance(row, dict) and row.get(key) not in known:
                notes.append(f"read {rows}[{index}].{key}={row.get(key)!r} as {fallback!r} (unknown value)")
                row[key] = fallback

    return repair


def sdk_model(name: str) -> Callable[[], type[BaseModel]]:
    def model() -> type[BaseModel]:
        from rocky_sdk import types

        return getattr(types, name)  # type: ignore[no-any-return]

    return model


def render_diagnostic(d: Any) -> str:
    """``model: CODE message (file:line) — suggestion``, the way the engine's own CLI reads."""
    span = getattr(d, "span", None)
    where = f" ({span.file}:{span.line})" if span is not None and getattr(span, "file", None) else ""
    hint = f" — {d.suggestion}" if getattr(d, "suggestion", None) else ""
    return f"{d.model}: {d.code} {d.message}{where}{hint}"


def _severity(d: Any) -> str:
    return str(getattr(d.severity, "value", d.severity))


def errors_of(diagnostics: Sequence[Any]) -> list[Any]:
    """The Error diagnostics."""
    return [d for d in diagnostics if _severity(d) == "Error"]


def warnings_of(diagnostics: Sequence[Any]) -> list[Any]:
    """The Warning diagnostics."""
    return [d for d in diagnostics if _severity(d) == "Warning"]


#: Characters of one listed item in an error message (500 long diagnostics made a 250,000-char error).
ITEM_CHARS = 300


def listed(items: Sequence[str]) -> str:
    """The first :data:`SHOWN` items, each cut to :data:`ITEM_CHARS`: an error message stays bounded."""
    cut = [item if len(item) <= ITEM_CHARS else item[:ITEM_CHARS] + " ..." for item in items[:SHOWN]]
    return "; ".join(cut) + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def compile_error(diagnostics: Sequence[Any], make: ErrorFactory, result: Any) -> exc.RockyError:
    """Error diagnostics: ``contract`` when every code is E010-E013, else ``compile``."""
    errors = errors_of(diagnostics)
    rendered = listed([render_diagnostic(d) for d in errors]) or (
        "the engine named no Error diagnostic (has_errors); its stderr tail says why"
    )
    if errors and all(_CONTRACT_CODE.match(str(d.code)) for d in errors):
        return make(
            exc.RockyContractError, f"data contract violated ({len(errors)} error(s)): {rendered}", result
        )
    return make(
        exc.RockyCompileError, f"models failed to compile ({len(errors)} error(s)): {rendered}", result
    )


# -- compile, test, ci ----------------------------------------------------------------------------

#: An unknown severity is read as a warning (noted): the engine's own verdict (``has_errors``, its exit code)
#: still decides whether the command failed, so a newer engine's "Hint" cannot fail a clean compile.
_DIAGNOSTICS = enum_fallback("diagnostics", "severity", SEVERITIES, "Warning")
COMPILE_READING = Reading(
    sdk_model("CompileResult"),
    "CompileResult",
    Tolerance(rows=frozenset({"models_detail"}), repairs=(_DIAGNOSTICS,)),
)
TEST_READING = Reading(sdk_model("TestResult"), "TestResult", Tolerance(repairs=(_DIAGNOSTICS,)))
CI_READING = Reading(sdk_model("CiResult"), "CiResult", Tolerance(repairs=(_DIAGNOSTICS,)))


def interpret_compile(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky compile``: Error diagnostics (or ``has_errors``) fail; warnings succeed loudly."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        if result.has_errors or errors_of(result.diagnostics):
            return make.failed(compile_error(result.diagnostics, make, result), result)
        return clean_exit(ended, result, make, ok=(0,))

    return interpret_with(outcome, COMPILE_READING, decide, **kwargs)


def _failures(result: Any) -> list[str]:
    return [f"{name}: {error}" for name, error in failing_tests(result)]


def _declarative_rows(result: Any, *, warning: bool) -> list[Any]:
    """Declarative rows that fail (``error``: any severity, ``fail``: error severity), or that warn.

    The engine's own tally (``engine/crates/rocky-cli/src/commands/test.rs``): ``failed`` counts
    ``fail`` at ``error`` severity, ``warned`` ``fail`` at ``warning``, ``errored`` every ``error``.
    """
    block = getattr(result, "declarative", None)
    rows = getattr(block, "results", None) or []
    warns = [r for r in rows if str(r.status) == "fail" and str(r.severity) in ("warn", "warning")]
    if warning:
        return warns
    warned = {id(r) for r in warns}  # identity: comparing rows by value would be quadratic
    return [r for r in rows if str(r.status) in ("fail", "error") and id(r) not in warned]


def _declarative(result: Any, *, warning: bool) -> list[tuple[str, str]]:
    """Declarative tests (``--declarative``) that failed or errored, at error or at warning severity."""
    return [
        (f"{r.model}{'.' + r.column if r.column else ''} {r.test_type}", str(r.detail or r.status))
        for r in _declarative_rows(result, warning=warning)
    ]


def _unit(result: Any) -> list[tuple[str, str]]:
    block = getattr(result, "unit_tests", None)
    failed = [r for r in getattr(block, "results", None) or [] if not r.passed]
    return [(f"{r.model} unit test {r.test}", str(r.error or "rows differ")) for r in failed]


def failing_tests(result: Any) -> list[tuple[str, str]]:
    """(name, error) of every failed test a result names: model tests, declarative (error severity), unit."""
    own = [(str(f.name), str(f.error)) for f in getattr(result, "failures", None) or []]
    return [*own, *_declarative(result, warning=False), *_unit(result)]


def warned_tests(result: Any) -> list[tuple[str, str]]:
    """Declarative tests that failed at warning severity: logged at WARNING, the task succeeds."""
    return _declarative(result, warning=True)


def rocky_test_contradictions(result: Any) -> list[str]:
    """Where a ``rocky test`` result counts more failures than its rows show."""
    declarative, unit = getattr(result, "declarative", None), getattr(result, "unit_tests", None)
    return disagreements(
        [
            ("model tests: failed", count(result, "failed"), len(getattr(result, "failures", None) or [])),
            (
                "declarative: failed+errored",
                count(declarative, "failed", "errored"),
                len(_declarative(result, warning=False)),
            ),
            ("unit_tests: failed", count(unit, "failed"), len(_unit(result))),
        ]
    )


def interpret_test(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky test``: a failed test fails the task, naming each failure (declarative and unit too).

    A block whose count says failed while its rows show fewer failures fails too, naming that.
    """

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        failing, contradictions = _failures(result), rocky_test_contradictions(result)
        if result.failed or failing or contradictions:
            failed = max(len(failing), count(result, "failed"))
            named = listed(failing) or "none named"
            message = f"{failed} test(s) failed: {named}{failing_closed(contradictions)}"
            return make.failed(make(exc.RockyTestFailure, message, result), result)
        return clean_exit(ended, result, make, ok=(0,))

    return interpret_with(outcome, TEST_READING, decide, **kwargs)


def interpret_ci(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky ci``: compile errors, then failed tests, fail; exit 4 (warnings only) succeeds."""

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        if not result.compile_ok or errors_of(result.diagnostics):
            return make.failed(compile_error(result.diagnostics, make, result), result)
        if not result.tests_ok or result.tests_failed or result.failures:
            message = f"{result.tests_failed} test(s) failed: {listed(_failures(result)) or 'none named'}"
            return make.failed(make(exc.RockyTestFailure, message, result), result)
        if count(result, "exit_code") not in (0, 4):  # the engine's own verdict says failure
            message = (
                f"rocky ci: the result's exit_code is {result.exit_code} while compile_ok and tests_ok "
                "are true and nothing failed; the result contradicts itself: failing closed"
            )
            return make.failed(make(exc.RockyEngineError, message, result), result)
        return clean_exit(ended, result, make, ok=(0, 4))

    return interpret_with(outcome, CI_READING, decide, **kwargs)


def clean_exit(ended: ProcessOutcome, result: Any, make: ErrorFactory, ok: Sequence[int]) -> Verdict:
    """A clean result with an exit code the command does not use for success: the engine's word wins."""
    if ended.exit_code in ok:
        return make.verdict("success", result, None)
    message = make.error_text or f"rocky exited {ended.exit_code} with a clean result"
    return make.failed(make(exc.RockyEngineError, message, result), result)


# -- freshness ------------------------------------------------------------------------------------

FRESHNESS_STATUSES = ("pass", "warn", "error", "runtime_error")


def _freshness_model() -> type[BaseModel]:
    from rocky_sdk import types

    found = getattr(types, "FreshnessOutput", None)
    return found if found is not None else _loose_freshness()


def _loose_freshness() -> type[BaseModel]:
    """rocky-sdk before 0.29 has no freshness model: rows as dicts, statuses as text."""
    from pydantic import BaseModel, ConfigDict

    class Entry(BaseModel):
        model_config = ConfigDict(extra="ignore")
        name: str
        table: str | None = None
        status: str
        age_seconds: int | None = None
        message: str | None = None

    class LooseFreshness(BaseModel):
        model_config = ConfigDict(extra="ignore")
        version: str
        command: str
        sources: list[Entry] = []
        models: list[Entry] = []
        summary: dict[str, Any] | None = None

    return LooseFreshness


FRESHNESS_READING = Reading(
    _freshness_model,
    "FreshnessOutput",
    Tolerance(
        repairs=(
            enum_fallback("sources", "status", FRESHNESS_STATUSES, "runtime_error"),
            enum_fallback("models", "status", FRESHNESS_STATUSES, "runtime_error"),
        )
    ),
)


def freshness_rows(result: Any) -> list[tuple[str, Any]]:
    """``(source|model, entry)`` for every entry."""
    return [("source", e) for e in result.sources] + [("model", e) for e in result.models]


def status_of(entry: Any) -> str:
    return str(getattr(entry.status, "value", entry.status))


def freshness_contradiction(result: Any) -> list[str]:
    """The result's own ``summary`` counting more errors than its entries show.

    ``summary`` (``error``, ``runtime_error``, ``warn``, ``pass``) is the engine's tally of the
    entries (rocky-sdk 0.29's ``FreshnessOutput``; the command is newer than engine 1.71's source).
    """
    shown = sum(1 for _kind, e in freshness_rows(result) if status_of(e) in ("error", "runtime_error"))
    counted = count(getattr(result, "summary", None), "error", "runtime_error")
    return disagreements([("summary: error+runtime_error", counted, shown)])


def interpret_freshness(outcome: ProcessOutcome, **kwargs: Any) -> Verdict:
    """``rocky freshness``: data past ``error_after`` (or not evaluable) fails; ``warn`` succeeds loudly.

    A ``summary`` counting errors that no entry shows fails too, naming the contradiction.
    """

    def decide(ended: ProcessOutcome, result: Any, make: ErrorFactory) -> Verdict:
        # Anything but pass/warn fails: error, runtime_error, and a status this provider does not know.
        stale = [(kind, e) for kind, e in freshness_rows(result) if status_of(e) not in ("pass", "warn")]
        contradiction = freshness_contradiction(result)
        if stale or contradiction:
            named = listed([f"{kind} {e.name}: {status_of(e)} ({_age(e)})" for kind, e in stale])
            message = f"{len(stale)} freshness check(s) failed: {named or 'none named'}"
            message += failing_closed(contradiction)
            return make.failed(make(exc.RockyFreshnessError, message, result), result)
        return clean_exit(ended, result, make, ok=(0,))

    return interpret_with(outcome, FRESHNESS_READING, decide, **kwargs)


def _age(entry: Any) -> str:
    age = getattr(entry, "age_seconds", None)
    message = getattr(entry, "message", None)
    return message or (f"{age}s old" if age is not None else "no data")
