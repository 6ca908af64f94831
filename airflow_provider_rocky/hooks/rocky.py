"""``RockyHook``: the ``rocky`` connection turned into settings, commands and small sync calls.

The hook works with no connection defined at all (``rocky_default`` missing means "all defaults":
``rocky`` on PATH, the current directory, ``rocky.toml``), because many teams configure the engine
entirely in ``rocky.toml`` and the worker's environment. Every value of the connection's ``env`` is
registered with Airflow's secret masker the moment it is read: it reaches the child's environment,
never argv, and never a log line unmasked.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.sdk import BaseHook

from airflow_provider_rocky._engine.command import (
    SETTING_OVERRIDES,
    CommandArgs,
    RockyCommand,
    RockySettings,
    build_command,
)
from airflow_provider_rocky.exceptions import INSTALL_HINT, RockyBinaryNotFoundError, RockyUsageError
from airflow_provider_rocky.get_provider_info import CONN_FIELDS

__all__ = ["RockyHook", "mask_secret"]


def mask_secret(value: str) -> None:
    """Register ``value`` with Airflow's secret masker (task, supervisor and triggerer processes).

    Values shorter than ``[logging] min_length_masked_secret`` (default 5) cannot be masked; Airflow
    would only log a warning for each (``ROCKY_STANDIN_DELAY=0.3``...), so they are not registered.
    """
    from airflow.configuration import conf

    if len(value) < conf.getint("logging", "min_length_masked_secret", fallback=5):
        return
    try:
        from airflow.sdk.log import mask_secret as mask
    except ImportError:  # Airflow 3.1 keeps it in the execution-time module
        from airflow.sdk.execution_time.secrets_masker import mask_secret as mask  # type: ignore[no-redef]
    mask(value)


class RockyHook(BaseHook):
    """Resolve the ``rocky`` connection and build commands for the engine.

    :param rocky_conn_id: connection id; ``rocky_default`` may be absent (defaults apply).
    :param overrides: per-task values that win over the connection (``binary_path``, ``project_dir``,
        ``config_path``, ``state_path``, ``state_namespace``, ``models_dir``, ``asset_namespace``);
        ``None`` means "use the connection's".
    """

    conn_name_attr = "rocky_conn_id"
    default_conn_name = "rocky_default"
    conn_type = "rocky"
    hook_name = "Rocky"

    #: Standard connection fields the form hides: everything lives in ``extra``.
    HIDDEN_FIELDS: ClassVar[list[str]] = ["host", "schema", "login", "password", "port"]

    def __init__(self, rocky_conn_id: str = default_conn_name, **overrides: str | None) -> None:
        super().__init__()
        unknown = set(overrides) - {*SETTING_OVERRIDES, "asset_namespace"}
        if unknown:
            raise TypeError(f"RockyHook got unknown settings: {sorted(unknown)}")
        self.rocky_conn_id = rocky_conn_id
        self.overrides = {key: value for key, value in overrides.items() if value is not None}
        self._settings: RockySettings | None = None

    # -- connection → settings --------------------------------------------------------------------

    def get_settings(self) -> RockySettings:
        """Connection + overrides → validated settings (looked up once per hook)."""
        if self._settings is None:
            try:
                conn = self.get_connection(self.rocky_conn_id)
            except AirflowNotFoundException:
                conn = None
            self._settings = self._settings_from(conn)
        return self._settings

    async def aget_settings(self) -> RockySettings:
        """The same, for the triggerer's event loop (``start_from_trigger``): no blocking lookup."""
        if self._settings is None:
            try:
                conn = await self.aget_connection(self.rocky_conn_id)
            except AirflowNotFoundException:
                conn = None
            self._settings = self._settings_from(conn)
        return self._settings

    def _settings_from(self, conn: Any) -> RockySettings:
        if conn is None and self.rocky_conn_id != self.default_conn_name:
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r} (rocky_conn_id) does not exist; create it, "
                f"or use {self.default_conn_name!r}, which may be left undefined"
            )
        raw = conn.extra_dejson if conn is not None else {}
        extra: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
        values: dict[str, Any] = {
            key: extra[key] for key in (*SETTING_OVERRIDES, "asset_namespace") if extra.get(key)
        }
        values.update(self.overrides)
        values["env"] = self._env_from(extra)
        settings = RockySettings(**values)
        settings.validate()
        return settings

    def _env_from(self, extra: Mapping[str, Any]) -> dict[str, str]:
        raw = extra.get("env") or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise RockyUsageError(
                    f"connection {self.rocky_conn_id!r}: extra 'env' must be a JSON object of strings"
                ) from None
        if not isinstance(raw, Mapping):
            raise RockyUsageError(f"connection {self.rocky_conn_id!r}: extra 'env' must be a JSON object")
        env = {str(key): str(value) for key, value in raw.items()}
        for value in env.values():
            mask_secret(value)
        return env

    # -- commands ---------------------------------------------------------------------------------

    def build_command(
        self,
        args: CommandArgs,
        env_vars: Mapping[str, str] | None = None,
        audit_env: Mapping[str, str] | None = None,
    ) -> RockyCommand:
        """The validated command for these arguments (any engine command), on this connection.

        ``env_vars`` (the user's, maybe credentials) are registered with the secret masker;
        ``audit_env`` (``ROCKY_RUN_TRIGGER=manual`` & co.) is not: masking "manual" would hide it in
        every run id of the log.
        """
        for value in (env_vars or {}).values():
            mask_secret(str(value))
        extra = {str(key): str(value) for key, value in (env_vars or {}).items()}
        public = {str(key): str(value) for key, value in (audit_env or {}).items()}
        return build_command(self.get_settings(), args, extra, public)

    def version(self, timeout: float = 30.0) -> str:
        """``rocky --version`` → ``"1.71.0"``: a cheap check that the worker can run the engine."""
        settings = self.get_settings()
        try:
            done = subprocess.run(
                [settings.binary_path, "--version"],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=settings.project_dir,
                check=False,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as err:
            raise RockyBinaryNotFoundError(
                f"could not run {settings.binary_path!r} ({err}). {INSTALL_HINT}"
            ) from None
        words = done.stdout.split()
        if done.returncode != 0 or len(words) < 2:
            raise RockyBinaryNotFoundError(
                f"{settings.binary_path!r} --version exited {done.returncode}: {done.stderr.strip()[:300]}",
                exit_code=done.returncode,
            )
        return words[1]

    def test_connection(self) -> tuple[bool, str]:
        """UI "Test" button: can this host run the configured binary?"""
        try:
            return True, f"rocky {self.version()} is runnable"
        except Exception as err:  # the UI wants a message, not a traceback
            return False, str(err)

    # -- UI ---------------------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour for Airflow < 3.2 (3.2+ reads ``conn-fields`` from provider info)."""
        return {"hidden_fields": cls.HIDDEN_FIELDS, "relabeling": {}, "placeholders": {}}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields for Airflow < 3.2, when the FAB/WTForms stack is installed."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
            from wtforms import StringField, TextAreaField
        except ImportError:
            return {}
        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            if name == "env":
                widgets[name] = TextAreaField(spec["label"], widget=BS3TextAreaFieldWidget())
            else:
                widgets[name] = StringField(spec["label"], widget=BS3TextFieldWidget())
        return widgets
