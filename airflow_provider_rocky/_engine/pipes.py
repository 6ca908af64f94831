"""The Dagster Pipes message channel rocky writes to (contract §5), read live from Airflow.

Rocky emits Pipes messages only when both ``DAGSTER_PIPES_CONTEXT`` and ``DAGSTER_PIPES_MESSAGES``
are set, and decodes the latter as **base64 JSON without zlib** (stock dagster-pipes adds zlib), so
:class:`PipesChannel` writes that exact form. Messages are JSON lines
``{"__dagster_pipes_version": "0.1", "method": ..., "params": ...}``; ``pipes_tail.tail`` follows the
file while the engine runs and :func:`parse_message` turns each line into a message or a problem (never
an exception, whatever the line: JSON is decoded with a bounded depth, :mod:`.untrusted`), accepting
rocky's plain metadata and stock writers' ``{"raw_value", "type"}`` form.

What a run keeps is bounded (:class:`PipesRecord`): the first :data:`MAX_KEPT_CHECKS` check reports
and the first :data:`MAX_KEPT_MATERIALIZATIONS` materialization reports, plus exact counts of all.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_rocky._engine.untrusted import loads

PIPES_PROTOCOL_VERSION = "0.1"
PIPES_VERSION_FIELD = "__dagster_pipes_version"
PIPES_CONTEXT_ENV = "DAGSTER_PIPES_CONTEXT"
PIPES_MESSAGES_ENV = "DAGSTER_PIPES_MESSAGES"
#: Strip these from an inherited environment when Pipes is off, or rocky would write to a stranger's file.
PIPES_ENV_VARS: tuple[str, ...] = (PIPES_CONTEXT_ENV, PIPES_MESSAGES_ENV)
_REQUIRED_PARAMS: dict[str, tuple[tuple[str, type], ...]] = {
    "log": (("message", str),),
    "report_asset_materialization": (("asset_key", str),),
    "report_asset_check": (("asset_key", str), ("check_name", str), ("passed", bool)),
}
#: Every method of the Pipes protocol 0.1; rocky sends log, report_*, closed.
KNOWN_METHODS = frozenset(
    {*_REQUIRED_PARAMS, "opened", "closed", "report_custom_message", "log_external_stream"}
)
_LEVELS = {**{k: v for k, v in logging.getLevelNamesMapping().items() if v}, "TRACE": logging.DEBUG}
#: How much of a malformed line a warning quotes.
PROBLEM_LINE_CHARS = 200


def encode_env_value(value: Any) -> str:
    """base64 of compact JSON, no zlib: the only form rocky decodes."""
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")


class PipesChannel:
    """A private messages file (mode 0600) plus the two env variables that point rocky at it.

    ``context`` entries override the PipesContextData defaults (run_id, job_name, extras...), which
    only stock Pipes writers read: rocky checks that the variable is set, never its content.
    """

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, context: Mapping[str, Any] | None = None
    ):
        fd, name = tempfile.mkstemp(prefix="rocky-pipes-", suffix=".jsonl", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self.context: dict[str, Any] = {
            "asset_keys": None,
            "code_version_by_asset_key": None,
            "provenance_by_asset_key": None,
            "partition_key": None,
            "partition_key_range": None,
            "partition_time_window": None,
            "run_id": "",
            "job_name": None,
            "retry_number": 0,
            "extras": {},
            **(context or {}),
        }

    def env(self) -> dict[str, str]:
        """``DAGSTER_PIPES_CONTEXT`` (inline context data) and ``DAGSTER_PIPES_MESSAGES`` (the file)."""
        return {
            PIPES_CONTEXT_ENV: encode_env_value({"data": self.context}),
            PIPES_MESSAGES_ENV: encode_env_value({"path": str(self.path)}),
        }

    def close(self) -> None:
        """Remove the messages file (idempotent)."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> PipesChannel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class PipesMessage:
    """A valid message: ``params`` is a dict (``{}`` for ``closed``), metadata already plain."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class PipesProblem:
    """A line that is not a usable message; the caller logs ``reason`` as a warning."""

    reason: str
    line: str


def normalize_metadata(metadata: object) -> dict[str, Any]:
    """Plain metadata values: ``{"raw_value": v, "type": t}`` (stock writers) becomes ``v``."""
    if not isinstance(metadata, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, Mapping) and value.keys() == {"raw_value", "type"}:
            value = value["raw_value"]
        out[str(key)] = value
    return out


def parse_message(line: str) -> PipesMessage | PipesProblem:
    """Parse one JSON line; malformed or too deep JSON, unknown method or version -> a problem."""
    try:
        return _parse(line)
    except Exception as err:  # never an exception, whatever the engine wrote
        return PipesProblem(f"unreadable message ({type(err).__name__})", line[:PROBLEM_LINE_CHARS])


def _parse(line: str) -> PipesMessage | PipesProblem:
    def problem(reason: str) -> PipesProblem:
        return PipesProblem(reason, line[:PROBLEM_LINE_CHARS])

    try:
        data = loads(line)
    except ValueError as err:
        return problem(f"not JSON: {err}")
    if not isinstance(data, dict):
        return problem("not a JSON object")
    if PIPES_VERSION_FIELD not in data:
        return problem(f"missing {PIPES_VERSION_FIELD}")
    if data[PIPES_VERSION_FIELD] != PIPES_PROTOCOL_VERSION:
        return problem(f"unsupported Pipes protocol version {data[PIPES_VERSION_FIELD]!r}")
    method = data.get("method")
    if method not in KNOWN_METHODS:
        return problem(f"unknown Pipes method {method!r}")
    params = data.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return problem(f"params of {method} must be an object")
    for name, kind in _REQUIRED_PARAMS.get(method, ()):
        if not isinstance(params.get(name), kind):
            return problem(f"{method} needs {kind.__name__} param {name!r}")
    if "metadata" in params:
        params = {**params, "metadata": normalize_metadata(params["metadata"])}
    return PipesMessage(method, params)


def log_record(message: PipesMessage) -> tuple[int, str]:
    """A ``log`` message as ``(logging level, text)``; unknown levels log at INFO."""
    level = str(message.params.get("level") or "INFO").upper()
    return _LEVELS.get(level, logging.INFO), str(message.params.get("message", ""))


@dataclass(frozen=True)
class CheckReport:
    """A ``report_asset_check``: rocky reports check_results (severity ERROR) and drift (WARN)."""

    asset_key: str
    check_name: str
    passed: bool
    severity: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_drift(self) -> bool:
        """Rocky reports each drift action as a passing ``drift`` check on the dotted table name."""
        return self.check_name == "drift"

    @property
    def asset_key_parts(self) -> list[str]:
        """The key split on ``/``; a drift check's key is a dotted table name instead."""
        if "/" not in self.asset_key and self.is_drift:
            return self.asset_key.split(".")
        return self.asset_key.split("/")


