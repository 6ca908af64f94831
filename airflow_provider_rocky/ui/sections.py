"""The gate commands' and the plan's part of the view: key figures, then one item per finding.

One shape for every gate, so the page draws them the same way: ``facts`` (label, value) and
``items`` (``level`` error / warning / ok / info, ``title``, ``text``, ``location`` as ``file:line``,
``hint``), with ``items_total`` when the summary kept fewer than there were. A plan adds its
statements by purpose, the tables it touches, and the run's approval steps beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_rocky.ui.store import Approval

__all__ = ["gate_section", "plan_section"]

DOCTOR_LEVEL = {"healthy": "ok", "warning": "warning", "critical": "error"}
SEVERITY_LEVEL = {"error": "error", "warning": "warning", "warn": "warning", "info": "info", "note": "info"}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def _facts(summary: Mapping[str, Any], labels: Iterable[tuple[str, str]]) -> list[list[Any]]:
    return [[label, summary[key]] for key, label in labels if summary.get(key) is not None]


def _item(level: str, title: Any, text: Any = None, location: Any = None, hint: Any = None) -> dict[str, Any]:
    item = {"level": level, "title": str(title), "text": text, "location": location, "hint": hint}
    return {key: value for key, value in item.items() if value not in (None, "")}


def _location(row: Mapping[str, Any]) -> str | None:
    if not row.get("file"):
        return None
    return f"{row['file']}:{row['line']}" if row.get("line") is not None else str(row["file"])


def _diagnostics(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = sorted(_dicts(summary.get("diagnostics")), key=lambda d: d.get("severity") != "error")
    return [
        _item(
            SEVERITY_LEVEL.get(str(d.get("severity")).lower(), "info"),
            f"{d.get('model')}: {d.get('code')}",
            d.get("message"),
            _location(d),
            d.get("suggestion"),
        )
        for d in rows
    ]


def _failures(summary: Mapping[str, Any], key: str, level: str) -> list[dict[str, Any]]:
    return [_item(level, f.get("name"), f.get("error")) for f in _dicts(summary.get(key))]


def _doctor(summary: Mapping[str, Any]) -> dict[str, Any]:
    items = [
        _item(DOCTOR_LEVEL.get(str(c.get("status")), "error"), c.get("name"), c.get("message"))
        for c in sorted(_dicts(summary.get("checks")), key=lambda c: c.get("status") == "healthy")
    ]
    items += [_item("info", "suggestion", text) for text in summary.get("suggestions") or []]
    return {
        "title": "Health checks",
        "facts": _facts(summary, [("overall", "overall"), ("checks_total", "checks")]),
        "items": items,
        "items_total": summary.get("checks_total"),
    }


def _compile(summary: Mapping[str, Any]) -> dict[str, Any]:
    labels = [
        ("models", "models"),
        ("execution_layers", "execution layers"),
        ("errors_total", "errors"),
        ("warnings_total", "warnings"),
    ]
    return {
        "title": "Diagnostics",
        "facts": _facts(summary, labels),
        "items": _diagnostics(summary),
        "items_total": summary.get("diagnostics_total"),
    }


def _test(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": "Model tests",
        "facts": _facts(summary, [("total", "tests"), ("passed", "passed"), ("failed", "failed")]),
        "items": _failures(summary, "failures", "error") + _failures(summary, "warned", "warning"),
        "items_total": summary.get("failures_total"),
    }


def _ci(summary: Mapping[str, Any]) -> dict[str, Any]:
    labels = [
        ("compile_ok", "compile ok"),
        ("models_compiled", "models compiled"),
        ("tests_ok", "tests ok"),
        ("tests_passed", "tests passed"),
        ("tests_failed", "tests failed"),
        ("engine_exit_code", "engine exit code"),
    ]
    return {
        "title": "Compile and test",
        "facts": _facts(summary, labels),
        "items": _diagnostics(summary) + _failures(summary, "failures", "error"),
        "items_total": None,
    }


def _freshness(summary: Mapping[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = summary["counts"] if isinstance(summary.get("counts"), dict) else {}
    items = []
    for row in _dicts(summary.get("not_fresh")):
        age = row.get("age_seconds")
        text = f"{row.get('status')}" + (f", {age} s old" if age is not None else "")
        level = "warning" if row.get("status") == "warn" else "error"
        items.append(_item(level, f"{row.get('kind')} {row.get('name')}", text))
    return {
        "title": "Freshness",
        "facts": [[f"{status}", count] for status, count in sorted(counts.items())],
        "items": items,
        "items_total": summary.get("not_fresh_total"),
    }


GATES = {"doctor": _doctor, "compile": _compile, "test": _test, "ci": _ci, "freshness": _freshness}


def gate_section(kind: str, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """The gate's figures and findings; ``None`` for a command that is not a gate."""
    build = GATES.get(kind)
    return build(summary) if build is not None else None


def _approval(row: Approval) -> dict[str, Any]:
    answer = None if row.chosen is None else (", ".join(row.chosen) or "(no option)")
    return {
        "task_id": row.task_id,
        "map_index": row.map_index,
        "state": row.state,
        "subject": row.subject,
        "options": row.options,
        "answer": answer,
        "responded_by": row.responded_by,
        "responded_at": row.responded_at.isoformat() if row.responded_at else None,
    }


def plan_section(summary: Mapping[str, Any], approvals: Iterable[Approval]) -> dict[str, Any]:
    """Statements by purpose, targets, budget findings, and what the reviewers answered."""
    labels = [
        ("plan_id", "plan id"),
        ("plan_kind", "kind"),
        ("filter", "filter"),
        ("env", "env"),
        ("created_at", "created"),
        ("statements_total", "statements"),
        ("execution_layers", "execution layers"),
    ]
    purposes = summary.get("statements_by_purpose")
    return {
        "facts": _facts(summary, labels),
        "purposes": purposes if isinstance(purposes, dict) else {},
        "targets": [str(t) for t in summary.get("targets") or []],
        "targets_total": summary.get("targets_total"),
        "models": [str(m) for m in summary.get("models") or []],
        "budget": [
            _item(SEVERITY_LEVEL.get(str(d.get("severity")).lower(), "info"), d.get("code"), d.get("message"))
            for d in _dicts(summary.get("budget_diagnostics"))
        ],
        "approvals": [_approval(row) for row in approvals],
    }
