"""``RockyHook``: the ``rocky`` connection turned into settings, commands and small sync calls.

The hook works with no connection defined at all (``rocky_default`` missing means "all defaults":
``rocky`` on PATH, the current directory, ``rocky.toml``), because many teams configure the engine
entirely in ``rocky.toml`` and the worker's environment. A connection that *is* given is read
strictly, before anything is spawned: one that cannot be parsed, of another ``conn_type``, or with a
malformed ``env``/``secret_env`` or ``asset_namespace`` is a usage error naming it; an unknown extra
key is a warning naming the nearest known one.

**Only secrets are masked.** The secrets are every value of ``secret_env`` and the values of ``env``
(and of a task's ``env_vars``) whose *name* looks sensitive by Airflow's own rule
(``should_hide_value_for_key``: ``*_PASSWORD``, ``*_TOKEN``, ``*SECRET*``, ... plus ``[core]
sensitive_var_conn_names``). They are registered with Airflow's secret masker the moment they are
read, reach the child's environment, never argv, and never a log line unmasked. Every other value is
configuration (``ROCKY_CATALOG=warehouse``): masking it would rewrite table names and URIs wherever
the word appears, in the log, in XCom and in what downstream tasks read.

The extra is parsed here from ``Connection.extra``, not through ``extra_dejson``, which logs a
parse error and returns ``{}``: a broken extra would silently mean "all defaults".
"""

from __future__ import annotations

import difflib
import json
import os
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
    secret_forms,
    unspawnable,
)
from airflow_provider_rocky.assets import resolve_namespace
from airflow_provider_rocky.exceptions import (
    INSTALL_HINT,
    RockyBinaryNotFoundError,
    RockyError,
    RockyUsageError,
)
from airflow_provider_rocky.get_provider_info import CONN_FIELDS
from airflow_provider_rocky.hooks._calls import RockyCommandMethods
from airflow_provider_rocky.version_compat import should_hide_value_for_key

__all__ = ["RockyHook", "mask_secret", "sensitive_names"]

#: Extra keys that name settings (everything in the form except the two environments).
_SETTING_KEYS = tuple(name for name in CONN_FIELDS if name not in ("env", "secret_env"))


def mask_secret(value: str) -> None:
    """Register ``value`` (and the escaped forms it may be printed in) with Airflow's secret masker.

    The masker of this process and, through it, the supervisor's and triggerer's. Values shorter
    than ``[logging] min_length_masked_secret`` (default 5) cannot be masked; Airflow would only log
    a warning for the first, so they are not registered.
    """
    from airflow.configuration import conf
    from airflow.sdk.log import mask_secret as mask

    if len(value) < conf.getint("logging", "min_length_masked_secret", fallback=5):
        return
    for form in sorted(secret_forms(value)):
        mask(form)


def sensitive_names(env: Mapping[str, object]) -> tuple[str, ...]:
    """The names in ``env`` whose values are secrets by Airflow's rule (``should_hide_value_for_key``)."""
    return tuple(str(key) for key in env if should_hide_value_for_key(str(key)))


def unreadable_env_connection(conn_id: str) -> str | None:
    """Why ``AIRFLOW_CONN_<ID>`` is set but Airflow found no connection; ``None``: it is not set.

    Airflow logs a parse failure and reports the connection as not defined, which would otherwise
    read as "use the defaults" for ``rocky_default``.
    """
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(name)
    if raw is None:
        return None
    if raw.lstrip().startswith("{"):
        try:
            json.loads(raw)
        except ValueError as err:
            return f"{name} is not valid JSON ({err})"
    return f"{name} is set, but Airflow could not read a connection from it"


