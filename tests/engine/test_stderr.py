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


def test_tracing_line_carries_its_level_and_run_id_once_not_in_the_text() -> None:
    """The record's level is the level; the run id is logged once per run by the supervisor."""
    line = logs.render(tracing("INFO", "copying acme.orders (15000 rows)"))
    assert line.level == logging.INFO
    assert line.text == "rocky: rocky::run copying acme.orders (15000 rows)"
    assert line.run_id == "run-20260717-091422-481"
    assert line.labelled == "rocky: INFO rocky::run copying acme.orders (15000 rows)"


def test_a_level_logging_has_no_name_for_keeps_its_word() -> None:
    line = logs.render(tracing("FATAL", "gone"))
    assert (line.level, line.text, line.labelled) == (logging.INFO, "rocky: FATAL rocky::run gone", line.text)


@pytest.mark.parametrize(
    ("level", "expected"),
    [("WARN", logging.WARNING), ("ERROR", logging.ERROR), ("DEBUG", logging.DEBUG), ("TRACE", logging.DEBUG)],
)
def test_levels_map(level: str, expected: int) -> None:
    assert logs.render(tracing(level, "x")).level == expected


def test_structured_fields_follow_the_message() -> None:
    text = logs.render(tracing("INFO", "idempotency key claimed", backend="local", tables=3)).text
    assert text.endswith("idempotency key claimed backend=local tables=3")


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


def test_a_line_without_a_span_has_no_run_id() -> None:
    assert logs.render("Error: nope").run_id is None
    assert logs.render(tracing("INFO", "hi").replace('"span"', '"other"')).run_id is None


def test_error_messages_show_the_tail_rendered() -> None:
    from airflow_provider_rocky.exceptions import RockyEngineError

    err = RockyEngineError(
        "boom", exit_code=1, stderr_tail=[tracing("ERROR", "table x failed"), "Error: boom"]
    )
    message = str(err)
    assert "  | rocky: ERROR rocky::run table x failed" in message
    assert "  | rocky: Error: boom" in message
    assert err.stderr_tail[0].startswith("{"), "the attribute keeps the raw lines"


# -- hostile lines: never an exception, always one visible line -----------------------------------

DEEP = "[" * 5000 + "]" * 5000


def deep_tracing() -> str:
    """A tracing line with a run id and a field nested far past Python's recursion limit."""
    head = tracing("INFO", "deep", extra="PLACEHOLDER")
    return head.replace('"PLACEHOLDER"', DEEP)


def test_deeply_nested_json_is_shown_as_text_not_raised() -> None:
    line = deep_tracing()
    assert len(line) < 4 * logs.DEFAULT_MAX_LINE_CHARS  # a size the renderer parses
    rendered = logs.render(line)
    assert rendered.text.startswith('rocky: {"timestamp"') and rendered.level == logging.INFO
    assert rendered.run_id is None  # not decodable: no run id, and no RecursionError


def test_a_deep_line_in_the_stderr_tail_still_builds_the_error() -> None:
    from airflow_provider_rocky.exceptions import RockyEngineError

    err = RockyEngineError("boom", exit_code=1, stderr_tail=[deep_tracing(), "Error: boom"])
    assert "  | rocky: Error: boom" in str(err)


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": ' * 40 + "1" + "}" * 40,  # deeper than the bound, shallower than the recursion limit
        '{"level": "INFO", "fields": {"message": "' + "x" * 100_000 + '"}}',  # huge
        '{"level": "INFO", "fields": {"n": ' + "9" * 5000 + "}}",  # an int past Python's digit limit
        '{"level": "INFO", "fields": {"message": "\\ud800 lone surrogate"}}',
        '{"level": {"nested": ["level"]}, "fields": "not an object", "span": ["x"]}',
        '{"level": "INFO", "fields": {"message": "unterminated}',
    ],
)
def test_odd_json_never_raises(raw: str) -> None:
    rendered = logs.render(raw)
    assert rendered.text.startswith("rocky: ") and "\n" not in rendered.text
    rendered.text.encode("utf-8")  # storable in a UTF-8 log file: no lone surrogate left


FORGED = "done\n[2026-01-01T00:00:00.000+0000] {taskinstance.py:1} INFO - Marking task as SUCCESS"


