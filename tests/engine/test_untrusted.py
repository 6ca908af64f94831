"""``untrusted.loads``: msgspec's speed, Python's answers, and only ``ValueError`` for bad input."""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_rocky._engine.untrusted import MAX_JSON_DEPTH, loads

DOCUMENTS = [
    '{"level": "INFO", "fields": {"message": "m", "rows": 3, "ratio": 0.25, "ok": true, "none": null}}',
    '{"dup": 1, "dup": 2}',  # the last one wins, as in Python
    '"\\ud800 lone surrogate"',  # msgspec refuses it; Python accepts it
    '{"big": 123456789012345678901234567890, "neg": -0, "exp": 1E400}',
    '[1, 2.5e-3, "caf\\u00e9"]',
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_decodes_what_python_decodes_from_str_and_from_bytes(document: str) -> None:
    expected = json.loads(document)
    for given in (document, document.encode("utf-8")):
        got = loads(given)
        assert json.dumps(got) == json.dumps(expected)  # also inf and surrogates compare this way


def test_nan_is_decoded_like_python() -> None:
    assert math.isnan(loads(b'{"n": NaN}')["n"])


@pytest.mark.parametrize(
    "bad",
    [
        b'{"a": 1} trailing',
        b'{"a": "\xff not utf-8"}',
        b'{\x00"\x00a\x00"\x00:\x001\x00}\x00',  # NUL bytes: not guessed to be UTF-16
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        ("[" * 100_000 + "]" * 100_000).encode(),
        b'{"unterminated": "',
    ],
)
def test_bad_input_raises_value_error_only(bad: bytes) -> None:
    with pytest.raises(ValueError):
        loads(bad)
    if bad.isascii():
        with pytest.raises(ValueError):
            loads(bad.decode("ascii"))


def test_a_str_with_a_raw_surrogate_is_decoded_like_python() -> None:
    assert loads('{"a": "\udcff"}') == {"a": "\udcff"}
