"""The scenarios of the stand-in ``rocky`` engine (``ROCKY_STANDIN_SCENARIO``; names are public API).

Every scenario parses argv like rocky 1.71.0 first (clap errors exit 2, ``Error:`` bails exit 1), then
behaves as below. The rows describe engine 1.71 (the default); ``ROCKY_STANDIN_ENGINE_VERSION=1.77.0``
(any version after 1.71) prints today's shapes where they differ, listed after the table.

=====================  ====  ======  ==================  ==============================================
scenario               exit  stdout  status              behaviour
=====================  ====  ======  ==================  ==============================================
success (default)      0     JSON    Success             replication / transformation (``--models``,
                                                         ``--all``, ``--model``) / partitioned (any
                                                         partition flag), chosen from argv
transformation         0     JSON    Success             models only (``["", "marts", <model>]``)
partitioned            0     JSON    Success             one materialization per partition
                                                         (``--partition``, ``--from/--to``; default and
                                                         ``--latest`` = today UTC) + partition_summaries
partial                2     JSON    PartialFailure      every 2nd unit fails ``query-rejected``
                                                         (replication ``asset_key: []``); stderr
                                                         ``Error: N table(s) failed ... --resume R``
partial_transient      2     JSON    PartialFailure      as partial, failures ``transient`` /
                                                         ``connection-failed`` with cooldown_seconds
total_failure          1     JSON    Failure             every unit fails ``query-rejected``
adapter_transient      1     JSON    Failure             every unit fails ``transient`` (+ cooldown)
adapter_auth           1     JSON    Failure             every unit fails ``auth-failed``
hard_failure           1     none    -                   ``Error: ...`` + ``Caused by:`` chain mid-run
network_failure        1     none    -                   discovery fails on the network: ``Error: failed to
                                                         discover sources ...`` caused by ``HTTP error:
                                                         ... connection reset by peer (os error 104)``
                                                         (rocky-fivetran ``FivetranError::Http``)
usage                  2     none    -                   forced clap usage error
state_locked           1     none    -                   ``state store at P is locked by another process``
state_busy             1     none    -                   ``state store at P is busy — ... Retry in a moment.``
state_schema_mismatch  1     none    -                   ``state schema version mismatch: ...``
compile_error          1     JSON    Failure             models path; ``errors[{asset_key:[model],
                                                         failure_kind:"compile-error", error:"E001 ..."}]``
contract_violation     1     JSON    Failure             as compile_error with E010, E012, E013
budget_breach          1     JSON    Success             ``budget_breaches[max_usd]`` + cost_summary, then
                                                         ``Error: budget exceeded — max_usd: ...``
quality_gate           1     JSON    Success             quality pipeline (checks only), a failed error-
                                                         severity check, ``Error: quality pipeline failed:
                                                         N error-severity check(s) failed`` (1.71 has no
                                                         ``check_gate_failed`` field)
quality_warn           0     JSON    Success             replication with a failed check (no exit effect)
verify_after_gate      1     JSON    Success             replication lands, a ``verify_after`` check fails:
                                                         ``Error: verify_after gate failed: ...``
observations           0     JSON    Success             a row-count anomaly (and on current engines every
                                                         observation block: see below)
contained              2     JSON    PartialFailure      replication lands; the first model fails
                                                         ``query-rejected``, every later model is
                                                         ``contained`` (blocked_by, unblock_hint)
drift                  0     JSON    Success             ``drift.actions_taken``: drop_and_recreate,
                                                         add_columns, alter_column_types
governance_refused     1     none    -                   governance refusal ``Error:`` line
slow                   0     JSON    Success             ~10 progress lines over >= 3 s (ignores DELAY)
hang                   130   JSON    PartialFailure      hangs in the 2nd table (PartialFailure: the 1st
                                                         landed); SIGTERM/SIGINT = graceful interrupt on
                                                         the replication path, a kill on the others
hang_ignore_term       -9    none    -                   hangs and ignores SIGTERM/SIGINT (SIGKILL only)
grandchild             130   JSON    PartialFailure      spawns a grandchild in its process group
                                                         (pid on stderr and in the record), then hangs
                                                         like ``hang``
interruptible          130   JSON    per derive status   long replication (``ROCKY_STANDIN_SECONDS``,
                                                         default 60); on SIGTERM/SIGINT the shutdown
                                                         line, ``interrupted: true``; else Success, 0
garbage_stdout         0     text    -                   stdout is not JSON
huge_stdout            0     JSON    Success             ``ROCKY_STANDIN_TABLES`` (default 10000)
                                                         materializations
non_utf8_stderr        0     JSON    Success             stderr: invalid UTF-8, one 10 MiB line, last
                                                         line without a trailing newline
many_lines             0     JSON    Success             ``ROCKY_STANDIN_LINES`` (default 10000) tracing
                                                         lines as fast as possible
stream_rate            0     JSON    Success             ``ROCKY_STANDIN_LINES_PER_SEC`` (default 100)
                                                         for ``ROCKY_STANDIN_SECONDS`` (default 5); each
                                                         line carries ``t_ns`` = ``time.time_ns()``
=====================  ====  ======  ==================  ==============================================

Current engines (``ROCKY_STANDIN_ENGINE_VERSION`` 1.72.0 and later; ``--version`` and ``version`` print
it): drift actions and anomalies carry ``asset_key`` (upstream #2073); ``quality_gate`` lands its
tables first and then gates: ``status: PartialFailure``, exit 2, ``check_gate_failed: true``,
``Error: check gate failed: ...``; ``verify_after_gate`` prints ``verify_after_failed: true``,
``PartialFailure``, exit 2; ``observations`` adds ``anomaly_evaluated`` (one table not evaluated),
``volume_warnings``, ``materializations[].volume`` (one ``below_min``) and ``.notes``,
``source_syncs`` (one ``paused``), a check with ``not_evaluated``, and a ``consumer_diagnostics`` row.

What runs (``_standin/selection.py`` has the table/model catalogue): no model flag = replication path
(``pipeline_type: "replication"``, graceful SIGTERM/SIGINT); ``--models``/``--model`` without ``--all``
= transformation path (``"transformation"``, no signal handler: SIGTERM kills it, no JSON); ``--all`` =
replication then models on the replication path; any partition flag = the time_interval model once per
partition. Exit codes of the interrupt scenarios above assume a SIGTERM. Idempotency
(``--idempotency-key``) is real behaviour in every scenario that reaches the run.

Knobs (environment):

* ``ROCKY_STANDIN_SCENARIO``: scenario name (default ``success``; an unknown name exits 64).
* ``ROCKY_STANDIN_COOLDOWN``: ``cooldown_seconds`` of every transient failure (default 30 / 60).
* ``ROCKY_STANDIN_SYNC_EVERY``: ``discover`` reports each source synced every that many seconds.
* ``ROCKY_STANDIN_ENGINE_VERSION``: the engine the stand-in is (default ``1.71.0``; ``1.77.0`` is
  today's engine); shapes as above.
* ``ROCKY_STANDIN_DELAY``: seconds before each progress line (default 0.02; 0 for fast tests).
* ``ROCKY_STANDIN_RECORD``: JSON-lines file receiving ``start`` (argv, env, cwd, pid, pgid, scenario,
  time), ``grandchild``, ``materialized`` (one per table and partition written: table, partition,
  warehouse) and ``end`` (pid, exit_code, status, time) events. It is the stand-in's own account of
  what it did: test what a DAG produced against it, not against the provider's summary.
* ``ROCKY_STANDIN_ALLOW_NO_CONFIG``: ``1`` runs without ``rocky.toml`` on built-in defaults (see below).
* ``ROCKY_STANDIN_GRANDCHILD``: ``1`` starts a silent helper in every run's process group.
* ``ROCKY_STANDIN_DAG_NODES``: ``rocky dag`` / ``rocky run --dag`` use N synthetic nodes.
* ``ROCKY_STANDIN_TABLES``: number of replicated tables to synthesize (default: from ``--filter``).
* ``ROCKY_STANDIN_LINES``, ``ROCKY_STANDIN_LINES_PER_SEC``, ``ROCKY_STANDIN_SECONDS``: sizes and
  durations of ``many_lines``, ``stream_rate`` and ``interruptible``.
* ``ROCKY_STANDIN_DRAIN``: seconds a replication run interrupted by its first signal takes to finish
  its in-flight statements before it prints its JSON (default 0), its handlers armed meanwhile.
* ``ROCKY_STANDIN_FAIL_NODES``: ``name[:N],...``: these models and seeds fail (every build, or their
  first N builds, counted per project) in ``run --dag``, ``run --model`` and ``seed``, whatever the
  scenario (``_standin/fail_nodes.py``): a watch test's failing node and its retry alone succeeding.

``rocky run --dag`` runs the stand-in's project (its demo, or ``ROCKY_STANDIN_DAG_NODES`` synthetic
nodes) node by node and prints a ``DagRunOutput`` (``_standin/dag_run.py``): a node fails when one of
its units fails under the scenario (``partial``: every 2nd) or the failure knob names it, ``hang``
hangs in its second node; stderr is the engine's per-node stream (each node's events inside its
``materialize.table`` span, the executor's layer, failure and skip events).
``rocky seed`` loads CSV seeds (``_standin/seeds.py``).

Like the engine, the stand-in refuses to start without its config (exit 1, ``Error: failed to load
config from rocky.toml``), so a DAG whose ``project_dir`` holds no project fails in a test as in
production. Deliberate differences from the engine (see also docs/engine-fidelity.md):
``ROCKY_STANDIN_ALLOW_NO_CONFIG=1`` lets a test run in a folder without ``rocky.toml`` (built-in
defaults, no warehouse writes; the engine never does, the provider's own suite sets it); a config
without pipelines is one built-in replication pipeline; ``--watch`` is refused with ``Error:`` (its
output is a stream); the subcommands are those of ``_standin/flags.py`` (any other is clap's
``unrecognized subcommand``, exit 2, with a ``note:`` naming them); ``--resume-latest`` reports a
synthesized ``resumed_from`` (no run history is kept); without ``models/`` and ``seeds/`` folders the
demo project's models and seed stand in for them; ``rocky run --dag`` runs that demo project node by
node; a stand-in bug exits 101 like a Rust panic.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_rocky.testing._standin.selection import Unit


@dataclass(frozen=True)
class Scenario:
    """Switches the runner consults; see the module table for what each named scenario means."""

    name: str
    kind: str | None = None
    fates: str = "ok"
    early: str | None = None
    hard_failure: bool = False
    compile_codes: tuple[str, ...] = ()
    budget: bool = False
    quality_gate: bool = False
    failed_check: bool = False
    drift: bool = False
    signals: str = "auto"
    hang: bool = False
    grandchild: bool = False
    slow: bool = False
    long_running: bool = False
    stress: str | None = None
    verify_after: bool = False
    observations: bool = False


_ALL = (
    Scenario("success"),
    Scenario("transformation", kind="transformation"),
    Scenario("partitioned", kind="partitioned"),
    Scenario("partial", fates="partial"),
    Scenario("partial_transient", fates="partial_transient"),
    Scenario("total_failure", fates="total"),
    Scenario("adapter_transient", fates="transient"),
    Scenario("adapter_auth", fates="auth"),
    Scenario("hard_failure", hard_failure=True),
    Scenario("network_failure", early="network_failure"),
    Scenario("usage", early="usage"),
    Scenario("state_locked", early="state_locked"),
    Scenario("state_busy", early="state_busy"),
    Scenario("state_schema_mismatch", early="state_schema_mismatch"),
    Scenario("compile_error", kind="models", compile_codes=("E001",)),
    Scenario("contract_violation", kind="models", compile_codes=("E010", "E012", "E013")),
    Scenario("budget_breach", budget=True),
    Scenario("quality_gate", kind="quality", quality_gate=True),
    Scenario("quality_warn", failed_check=True),
    Scenario("verify_after_gate", verify_after=True),
    Scenario("observations", observations=True),
    Scenario("contained", kind="contained", fates="contained"),
    # For the other commands (under ``rocky run`` a plain success): see _standin/gates.py, sources.py.
    Scenario("doctor_warning"),
    Scenario("doctor_critical"),
    Scenario("compile_warning"),
    Scenario("test_failure"),
    Scenario("freshness_warn"),
    Scenario("freshness_error"),
    Scenario("discover_failed_source"),
    Scenario("sync_trigger"),
    Scenario("drift", drift=True),
    Scenario("governance_refused", early="governance_refused"),
    Scenario("slow", slow=True),
    Scenario("hang", hang=True),
    Scenario("hang_ignore_term", signals="ignore", hang=True),
    Scenario("grandchild", hang=True, grandchild=True),
    Scenario("interruptible", long_running=True),
    Scenario("garbage_stdout", stress="garbage_stdout"),
    Scenario("huge_stdout", kind="replication", stress="huge_stdout"),
    Scenario("non_utf8_stderr", stress="non_utf8_stderr"),
    Scenario("many_lines", stress="many_lines"),
    Scenario("stream_rate", stress="stream_rate"),
)

SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL}
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)

#: Compile diagnostics by code: (message, suggestion). Used by ``run`` and ``compile``.
DIAGNOSTICS: dict[str, tuple[str, str]] = {
    "E001": (
        "type mismatch: column 'revenue' is VARCHAR but is compared with DECIMAL(18,2)",
        "CAST(revenue AS DECIMAL(18,2)) or fix the upstream column type",
    ),
    "E010": (
        "required column 'customer_id' missing from model output",
        "select `customer_id`, or drop it from the contract's required columns",
    ),
    "E012": (
        "column 'order_date' is nullable but the contract requires NOT NULL",
        "filter NULL order_date rows or relax the contract",
    ),
    "E013": (
        "protected column 'customer_id' was removed from the model output",
        "restore `customer_id` or unprotect it in the contract",
    ),
}


def compile_error_text(code: str, model: str) -> str:
    """``errors[].error`` for a compile diagnostic: ``E001 <message> (models/<model>.sql)``."""
    return f"{code} {DIAGNOSTICS[code][0]} (models/{model}.sql)"


@dataclass(frozen=True)
class Fate:
    """The planned outcome of one unit: success, or a classified failure."""

    ok: bool
    failure_kind: str | None = None
    error: str | None = None
    cooldown_seconds: int | None = None


def _failure(kind: str, unit: Unit, cooldown: int | None = None) -> Fate:
    target = unit.full_name.lstrip(".")
    messages = {
        "query-rejected": (
            f'statement failed on {target}: Binder Error: Referenced column "discount_code" '
            "not found in FROM clause!"
        ),
        "transient": (
            f"copy of {target} failed after 3 attempts: HTTP 503 Service Unavailable "
            "(warehouse is scaling up)"
        ),
        "connection-failed": (
            f"copy of {target} failed: connection to the warehouse was reset (Connection reset by "
            "peer (os error 104))"
        ),
        "auth-failed": (
            f"copy of {target} failed: HTTP 401 Unauthorized: the access token has expired or was revoked"
        ),
    }
    return Fate(False, kind, messages[kind], cooldown)


def fate_for(scenario: Scenario, index: int, unit: Unit) -> Fate:
    """Outcome of the ``index``-th unit under ``scenario``."""
    if scenario.fates in ("partial", "partial_transient") and index % 2 == 0:
        return Fate(True)
    if scenario.fates == "partial":
        return _failure("query-rejected", unit)
    if scenario.fates == "partial_transient":
        transient = (index // 2) % 2 == 0
        return _failure("transient" if transient else "connection-failed", unit, 30 if transient else 60)
    if scenario.fates == "total":
        return _failure("query-rejected", unit)
    if scenario.fates == "transient":
        return _failure("transient", unit, 60)
    if scenario.fates == "auth":
        return _failure("auth-failed", unit)
    if scenario.fates == "contained" and unit.is_model:  # the first model fails; the rest are contained
        return _failure("query-rejected", unit)
    return Fate(True)


def needs_companion(scenario: Scenario) -> bool:
    """Partial scenarios need two units (one lands, one fails) even when the filter picks one table."""
    return scenario.fates in ("partial", "partial_transient")