def check_report(message: PipesMessage) -> CheckReport:
    """Translate a parsed ``report_asset_check`` message."""
    p = message.params
    return CheckReport(
        asset_key=p["asset_key"],
        check_name=p["check_name"],
        passed=p["passed"],
        severity=str(p.get("severity") or "ERROR").upper(),
        metadata=dict(p.get("metadata") or {}),
    )


@dataclass(frozen=True)
class MaterializationReport:
    """A ``report_asset_materialization``; merged with stdout by (table, partition_key)."""

    asset_key: str
    metadata: dict[str, Any] = field(default_factory=dict)
    data_version: str | None = None

    @property
    def asset_key_parts(self) -> list[str]:
        """``"a/b/c"`` as rocky joins ``asset_key`` with ``/``."""
        return self.asset_key.split("/")

    @property
    def target_table(self) -> str | None:
        """``catalog.schema.table`` when the engine reported it."""
        value = self.metadata.get("target_table_full_name")
        return value if isinstance(value, str) else None

    @property
    def partition_key(self) -> str | None:
        """The partition this materialization was for, if any."""
        value = self.metadata.get("partition_key")
        return value if isinstance(value, str) else None


def materialization_report(message: PipesMessage) -> MaterializationReport:
    """Translate a parsed ``report_asset_materialization`` message."""
    p = message.params
    version = p.get("data_version")
    return MaterializationReport(
        asset_key=p["asset_key"],
        metadata=dict(p.get("metadata") or {}),
        data_version=version if isinstance(version, str) else None,
    )


