"""What to spawn: the command (argv, environment, cwd) and the settings its global flags come from.

One builder serves every engine command: the settings give ``rocky --config=C [--state-namespace=N |
--state-path=P] --output=json`` (rocky-sdk's order), the command's own arguments the rest. argv is a
list, never a shell line, and every value sits in its flag's token (:func:`opt`), so none can be read
as a flag; secrets travel only in the child's environment. A command the operating system cannot
pass to a program (a NUL byte, text it cannot encode, a ``=`` in an environment name: ``Popen``'s
``ValueError``) is refused as ``usage`` before anything is spawned, naming the part
(:func:`unspawnable`), whatever path built it: arguments, a templated ``dag_run.conf`` value, the
connection.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_rocky.exceptions import RockyUsageError
from airflow_provider_rocky.get_provider_info import CONN_FIELDS, NOT_OVERRIDES

#: Environment names removed from the inherited environment unless the caller sets them itself.
PIPES_ENV_PREFIX = "DAGSTER_PIPES_"
#: Inherited variables the engine reads as arguments: ``ROCKY_IDEMPOTENCY_KEY`` is ``--idempotency-key``'s
#: fallback (main.rs 884, 1044: ``env = "ROCKY_IDEMPOTENCY_KEY"``). A worker's copy would make every run
#: of every task claim one key (and be skipped as already done); only the task's own key may reach it.
UNSET_ENV_NAMES = ("ROCKY_IDEMPOTENCY_KEY",)
#: argv flags whose value must never reach a log line (rocky-sdk redacts the same two).
REDACTED_FLAGS = frozenset({"--governance-override", "--idempotency-key"})
#: Connection settings a task may override: every connection field (declared once, in
#: ``get_provider_info.CONN_FIELDS``) except the asset naming and the (secret) environment.
SETTING_OVERRIDES: tuple[str, ...] = tuple(name for name in CONN_FIELDS if name not in NOT_OVERRIDES)

#: Matched whole (``fullmatch``): the engine's ``validate_identifier`` refuses a trailing newline.
_NAMESPACE = re.compile(r"[a-zA-Z0-9_]+")


#: Characters of a value quoted in a refusal.
SHOWN_CHARS = 80


def _not_passable(text: str) -> str | None:
    """Why the OS cannot pass ``text`` to a program (``Popen``'s ``ValueError``), or ``None``."""
    if "\x00" in text:
        return "holds a NUL byte"
    try:
        os.fsencode(text)
    except UnicodeEncodeError as err:
        return f"holds text this system cannot encode ({err.reason})"
    return None


def _quoted(text: str) -> str:
    return repr(text) if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]!r}... ({len(text):,} characters)"


def unspawnable(argv: Sequence[str], env: Mapping[str, str], cwd: str | None) -> str | None:
    """What makes this command impossible to spawn, naming the argument (never a secret's value)."""
    for index, token in enumerate(argv):
        if (problem := _not_passable(token)) is not None:
            return f"{_argument(index, token)} {problem}"
    for key, value in env.items():
        if not key or "=" in key or _not_passable(key) is not None:
            return f"the environment name {_quoted(key)} is not one a program can receive"
        if (problem := _not_passable(value)) is not None:
            return f"the environment value of {key} {problem}"
    if cwd is not None and (problem := _not_passable(cwd)) is not None:
        return f"project_dir {_quoted(cwd)} {problem}"
    return None


def _argument(index: int, token: str) -> str:
    """argv[index] as the user knows it: ``binary_path``, a flag's value (redacted ones unquoted)."""
    if index == 0:
        return f"binary_path {_quoted(token)}"
    flag, sep, value = token.partition("=")
    if not (sep and flag.startswith("--")):
        return f"the argument {_quoted(token)}"
    return f"the value of {flag}" if flag in REDACTED_FLAGS else f"the value of {flag} {_quoted(value)}"


def opt(flag: str, value: object) -> str:
    """``--flag=value``: one token, so the value can never be read as a flag (clap accepts the form)."""
    return f"{flag}={value}"


def flag_of(token: str) -> str:
    """The flag a token sets: ``--filter`` for ``--filter=a=b`` and for ``--filter``."""
    return token.split("=", 1)[0] if token.startswith("--") else token


def secret_forms(secret: str) -> set[str]:
    """``secret`` as it may be printed: itself, JSON-escaped (with and without ``ensure_ascii``), repr'd.

    A secret holding ``"``, ``\\`` or non-ASCII characters is written escaped wherever a structured
    field is encoded (the task log's JSON, the engine's tracing JSON, an error message quoting
    ``repr``); the masker matches text literally, so every form it can take is registered.
    """
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms.add(repr(secret)[1:-1])
    return {form for form in forms if form}


_C_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shell_word(token: str) -> str:
    if token.isprintable():
        return shlex.quote(token)
    escaped = "".join(
        _C_ESCAPES.get(char) or (char if char.isprintable() else f"\\x{ord(char):02x}") for char in token
    )
    return f"$'{escaped}'"


