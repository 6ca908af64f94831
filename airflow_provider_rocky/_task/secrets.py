"""Secrets on their way through Airflow's metadata DB: sealed while deferred, redacted where stored.

**Deferral.** The command is built and validated once, on the worker, and the trigger runs exactly
that command. The secret part of its environment (``RockyCommand.secret_keys``: the connection's
``secret_env``, and ``env``/``env_vars`` values under a name Airflow deems sensitive; the rest is
configuration) therefore travels in the trigger's kwargs, but *sealed*: encrypted with
Airflow's own Fernet key (``[core] fernet_key``, the key that already protects the connection
table) and opened only in the triggerer's memory. Resolving the values again in the triggerer was
the alternative; it cannot work for ``env_vars``, which the worker rendered and no deferred
triggerer renders, and a second connection lookup could run a command the worker never validated.
The key is read the way Airflow's ``get_fernet`` reads it (comma-separated keys for rotation, one
``MultiFernet``), so a token made here opens with Airflow's and vice versa, and like it **once per
process** (:func:`fernet` is cached): ``[core] fernet_key_cmd`` / ``_secret`` may run a command or ask
a secrets backend, which must not happen per run, nor on the triggerer's event loop (the trigger reads
it with :func:`afernet`, in a thread). Rotating the key therefore needs a restart, as for Airflow
itself. Without a key (``[core] fernet_key`` empty: Airflow itself then stores connection
passwords unencrypted and says so) the values travel as before, and the task log says it.

**Events.** A trigger that received a sealed command seals the engine's stdout and the Pipes record
in its event the same way (the worker that sealed the command holds the key to open them); the stderr
tail, which error messages quote, is redacted with the masker instead, so an event carries no secret
in clear.

**XCom.** Airflow stores XCom values unredacted. :func:`for_the_db` redacts engine text with Airflow's
secret masker before a push (the log shows ``***`` for the same text) and makes every string storable:
PostgreSQL's JSONB refuses ``\\u0000``, which is valid UTF-8 and kept everywhere else, so a NUL is
written as the four characters ``\\x00``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky.exceptions import RockyError, RockyUsageError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

#: The serialized command's key holding the sealed secret environment.
SEALED_ENV = "sealed_env"
#: How a NUL is written in anything stored in the metadata DB.
NUL_SHOWN = "\\x00"
#: Keys whose values come from a fixed vocabulary (rocky-sdk's enums, the provider's own words), never
#: from engine text: redacting them could only destroy meaning (an ``env_vars`` value "partial").
VOCABULARY = frozenset(
    {
        "outcome",
        "status",
        "category",
        "pipeline_type",
        "failure_kind",
        "strategy",
        "severity",
        "limit_type",
        "action",
        "command",
        "version",
        "engine_version",
    }
)


_FERNET_LOCK = threading.Lock()


def fernet() -> MultiFernet | None:
    """Airflow's Fernet from ``[core] fernet_key`` (``_cmd``/``_secret`` too), read once; ``None``: no key.

    May block (a command, a secrets backend) the first time: async code awaits :func:`afernet`.
    """
    with _FERNET_LOCK:  # two threads asking at once run the command once
        return _read_fernet()


async def afernet() -> MultiFernet | None:
    """:func:`fernet` for the event loop: the first read runs in a thread, later ones return at once."""
    if _read_fernet.cache_info().currsize:
        return fernet()
    return await asyncio.to_thread(fernet)


def forget_fernet() -> None:
    """Drop the cached key (tests that play two processes with different keys)."""
    with _FERNET_LOCK:
        _read_fernet.cache_clear()


@functools.cache
def _read_fernet() -> MultiFernet | None:
    from airflow.configuration import conf

    raw = conf.get("core", "fernet_key", fallback="") or ""
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys or keys == ["{FERNET_KEY}"]:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as err:
        raise RockyUsageError(f"[core] fernet_key is not a valid Fernet key ({err})") from None


def seal_command(command: RockyCommand) -> tuple[dict[str, Any], bool]:
    """The trigger kwarg for ``command`` with its secret environment sealed; ``False``: no key to seal.

    A command without secrets is returned as it is (and counts as sealed: nothing is exposed).
    """
    data = command.serialize()
    secret = {key: data["env"][key] for key in command.secret_keys if key in data["env"]}
    if not secret:
        return data, True
    key = fernet()
    if key is None:
        return data, False
    data["env"] = {name: value for name, value in data["env"].items() if name not in secret}
    data[SEALED_ENV] = key.encrypt(json.dumps(secret).encode()).decode("ascii")
    return data, True


def open_command(data: Mapping[str, Any]) -> RockyCommand:
    """The command a trigger kwarg describes, its sealed environment opened (rows of 0.1.0: as stored)."""
    sealed = data.get(SEALED_ENV)
    if not sealed:
        return RockyCommand.deserialize(data)
    secret = json.loads(_open(str(sealed), "the engine's secret environment"))
    return RockyCommand.deserialize({**data, "env": {**(data.get("env") or {}), **secret}})


def seal_bytes(raw: bytes) -> str:
    """``raw`` compressed and sealed (for an event whose command arrived sealed)."""
    key = fernet()
    if key is None:
        raise RockyUsageError("[core] fernet_key is not set here, but was where the task deferred")
    return key.encrypt(zlib.compress(raw, 6)).decode("ascii")


def open_bytes(token: str, what: str) -> bytes:
    """Inverse of :func:`seal_bytes`."""
    return zlib.decompress(_open(token, what))


def _open(token: str, what: str) -> bytes:
    from cryptography.fernet import InvalidToken

    key = fernet()
    if key is None:
        raise RockyUsageError(
            f"{what} was sealed with [core] fernet_key, which is not set here: set the same "
            "fernet_key on workers and triggerers"
        )
    try:
        return key.decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        raise RockyUsageError(
            f"{what} was sealed with a [core] fernet_key this process does not have: set the same "
            "fernet_key (or key list) on workers and triggerers"
        ) from None


def storable(value: Any) -> Any:
    """``value`` with every NUL in its strings (and keys) written as ``\\x00``: JSONB refuses ``\\u0000``."""
    return _walk(value, lambda text: text)


def storable_error(error: RockyError) -> RockyError:
    """``error`` with NUL-free text: its message may be stored (a retry policy's reason, callbacks)."""
    if "\x00" not in str(error):
        return error
    rebuild, args = error.__reduce__()[:2]  # the taxonomy pickles by state: (rebuild, (cls, state))
    cls, state = cast("tuple[type[RockyError], dict[str, Any]]", args)
    state = {**state, "reason": storable(error.reason)}
    state["stderr_tail"] = storable(error.stderr_tail)
    return cast("RockyError", cast("Any", rebuild)(cls, state))


def for_the_db(value: Any) -> Any:
    """``value`` as it may be stored: engine text redacted with Airflow's masker, NUL-free.

    Values under :data:`VOCABULARY` keys are kept as they are (made storable only).
    """
    from airflow.providers.common.compat.sdk import redact  # airflow.sdk.log's, on 3.1 and 3.3

    return _walk(value, lambda text: str(redact(text)))


def _walk(value: Any, clean: Callable[[str], str], *, keep: bool = False) -> Any:
    if isinstance(value, str):
        text = value if keep else clean(value)
        return text.replace("\x00", NUL_SHOWN) if "\x00" in text else text
    if isinstance(value, Mapping):
        return {
            _walk(key, clean, keep=True): _walk(item, clean, keep=keep or key in VOCABULARY)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(item, clean, keep=keep) for item in value]
    return value


def redact_lines(lines: Iterable[str]) -> list[str]:
    """Text lines (the stderr tail an event carries) redacted with the masker and made storable."""
    return [str(line) for line in for_the_db(list(lines))]
