"""Everything a run's result says beyond its verdict, read the same whatever the SDK version.

Anomalies (with the engine's evaluated / not-evaluated verdict), contained models, volume warnings and
per-table volume verdicts, source syncs that did not succeed, materialization notes, checks that
could not be evaluated, consumer diagnostics. rocky-sdk 0.29 models them all; older SDKs drop the
newer blocks, so a field the installed model lacks is read from stdout by a loose model of our own
(one extra pass, only on those SDKs). Rows are plain JSON-native dicts, bounded by the summary.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky.assets import JsonValue

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rocky_sdk.types import RunResult

#: Top-level blocks read here, and the fields of a materialization.
_TOP = (
    "anomalies",
    "anomaly_evaluated",
    "contained",
    "volume_warnings",
    "source_syncs",
    "consumer_diagnostics",
)
_PER_TABLE = ("volume", "notes")
#: A source sync with this outcome is not worth a line.
_SYNC_OK = "succeeded"


@dataclass(frozen=True)
class Observations:
    """The run's observations, as dict rows; ``tables`` aligns with ``result.materializations``."""

    anomalies: list[dict[str, Any]] = field(default_factory=list)
    contained: list[dict[str, Any]] = field(default_factory=list)
    volume_warnings: list[str] = field(default_factory=list)
    source_syncs: list[dict[str, Any]] = field(default_factory=list)
    checks_not_evaluated: list[dict[str, Any]] = field(default_factory=list)
    consumer_diagnostics: list[dict[str, Any]] = field(default_factory=list)
    #: Per materialization: ``volume`` (the engine's verdict row) and ``notes``, when it gave them.
    tables: list[dict[str, Any]] = field(default_factory=list)
    #: What reading the result repaired or dropped (``_verdict.parse``).
    parse_notes: list[str] = field(default_factory=list)

    @property
    def volume_verdicts(self) -> list[dict[str, Any]]:
        """The per-table volume rows that are not ``in_range``."""
        rows = (t.get("volume") for t in self.tables)
        return [v for v in rows if isinstance(v, dict) and v.get("verdict") != "in_range"]


def observe(result: RunResult, stdout: bytes, parse_notes: Sequence[str] = ()) -> Observations:
    """Collect the observations of ``result`` (stdout fills what the installed SDK does not model)."""
    top = {name: _rows(getattr(result, name, None)) for name in _modelled(type(result), _TOP)}
    mats = [_table_extras(mat) for mat in result.materializations]
    missing = [name for name in _TOP if name not in top]
    if missing or _lacks_table_fields():
        loose = _loose_model().model_validate_json(stdout)
        top.update({name: _rows(getattr(loose, name)) for name in missing})
        for row, extra in zip(mats, getattr(loose, "materializations", []), strict=False):
            row.update({key: value for key, value in extra.items() if key in _PER_TABLE and key not in row})
    return Observations(
        anomalies=_anomalies(top.get("anomalies", []), top.get("anomaly_evaluated", [])),
        contained=list(top.get("contained", [])),
        volume_warnings=[str(w) for w in top.get("volume_warnings", [])],
        source_syncs=[s for s in top.get("source_syncs", []) if s.get("outcome") != _SYNC_OK],
        checks_not_evaluated=list(_not_evaluated(result)),
        consumer_diagnostics=list(top.get("consumer_diagnostics", [])),
        tables=[{k: v for k, v in row.items() if v not in (None, [])} for row in mats],
        parse_notes=list(parse_notes),
    )


def _rows(value: Any) -> list[Any]:
    """A list of models or dicts (or strings) as JSON-native rows."""
    if not value:
        return []
    return [item.model_dump(mode="json") if hasattr(item, "model_dump") else item for item in value]


def _table_extras(mat: BaseModel) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in _modelled(type(mat), _PER_TABLE):
        value = getattr(mat, name)
        row[name] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return row


@functools.cache
def _modelled(model: type[BaseModel], names: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``names`` the installed SDK's ``model`` has, once per model: pydantic computes
    ``model_fields`` on every access (15 µs), which was half the interpretation of 10,000 tables."""
    return tuple(name for name in names if name in model.model_fields)


def _lacks_table_fields() -> list[str]:
    from rocky_sdk.types import MaterializationInfo

    return [name for name in _PER_TABLE if name not in MaterializationInfo.model_fields]


@functools.cache
def _loose_model() -> type[BaseModel]:
    """Our own tolerant reading of the observation blocks: any row shape, any enum value."""
    from pydantic import BaseModel, ConfigDict

    class LooseRun(BaseModel):
        model_config = ConfigDict(extra="ignore")
        anomalies: list[dict[str, Any]] = []
        anomaly_evaluated: list[dict[str, Any]] = []
        contained: list[dict[str, Any]] = []
        volume_warnings: list[Any] = []
        source_syncs: list[dict[str, Any]] = []
        consumer_diagnostics: list[dict[str, Any]] = []
        materializations: list[dict[str, Any]] = []

    return LooseRun


def _anomalies(
    found: Iterable[Mapping[str, Any]], evaluated: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Each detected anomaly, plus each table the engine could not evaluate (with why)."""
    rows = [{**row, "evaluated": True} for row in found]
    for row in evaluated:
        if row.get("evaluated") is False:
            reason = row.get("not_evaluated_reason") or "not evaluated"
            rows.append(
                {
                    "table": row.get("table"),
                    "asset_key": row.get("asset_key"),
                    "evaluated": False,
                    "reason": reason,
                }
            )
    return rows


def _not_evaluated(result: RunResult) -> Iterable[dict[str, Any]]:
    for table in result.check_results:
        for check in table.checks:
            reason = getattr(check, "not_evaluated", None)
            if reason:
                yield {"table": ".".join(table.asset_key), "check": check.name, "reason": str(reason)}


def for_table(
    observations: Observations, index: int, target: str | None, asset_key: Sequence[str]
) -> dict[str, Any]:
    """What the asset event of materialization ``index`` carries in ``extra`` beyond its metadata."""
    extra: dict[str, JsonValue] = {}
    table = observations.tables[index] if index < len(observations.tables) else {}
    volume = table.get("volume")
    if isinstance(volume, dict):
        extra["volume_verdict"] = volume.get("verdict")
        extra["volume_severity"] = volume.get("severity")
    if table.get("notes"):
        extra["notes"] = list(table["notes"])
    names = {target, ".".join(asset_key)}
    anomaly = next(
        (
            a
            for a in observations.anomalies
            if a.get("table") in names or a.get("asset_key") == list(asset_key)
        ),
        None,
    )
    if anomaly is not None:
        extra["anomaly"] = (
            "not evaluated" if not anomaly["evaluated"] else str(anomaly.get("reason") or "detected")
        )
    unchecked = [c["check"] for c in observations.checks_not_evaluated if c["table"] == ".".join(asset_key)]
    if unchecked:
        extra["checks_not_evaluated"] = unchecked
    return {key: value for key, value in extra.items() if value is not None}