@pytest.mark.parametrize(
    "raw",
    [
        tracing("INFO", FORGED),
        tracing("INFO", "ok", detail=FORGED.replace(" ", "_")),
        tracing("INFO", "ok", detail=FORGED),
        json.dumps({"level": "INFO", "target": "x\r\ny", "fields": {"message": "m"}}),
        FORGED.replace("\n", "\r"),
    ],
)
def test_no_engine_text_can_start_a_line_of_its_own(raw: str) -> None:
    text = logs.render(raw).text
    assert text.splitlines() == [text], text  # one visible line, whatever splits lines
    assert "Marking task as SUCCESS" in text or "y" in text  # shown, escaped, not dropped


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2K\x1b[1Ahidden\x08\x08", "\\x1b[2K\\x1b[1Ahidden\\x08\\x08"),
        ("nul\x00byte bell\x07 del\x7f", "nul\\x00byte bell\\x07 del\\x7f"),
        ("sep\u2028para\u2029 bidi\u202eevil", "sep\\u2028para\\u2029 bidi\\u202eevil"),
        ("tab\tstays", "tab\tstays"),
    ],
)
def test_control_characters_are_escaped_visibly(raw: str, shown: str) -> None:
    assert logs.render(raw).text == f"rocky: {shown}"
    assert logs.render(tracing("INFO", raw)).text == f"rocky: rocky::run {shown}"


@pytest.mark.parametrize("marker", ["::group::", "::endgroup::"])
def test_log_view_group_markers_are_neutralized_anywhere_in_the_line(marker: str) -> None:
    """Airflow's UI folds every record whose message *contains* a marker, so a prefix is not enough."""
    for raw in (f"{marker}Fake section", f"text {marker}Fake", tracing("INFO", f"{marker}x")):
        text = logs.render(raw).text
        assert marker not in text and "\\x3a" + marker[1:] in text


# -- the bytes fast path: the same line as the str path, whatever the engine wrote ----------------

SAME_EITHER_WAY = [
    tracing("INFO", "copied", table="acme.orders", rows=1234, duration_ms=56),
    tracing("WARN", "drift", reason="type change", ratio=0.5, flags=[1, 2], nested={"a": None}),
    tracing("FATAL", "odd level"),
    tracing("INFO", "", only="fields"),
    tracing("INFO", FORGED),
    tracing("INFO", "\x1b[2Khidden ::group::x"),
    tracing("INFO", "café ünïcode ✓"),
    '{"level": "INFO", "fields": {"message": "\\ud800 lone surrogate"}}',  # msgspec refuses: json path
    '{"level": "INFO", "fields": {"n": NaN, "big": 123456789012345678901234567890}}',  # likewise
    '{"level": "INFO", "fields": {"n": ' + "9" * 5000 + "}}",
    '{"a": ' * 40 + "1" + "}" * 40,
    deep_tracing(),
    '{"level": {"nested": ["level"]}, "fields": "not an object", "span": ["x"]}',
    '{"level": "INFO", "fields": {"message": "unterminated}',
    '{"no_level": true}',
    '{"level": "INFO", "fields": {"message": "' + "x" * 40_000 + '"}}',  # too big to parse: text
    "  " + tracing("INFO", "leading spaces"),
    tracing("INFO", "trailing cr") + "\r",
    "Error: boom",
    "plain text",
    "\u00a0\u2003",  # blank to str.strip(), not to bytes.strip()
    "   ",
    "",
]


@pytest.mark.parametrize("line", SAME_EITHER_WAY)
def test_bytes_fast_path_renders_what_the_str_path_renders(line: str) -> None:
    raw = line.encode("utf-8", "surrogatepass")
    expected = logs.render(logs.decode(raw)) if logs.decode(raw).strip() else None
    assert logs.render_raw(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"level": "INFO", "fields": {"message": "bad \xff\xfe utf-8"}}',
        b'{\x00"\x00l\x00e\x00v\x00e\x00l\x00"\x00}\x00',  # json.loads would guess UTF-16 from the NULs
        b'{"level": "INFO", "fields": {"message": "cut in the middle \xe2\x82',
    ],
)
def test_bytes_that_are_not_utf8_json_take_the_text_path(raw: bytes) -> None:
    rendered = logs.render_raw(raw)
    assert rendered is not None and rendered == logs.render(logs.decode(raw))
    assert rendered.text.startswith("rocky: {") and "\\x" in rendered.text