class RockyHook(RockyCommandMethods, BaseHook):
    """Resolve the ``rocky`` connection and build commands for the engine.

    :param rocky_conn_id: connection id; ``rocky_default`` may be absent (defaults apply).
    :param overrides: per-task values that win over the connection (``binary_path``, ``project_dir``,
        ``config_path``, ``state_path``, ``state_namespace``, ``models_dir``, ``asset_namespace``,
        ``default_catalog``);
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
        unknown = set(overrides) - {*SETTING_OVERRIDES, "asset_namespace", "default_catalog"}
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
        extra = self._extra_of(conn) if conn is not None else self._no_connection()
        values: dict[str, Any] = {key: str(extra[key]) for key in _SETTING_KEYS if extra.get(key)}
        values.update(self.overrides)
        values["env"], values["secret_names"] = self._environment(extra)
        settings = RockySettings(**values)
        settings.validate()
        self._check_namespace(settings)
        return settings

    def _no_connection(self) -> dict[str, Any]:
        """No connection found: the defaults, but only for ``rocky_default`` and only if none was meant."""
        broken = unreadable_env_connection(self.rocky_conn_id)
        if broken is not None:
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r} cannot be read: {broken}. Fix it, e.g. "
                '{"conn_type": "rocky", "extra": {"project_dir": "/path/to/project"}}'
            )
        if self.rocky_conn_id != self.default_conn_name:
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r} (rocky_conn_id) does not exist; create it, "
                f"or use {self.default_conn_name!r}, which may be left undefined"
            )
        return {}

    def _extra_of(self, conn: Any) -> dict[str, Any]:
        """The connection's extra as a dict, refusing another ``conn_type`` or an unparsable extra."""
        conn_type = str(getattr(conn, "conn_type", None) or "")
        if conn_type and conn_type.lower() != self.conn_type:
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r} has conn_type {conn_type!r}, not "
                f"{self.conn_type!r}: point rocky_conn_id at a connection of type rocky"
            )
        raw = getattr(conn, "extra", None) or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as err:
                raise RockyUsageError(
                    f"Airflow connection {self.rocky_conn_id!r}: extra is not valid JSON ({err})"
                ) from None
        if not isinstance(raw, Mapping):
            raise RockyUsageError(f"Airflow connection {self.rocky_conn_id!r}: extra must be a JSON object")
        extra = dict(raw)
        self._warn_unknown_keys(extra)
        return extra

    def _warn_unknown_keys(self, extra: Mapping[str, Any]) -> None:
        for key in sorted(set(extra) - set(CONN_FIELDS)):
            near = difflib.get_close_matches(key, CONN_FIELDS, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(CONN_FIELDS)}"
            self.log.warning(
                "Airflow connection %r: unknown extra key %r is ignored (%s)", self.rocky_conn_id, key, hint
            )

    def _environment(self, extra: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
        """``env`` and ``secret_env`` merged (a name in both is refused), and the names of the secrets.

        The secrets (every ``secret_env`` value, and ``env`` values under a sensitive name) are
        masked here; the rest of ``env`` is configuration (module docstring).
        """
        env = self._env_field(extra, "env")
        secret = self._env_field(extra, "secret_env")
        if both := sorted(set(env) & set(secret)):
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r}: {', '.join(both)} set in both env and "
                "secret_env; keep each variable in one of them"
            )
        names = tuple(sorted({*secret, *sensitive_names(env)}))
        merged = {**env, **secret}
        for name in names:
            mask_secret(merged[name])
        return merged, names

    def _env_field(self, extra: Mapping[str, Any], name: str) -> dict[str, str]:
        raw = extra.get(name) or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise RockyUsageError(
                    f"Airflow connection {self.rocky_conn_id!r}: extra {name!r} must be a JSON object "
                    'of strings, e.g. {"WAREHOUSE_TOKEN": "..."} (its text is not shown: it may hold secrets)'
                ) from None
        if not isinstance(raw, Mapping):
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r}: extra {name!r} must be a JSON object"
            )
        return {str(key): str(value) for key, value in raw.items()}

    def _check_namespace(self, settings: RockySettings) -> None:
        """A namespace that cannot name tables is refused now, not found after the engine ran."""
        if settings.asset_namespace is None:
            return
        try:
            resolve_namespace(settings.asset_namespace, settings.default_catalog)
        except ValueError as err:
            raise RockyUsageError(
                f"Airflow connection {self.rocky_conn_id!r}: extra asset_namespace is invalid: {err}"
            ) from None

    # -- commands ---------------------------------------------------------------------------------

    def build_command(
        self,
        args: CommandArgs,
        env_vars: Mapping[str, str] | None = None,
        audit_env: Mapping[str, str] | None = None,
    ) -> RockyCommand:
        """The validated command for these arguments (any engine command), on this connection.

        ``env_vars`` values under a sensitive name are secrets, registered with the secret masker;
        the others, and ``audit_env`` (``ROCKY_RUN_TRIGGER=manual`` & co.), are not: masking
        "manual" would hide it in every run id of the log.
        """
        extra = {str(key): str(value) for key, value in (env_vars or {}).items()}
        secret = sensitive_names(extra)
        for name in secret:
            mask_secret(extra[name])
        public = {str(key): str(value) for key, value in (audit_env or {}).items()}
        return build_command(self.get_settings(), args, extra, public, secret)

    def version(self, timeout: float = 30.0) -> str:
        """``rocky --version`` → ``"1.71.0"``: a cheap check that the worker can run the engine."""
        settings = self.get_settings()
        if (problem := unspawnable([settings.binary_path], {}, settings.project_dir)) is not None:
            raise RockyUsageError(f"{problem}: no program can be given it")
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
        """UI "Test" button: can this host run the configured binary?

        A failure says what is wrong with the connection or the host, without the task-failure
        wording (``[rocky:usage] ... (a retry will not help)``), which means nothing on a form.
        """
        try:
            return True, f"rocky {self.version()} is runnable"
        except RockyError as err:
            return False, f"Rocky connection test failed: {err.reason}"
        except Exception as err:  # the UI wants a message, not a traceback
            return False, f"Rocky connection test failed: {err}"

    # -- UI ---------------------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour for Airflow < 3.2 (3.2+ reads ``conn-fields`` from provider info)."""
        return {"hidden_fields": cls.HIDDEN_FIELDS, "relabeling": {}, "placeholders": {}}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields for Airflow < 3.2, whose UI reads them (with FAB and WTForms mocked if absent).

        Airflow 3.1 accepts only ``StringField``, ``PasswordField``, ``IntegerField`` and
        ``BooleanField`` and drops every field of a hook that uses another class, so ``env`` is a
        ``StringField`` (with a text-area widget where FAB renders it). ``secret_env`` is a
        ``PasswordField``: 3.1 shows a password input, as 3.2+ does for the ``format: password``
        conn-field.
        """
        try:
            from flask_appbuilder.fieldwidgets import (
                BS3PasswordFieldWidget,
                BS3TextAreaFieldWidget,
                BS3TextFieldWidget,
            )
            from wtforms import PasswordField, StringField
        except ImportError:
            return {}
        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            if spec["schema"].get("format") == "password":
                widgets[name] = PasswordField(spec["label"], widget=BS3PasswordFieldWidget())
            else:
                widget = BS3TextAreaFieldWidget() if name == "env" else BS3TextFieldWidget()
                widgets[name] = StringField(spec["label"], widget=widget)
        return widgets
