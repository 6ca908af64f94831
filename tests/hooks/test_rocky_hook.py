"""The ``rocky`` connection read strictly: every mistake named before anything is spawned."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.hooks.rocky import RockyHook

ROOT = Path(__file__).resolve().parents[2]


def conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)


@pytest.mark.parametrize("conn_id", ["rocky_default", "warehouse"])
def test_a_connection_airflow_cannot_parse_is_named_not_taken_for_defaults(
    monkeypatch: pytest.MonkeyPatch, conn_id: str
) -> None:
    """0.1.0: rocky_default fell back to every default; a named one was said not to exist."""
    conn(monkeypatch, conn_id, '{"conn_type": "rocky", "extra": {"project_dir": "/p",}}')
    with pytest.raises(RockyUsageError) as err:
        RockyHook(conn_id).get_settings()
    text = str(err.value)
    assert f"AIRFLOW_CONN_{conn_id.upper()} is not valid JSON" in text and "does not exist" not in text
    assert err.value.category == "usage"


def test_a_connection_of_another_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    conn(monkeypatch, "rocky_default", {"conn_type": "postgres", "host": "db"})
    with pytest.raises(RockyUsageError, match="conn_type 'postgres', not 'rocky'"):
        RockyHook().get_settings()


def test_an_unknown_extra_key_is_a_warning_naming_the_nearest_known_one(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": {"projectdir": "/p", "binary": "r"}})
    settings = RockyHook().get_settings()
    logged = "".join(capfd.readouterr())
    assert "unknown extra key 'projectdir' is ignored (did you mean 'project_dir'?)" in logged
    assert "unknown extra key 'binary' is ignored (did you mean 'binary_path'?)" in logged
    assert settings.project_dir is None and settings.binary_path == "rocky"


def test_an_extra_that_is_not_json_is_refused_without_quoting_it() -> None:
    from airflow.sdk import Connection

    hook = RockyHook()
    with pytest.raises(RockyUsageError, match="extra is not valid JSON") as err:
        hook._settings_from(Connection(conn_id="rocky_default", conn_type="rocky", extra='{"env": s3cret'))
    assert "s3cret" not in str(err.value)


def test_an_invalid_connection_namespace_is_refused_before_spawning(monkeypatch: pytest.MonkeyPatch) -> None:
    """0.1.0 ran the engine, then logged one ERROR and emitted no asset event at all."""
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": {"asset_namespace": "snowflake"}})
    with pytest.raises(
        RockyUsageError, match=r"'rocky_default': extra asset_namespace is invalid: .*snowflake"
    ):
        RockyHook().get_settings()


def test_default_catalog_comes_from_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"asset_namespace": "snowflake://acct", "default_catalog": "ANALYTICS"}
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": extra})
    assert RockyHook().get_settings().default_catalog == "ANALYTICS"


def test_secret_env_joins_env_masked_and_kept_out_of_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_rocky._engine.args.run import RunArgs
    from airflow_provider_rocky.hooks import rocky as hook_module

    masked: list[str] = []
    monkeypatch.setattr(hook_module, "mask_secret", masked.append)
    extra = {"env": {"REGION": "eu-west-1"}, "secret_env": json.dumps({"WAREHOUSE_PASSWORD": "pw-s3cret"})}
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": extra})
    command = RockyHook().build_command(RunArgs(filter="a=b"))
    assert command.env == {"REGION": "eu-west-1", "WAREHOUSE_PASSWORD": "pw-s3cret"}
    assert command.secret_keys == ("WAREHOUSE_PASSWORD",), "REGION is configuration, not a secret"
    assert masked == ["pw-s3cret"]
    assert not any("s3cret" in token for token in command.argv)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"secret_env": "{not json"}, "extra 'secret_env' must be a JSON object of strings"),
        ({"secret_env": '["a"]'}, "extra 'secret_env' must be a JSON object"),
        ({"env": {"A": "x"}, "secret_env": {"A": "y"}}, "A set in both env and secret_env"),
    ],
)
def test_a_malformed_secret_env_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], says: str
) -> None:
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": extra})
    with pytest.raises(RockyUsageError, match=says) as err:
        RockyHook().get_settings()
    assert "not json" not in str(err.value)


def test_the_form_marks_secret_env_as_a_password_on_every_airflow() -> None:
    """3.2+ reads ``conn-fields`` (``format: password``); 3.1 reads the hook's WTForms widgets.

    0.1.0's widgets used a ``TextAreaField``, which Airflow 3.1 refuses: the connection type had no
    extra fields at all there.
    """
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "rocky"]
    fields = meta.extra_fields or {}
    assert fields["secret_env"]["schema"]["format"] == "password"
    assert {"project_dir", "env", "asset_namespace", "default_catalog"} <= set(fields)


def test_the_connection_test_reads_as_a_connection_test(monkeypatch: pytest.MonkeyPatch) -> None:
    conn(monkeypatch, "rocky_default", {"conn_type": "rocky", "extra": {"binary_path": "/nonexistent/rocky"}})
    ok, message = RockyHook().test_connection()
    assert not ok and message.startswith("Rocky connection test failed: could not run '/nonexistent/rocky'")
    assert "retry" not in message and "[rocky:" not in message


def test_masking_escaped_forms_hides_a_secret_printed_inside_json() -> None:
    """A secret with ``"``, ``\\`` or non-ASCII is printed escaped in a structured field."""
    from airflow.sdk.log import redact

    from airflow_provider_rocky.hooks.rocky import mask_secret

    secret = 'pa"ss\\wörd-42'
    mask_secret(secret)
    for shown in (json.dumps({"v": secret}), json.dumps({"v": secret}, ensure_ascii=False), repr(secret)):
        redacted = redact(shown)
        assert "ss" not in redacted and "42" not in redacted, (shown, redacted)


def test_short_values_are_not_registered_so_the_masker_does_not_warn() -> None:
    """Airflow's masker warns once per process for a value shorter than min_length_masked_secret."""
    code = (
        "from airflow_provider_rocky.hooks.rocky import mask_secret; "
        "mask_secret('0.4'); mask_secret('a-real-secret')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, cwd=ROOT
    )
    assert "too short" not in out.stdout + out.stderr