@dataclass(frozen=True)
class RockyCommand:
    """What to run: argv (a list, never a shell line), extra environment and working directory.

    ``env`` holds only what the provider adds (connection secrets, ``env_vars``, audit values); it is
    layered over the environment of the process that spawns the child, so a deferred command never
    carries the worker's whole environment into the trigger's serialized kwargs.
    """

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    unset_env_prefixes: tuple[str, ...] = (PIPES_ENV_PREFIX,)
    #: Keys of ``env`` whose values are secrets: every process that runs the command masks them, and a
    #: deferred command seals them (the other values are configuration, stored as they are).
    secret_keys: tuple[str, ...] = ()

    def redacted(self) -> list[str]:
        """argv with secret-bearing flag values replaced by ``***``, for logs and errors.

        Both forms: ``--flag=value`` (what this release builds) and ``--flag value`` (rows of 0.1.0).
        """
        out: list[str] = []
        hide_next = False
        for token in self.argv:
            if hide_next:
                out.append("***")
            elif "=" in token and flag_of(token) in REDACTED_FLAGS:
                out.append(f"{flag_of(token)}=***")
            else:
                out.append(token)
            hide_next = token in REDACTED_FLAGS
        return out

    def shown(self) -> str:
        """The redacted argv as one shell line, for logs: quoted, and one line whatever a value holds.

        ``shlex.join`` quoting; a token with a newline or another control character is written in
        bash's ``$'...'`` form (``$'a=b\\nMarking task as SUCCESS'``), so a templated value can
        neither forge a log line nor hide in an unquoted one.
        """
        return " ".join(_shell_word(token) for token in self.redacted())

    def child_env(self) -> dict[str, str]:
        """The child's full environment: inherited (minus dropped prefixes and names) plus ``env``.

        ``env`` is applied last, so a task that sets ``ROCKY_IDEMPOTENCY_KEY`` itself (``env_vars``)
        still passes it; rows written by earlier releases get the same scrubbing.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in UNSET_ENV_NAMES and not any(key.startswith(p) for p in self.unset_env_prefixes)
        }
        env.setdefault("ROCKY_SUPPRESS_DEPRECATION", "1")
        env.update(self.env)
        return env

    def serialize(self) -> dict[str, Any]:
        """JSON-native form for trigger kwargs."""
        return {
            "argv": list(self.argv),
            "env": dict(self.env),
            "cwd": self.cwd,
            "unset_env_prefixes": list(self.unset_env_prefixes),
            "secret_keys": list(self.secret_keys),
        }

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> RockyCommand:
        """Inverse of :meth:`serialize` (also reads rows written by earlier releases)."""
        return cls(
            argv=tuple(data["argv"]),
            env=dict(data.get("env") or {}),
            cwd=data.get("cwd"),
            unset_env_prefixes=tuple(data.get("unset_env_prefixes", (PIPES_ENV_PREFIX,))),
            secret_keys=tuple(data.get("secret_keys", ())),
        )


@dataclass(frozen=True)
class RockySettings:
    """Where and how to run the engine: the ``rocky`` connection merged with per-task overrides.

    Its fields are the connection's fields (``CONN_FIELDS``). ``state_path``/``state_namespace``
    default to neither, so the engine resolves its own state file (``models/.rocky-state.redb``),
    exactly like a bare ``rocky`` call.
    """

    binary_path: str = "rocky"
    project_dir: str | None = None
    config_path: str = "rocky.toml"
    state_path: str | None = None
    state_namespace: str | None = None
    models_dir: str = "models"
    asset_namespace: str | None = None
    default_catalog: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Keys of ``env`` whose values are secrets (the connection's ``secret_env``, and ``env`` keys that
    #: look sensitive by Airflow's rule); the other values are configuration.
    secret_names: tuple[str, ...] = ()

    def validate(self) -> None:
        """Refuse settings the engine would refuse, naming them."""
        if self.state_path and self.state_namespace:
            raise RockyUsageError(
                "state_path and state_namespace are mutually exclusive (the engine disables "
                f"namespacing when --state-path is given): got state_path={self.state_path!r}, "
                f"state_namespace={self.state_namespace!r}"
            )
        if self.state_namespace is not None and not _NAMESPACE.fullmatch(self.state_namespace):
            raise RockyUsageError(
                f"state_namespace={self.state_namespace!r} is invalid: it must match ^[a-zA-Z0-9_]+$"
            )
        if not self.binary_path:
            raise RockyUsageError("binary_path is empty")

    def global_argv(self) -> list[str]:
        """``rocky --config=C [--state-namespace=N | --state-path=P] --output=json`` (SDK order)."""
        argv = [self.binary_path, opt("--config", self.config_path)]
        if self.state_namespace is not None:
            argv.append(opt("--state-namespace", self.state_namespace))
        elif self.state_path is not None:
            argv.append(opt("--state-path", self.state_path))
        return [*argv, opt("--output", "json")]


class CommandArgs(Protocol):
    """The arguments of one engine command, after templating (see ``_engine/args``)."""

    def validate(self) -> None:
        """Raise ``RockyUsageError`` (or a subclass) naming what the engine would refuse."""

    def argv(self, settings: RockySettings) -> list[str]:
        """The subcommand and its flags (after the global flags)."""


def build_command(
    settings: RockySettings,
    args: CommandArgs,
    extra_env: Mapping[str, str] | None = None,
    public_env: Mapping[str, str] | None = None,
    extra_secret_names: tuple[str, ...] = (),
) -> RockyCommand:
    """Validate both halves and assemble the command: argv, environment (secrets only there), cwd.

    ``secret_keys`` are ``settings.secret_names`` and ``extra_secret_names`` (the task's ``env_vars``
    keys that look sensitive) that the environment holds; every other value (the connection's
    ``env``, ``env_vars``, the audit values such as ``ROCKY_RUN_TRIGGER``) is configuration and is
    never masked.
    """
    settings.validate()
    args.validate()
    env = {**(public_env or {}), **settings.env, **(extra_env or {})}
    secret = {*settings.secret_names, *extra_secret_names} & set(env)
    command = RockyCommand(
        argv=(*settings.global_argv(), *args.argv(settings)),
        env=env,
        cwd=settings.project_dir,
        secret_keys=tuple(sorted(secret)),
    )
    if (problem := unspawnable(command.argv, command.env, command.cwd)) is not None:
        raise RockyUsageError(
            f"{problem}: no program can be given it; check the argument, the template or "
            "dag_run.conf value it was rendered from, or the connection"
        )
    return command
