"""The stderr renderer: tracing JSON becomes readable text at the right level; nothing breaks it."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_rocky._engine import stderr as logs


def tracing(level: str, message: str, **fields: object) -> str:
    return json.dumps(
        {
            "timestamp": "2026-07-17T09:14:22.481Z",
            "level": level,
            "fields": {"message": message, **fields},
            "target": "rocky::run",
            "span": {"run_id": "run-20260717-091422-481", "name": "run"},
        }
    )


def test_tracing_line_is_rendered_like_the_seed() -> None:
    line = logs.render(tracing("INFO", "copying acme.orders (15000 rows)"))
    assert line.level == logging.INFO
    assert (
        line.text == "rocky: INFO rocky::run copying acme.orders (15000 rows) run_id=run-20260717-091422-481"
    )


@pytest.mark.parametrize(
    ("level", "expected"),
    [("WARN", logging.WARNING), ("ERROR", logging.ERROR), ("DEBUG", logging.DEBUG), ("TRACE", logging.DEBUG)],
)
def test_levels_map(level: str, expected: int) -> None:
    assert logs.render(tracing(level, "x")).level == expected


def test_structured_fields_follow_the_message() -> None:
    text = logs.render(tracing("INFO", "idempotency key claimed", backend="local", tables=3)).text
    assert text.endswith("idempotency key claimed backend=local tables=3 run_id=run-20260717-091422-481")


def test_values_with_spaces_are_quoted() -> None:
    text = logs.render(tracing("WARN", "drift", reason="column amount changed")).text
    assert 'reason="column amount changed"' in text


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("Error: state store at x is locked by another process", logging.ERROR),
        ("error: unexpected argument '--nope' found", logging.ERROR),
        ("warning: --principal human overrides ROCKY_PRINCIPAL=agent", logging.WARNING),
        ("[rocky] shutdown signal received — finishing in-flight statements", logging.INFO),
        ("{not json at all}", logging.INFO),
        ('{"no_level": true}', logging.INFO),
    ],
)
def test_plain_lines_pass_through(raw: str, level: int) -> None:
    line = logs.render(raw)
    assert line.text == f"rocky: {raw}"
    assert line.level == level


def test_invalid_utf8_is_escaped_not_fatal() -> None:
    assert logs.decode(b"bad \xff\xfe bytes\n") == "bad \\xff\\xfe bytes"


def test_long_lines_are_cut_with_a_note() -> None:
    rendered = logs.render("x" * 100_000, max_chars=1000)
    assert len(rendered.text) < 1100
    assert rendered.text.endswith("[cut 99007 more characters]")


def test_run_id_is_read_from_the_span() -> None:
    assert logs.run_id_of(tracing("INFO", "hi")) == "run-20260717-091422-481"
    assert logs.run_id_of("Error: nope") is None


def test_error_messages_show_the_tail_rendered() -> None:
    from airflow_provider_rocky.exceptions import RockyEngineError

    err = RockyEngineError(
        "boom", exit_code=1, stderr_tail=[tracing("ERROR", "table x failed"), "Error: boom"]
    )
    message = str(err)
    assert "  | rocky: ERROR rocky::run table x failed run_id=run-20260717-091422-481" in message
    assert "  | rocky: Error: boom" in message
    assert err.stderr_tail[0].startswith("{"), "the attribute keeps the raw lines"
