"""What the engine's final ``Error:`` text says, when it printed no result: one table, read in order.

A run that fails before it can print JSON leaves only its last stderr lines (anyhow's ``Error: ...``
and its ``Caused by:`` chain). The words below are the engine's own vocabulary for each class of
failure, so the category follows the engine rather than a guess:

* the state store: ``state store at P is locked by another process`` / ``is busy`` (retryable), a
  schema mismatch or corruption (not retryable) (contract §3.4);
* a project that cannot be loaded (``failed to load config from P``, main.rs ~3759, over
  ``ConfigError`` in ``engine/crates/rocky-core/src/config.rs``: no rocky.toml, unparsable TOML, an
  environment variable the config references that is not set): ``usage``, not retryable;
* the warehouse refusing the credentials (``401``/``403``, ``FailureKind::AuthFailed`` in
  ``engine/crates/rocky-cli/src/output.rs``): not retryable;
* the network and the warehouse's transient conditions: connection resets and refusals, DNS
  failures, timeouts, HTTP 429 and 5xx, throttling (``FailureKind::ConnectionFailed`` / ``Transient``
  / ``QuotaExceeded`` in ``output.rs``; ``TransientKind`` ``network``, ``timeout``, ``rate_limit``,
  ``server_busy`` in ``engine/crates/rocky-core/src/failure_class.rs``): ``adapter``, retryable, read
  like a ``failure_kind: transient`` row;
* a Rust panic (``thread 'main' panicked at``, exit 101): the engine crashed, not retryable.

Text that matches none of them is ``engine``, retryable: not known to be permanent (Airflow's default).
"""

from __future__ import annotations

import re

from airflow_provider_rocky import exceptions as exc

STATE_BUSY = ("locked by another process", "is busy")
STATE_BROKEN = ("state schema version mismatch", "corrupt", "refusing to exit 0: the state ledger")
#: Phrases, not words: "policy" alone is also a retry policy, "grant" a granted lock, "governance" a name.
GOVERNANCE = (
    "refusing governance",
    "governance override",
    "governance refused",
    "governance reconcil",
    "workspace_ids",
    "failed to apply grant",
)
USAGE = ("invalid filter", "not allowed with", "cannot be used with", "requires a remote", "invalid value")
CONFIG = ("failed to load config", "no rocky.toml found", "failed to parse toml", "(referenced in config)")
#: Exit code of a Rust panic (the default panic hook, ``panic = "unwind"``).
PANIC_EXIT = 101
PANIC = re.compile(r"thread '[^']*' panicked at")
#: The warehouse refused the credentials (``output.rs``: 401 | 403 => AuthFailed).
AUTH = re.compile(
    r"\b(?:HTTP )?40[13]\b|\bunauthori[sz]ed\b|\bforbidden\b|authentication failed|invalid credentials|"
    r"(?:access|auth(?:entication)?) token (?:has )?expired|permission denied for",
    re.IGNORECASE,
)
#: The network or a transient warehouse condition (``output.rs``: connect errors, timeouts, 429, 5xx).
TRANSIENT = re.compile(
    r"connection (?:reset|refused|aborted|closed)|broken pipe|timed out|\btimeout\b|"
    r"temporary failure in name resolution|dns error|failed to lookup address|"
    r"network is unreachable|no route to host|host is unreachable|"
    r"os error (?:32|101|103|104|110|111|113)\b|"
    r"\bHTTP (?:429|5\d\d)\b|\b(?:429|500|502|503|504) (?:too many requests|internal server error|"
    r"bad gateway|service unavailable|gateway timeout)\b|service unavailable|bad gateway|"
    r"gateway timeout|too many requests|rate limit|throttl|circuit breaker open|retry budget exhausted|"
    r"(?:service|server|warehouse|endpoint) (?:is )?temporarily unavailable",
    re.IGNORECASE,
)


def is_transient(text: str) -> bool:
    """The text names a network failure or a transient warehouse condition (module docstring).

    A bare ``temporarily unavailable`` is not enough: it is also ``EAGAIN`` on a local file lock
    (``Resource temporarily unavailable (os error 11)``, DuckDB's ``Could not set lock on file``).
    """
    return bool(TRANSIENT.search(text))


def is_auth(text: str) -> bool:
    """The text says the warehouse refused the credentials."""
    return bool(AUTH.search(text))


def classify(text: str) -> tuple[type[exc.RockyError], str]:
    """The error class and the message prefix for a final ``Error:`` text (module docstring)."""
    lowered = text.lower()
    if any(marker in lowered for marker in STATE_BUSY):
        return exc.RockyStateBusyError, "the state store is held by another writer: "
    if any(marker in lowered for marker in STATE_BROKEN):
        return exc.RockyStateError, "the state store is unusable: "
    if any(marker in lowered for marker in CONFIG):
        return exc.RockyUsageError, "the project's configuration cannot be loaded: "
    if any(marker in lowered for marker in USAGE):
        return exc.RockyUsageError, ""
    if any(marker in lowered for marker in GOVERNANCE):
        return exc.RockyGovernanceError, "governance refused the run: "
    if "budget exceeded" in lowered:
        return exc.RockyBudgetError, ""
    if is_auth(text):
        return exc.RockyAdapterError, "the warehouse refused the credentials: "
    if is_transient(text):
        return exc.RockyTransientAdapterError, "the warehouse or the network failed transiently: "
    return exc.RockyEngineError, ""