CHECK = "report_asset_check"
MATERIALIZATION = "report_asset_materialization"
#: Reports kept per run; past these, reports are counted, not kept (300,000 messages once cost
#: 120 MiB). The summary shows 20 checks and exact counts; the asset events come from stdout, which a
#: Pipes materialization only enriches (or, for a table only Pipes reported, adds): 10,000 covers
#: the largest runs measured (benchmarks: 10,000 tables).
MAX_KEPT_CHECKS = 1_000
MAX_KEPT_MATERIALIZATIONS = 10_000
#: The bound of each kept method.
KEPT_PER_METHOD = {CHECK: MAX_KEPT_CHECKS, MATERIALIZATION: MAX_KEPT_MATERIALIZATIONS}
_FAILED = "failed_checks"


@dataclass
class PipesRecord:
    """The structured Pipes messages of one run (``log`` messages were already logged live).

    ``messages`` holds the kept reports (bounded, see :data:`MAX_KEPT_CHECKS`); ``counts`` counts every
    report seen, kept or not (by method, and ``failed_checks``). A record without ``counts`` (an event
    of release 0.1.0, which kept everything) counts its messages.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    problems: int = 0
    counts: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.counts is None:
            self.counts = {CHECK: 0, MATERIALIZATION: 0, _FAILED: 0}
            for data in self.messages:
                self._count(data["method"], data["params"])

    def _count(self, method: str, params: dict[str, Any]) -> int:
        """Count one report; returns how many of its kind were seen before it."""
        assert self.counts is not None
        before = self.counts.get(method, 0)
        self.counts[method] = before + 1
        if method == CHECK and params.get("passed") is False:
            self.counts[_FAILED] = self.counts.get(_FAILED, 0) + 1
        return before

    def keep(self, message: PipesMessage) -> bool:
        """Count a check or materialization report, keep it within the bound; ``True`` if it was one."""
        if message.method not in KEPT_PER_METHOD:
            return False
        if self._count(message.method, message.params) < KEPT_PER_METHOD[message.method]:
            self.messages.append({"method": message.method, "params": message.params})
        return True

    def over_bound(self, method: str) -> bool:
        """Has the bound of ``method`` just been passed (the first report not kept)?"""
        return self._seen(method) == KEPT_PER_METHOD.get(method, -1) + 1

    def _seen(self, method: str) -> int:
        return (self.counts or {}).get(method, 0)

    @property
    def checks_total(self) -> int:
        """Every check report of the run, kept or not."""
        return self._seen(CHECK)

    @property
    def checks_failed(self) -> int:
        """Every failed check report of the run, kept or not."""
        return self._seen(_FAILED)

    @property
    def materializations_total(self) -> int:
        """Every materialization report of the run, kept or not."""
        return self._seen(MATERIALIZATION)

    def checks(self) -> list[CheckReport]:
        """The kept ``report_asset_check`` messages (rocky's check results and drift actions)."""
        return [check_report(_message(m)) for m in self.messages if m["method"] == CHECK]

    def materializations(self) -> list[MaterializationReport]:
        """The kept ``report_asset_materialization`` messages, to merge with stdout's."""
        return [materialization_report(_message(m)) for m in self.messages if m["method"] == MATERIALIZATION]

    def to_wire(self) -> dict[str, Any]:
        """The JSON form an event carries (``messages`` and ``problems`` as release 0.1.0 wrote)."""
        return {"messages": self.messages, "problems": self.problems, "counts": self.counts}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PipesRecord:
        """Read :meth:`to_wire`'s form, or 0.1.0's (no ``counts``)."""
        counts = data.get("counts")
        return cls(
            messages=list(data["messages"]),
            problems=int(data["problems"]),
            counts={str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else None,
        )


def _message(data: dict[str, Any]) -> PipesMessage:
    return PipesMessage(method=data["method"], params=data["params"])
