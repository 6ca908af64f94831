"""The trigger → task wire format: the one event a Rocky trigger yields, packed and checked here only.

An event is either *finished* (``outcome``: the process outcome with stdout zlib-compressed and
base64-encoded; ``command``: the redacted argv; ``carry``: what the task needs after resuming;
``pipes``: the packed Pipes record or ``None``) or *refused* (``refused``: the registered error class
and its message, for a ``start_from_trigger`` request the triggerer refused before spawning). Rows
and events written by release 0.1.0 have exactly these keys, so they still load. One key is new:
``sealed: true`` says stdout and Pipes are sealed with the Fernet key instead of base64-encoded
(:mod:`~airflow_provider_rocky._task.secrets`); the stderr tail is redacted, every string storable.

:func:`unpack` validates before anything is interpreted, as the dbt Cloud provider checks its events:
a malformed event fails the task as ``engine`` naming what is wrong, instead of a ``KeyError``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.pipes import PipesRecord
from airflow_provider_rocky._engine.process import ProcessOutcome
from airflow_provider_rocky._engine.run import RunRecord
from airflow_provider_rocky._task import secrets
from airflow_provider_rocky.exceptions import RockyEngineError, RockyError, registered

if TYPE_CHECKING:
    from pydantic import TypeAdapter

_ZLIB_LEVEL = 6


@dataclass(frozen=True)
class Finished:
    """A run that happened (whatever it meant): the interpreter decides next."""

    outcome: ProcessOutcome
    command: list[str]
    carry: dict[str, Any] = field(default_factory=dict)
    pipes: PipesRecord | None = None


@dataclass(frozen=True)
class Refused:
    """A request the triggerer refused before anything was spawned."""

    error: RockyError
    carry: dict[str, Any] = field(default_factory=dict)


def _packed(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, _ZLIB_LEVEL)).decode("ascii")


def _unpacked(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text, validate=True)) if text else b""


def pack(
    record: RunRecord, command: RockyCommand, carry: Mapping[str, Any], *, seal: bool = False
) -> dict[str, Any]:
    """The finished event's payload; compresses megabytes of stdout, so call it off the event loop.

    ``seal``: stdout and Pipes sealed with the Fernet key (the command arrived sealed); the stderr
    tail is always redacted, and every string made storable in a JSONB column.
    """
    pack_bytes = secrets.seal_bytes if seal else _packed
    outcome = asdict(record.outcome)
    outcome["stdout"] = pack_bytes(record.outcome.stdout)
    outcome["stderr_tail"] = secrets.redact_lines(record.outcome.stderr_tail)
    pipes = None
    if record.pipes is not None:
        pipes = pack_bytes(json.dumps(record.pipes.to_wire()).encode())
    payload: dict[str, Any] = {
        "outcome": outcome,
        "command": command.redacted(),
        "carry": dict(carry),
        "pipes": pipes,
    }
    if seal:
        payload["sealed"] = True
    return dict(secrets.storable(payload))


def pack_refusal(error: RockyError, carry: Mapping[str, Any]) -> dict[str, Any]:
    """The refused event's payload: the error's registered class name and its (redacted) reason."""
    refused = {"class": type(error).__name__, "message": secrets.redact_lines([error.reason])[0]}
    return dict(secrets.storable({"refused": refused, "carry": dict(carry)}))


def unpack(event: object) -> Finished | Refused:
    """Check and decode an event; raise ``RockyEngineError`` naming what is wrong with it."""
    if not isinstance(event, Mapping):
        raise RockyEngineError(f"the rocky trigger returned no event payload: {event!r:.200}")
    carry = event.get("carry") or {}
    if not isinstance(carry, Mapping):
        raise RockyEngineError(f"the rocky trigger's event has a malformed carry: {carry!r:.200}")
    if "refused" in event:
        return _refused(event["refused"], dict(carry))
    if not isinstance(event.get("outcome"), Mapping):
        raise RockyEngineError(f"the rocky trigger returned no outcome: {dict(event)!r:.300}")
    opened = _opener(bool(event.get("sealed")))
    try:
        outcome = _outcome(event["outcome"], opened)
        pipes = _pipes(event.get("pipes"), opened)
    except (ValueError, TypeError, KeyError, binascii.Error, zlib.error) as err:
        raise RockyEngineError(f"the rocky trigger's event is malformed: {err}") from None
    command = [str(token) for token in event.get("command") or []]
    return Finished(outcome, command, dict(carry), pipes)


def _refused(refused: object, carry: dict[str, Any]) -> Refused:
    if not isinstance(refused, Mapping):
        raise RockyEngineError(f"the rocky trigger sent a malformed refusal: {refused!r:.200}")
    message = str(refused.get("message") or "refused before spawning")
    cls = registered(str(refused.get("class", "")))
    if cls is None:
        raise RockyEngineError(f"the rocky trigger refused the run with an unknown error {refused!r:.200}")
    return Refused(cls(message), carry)


@functools.cache
def _outcome_adapter() -> TypeAdapter[ProcessOutcome]:
    from pydantic import TypeAdapter  # Airflow loads pydantic anyway; it checks every field's type

    return TypeAdapter(ProcessOutcome)


def _opener(sealed: bool) -> Callable[[str, str], bytes]:
    """How this event's stdout and Pipes are read back: sealed (Fernet) or base64 + zlib."""
    if sealed:
        return secrets.open_bytes
    return lambda text, _what: _unpacked(text)


def _outcome(data: Mapping[str, Any], opened: Callable[[str, str], bytes]) -> ProcessOutcome:
    values = {key: value for key, value in data.items() if key in ProcessOutcome.__dataclass_fields__}
    stdout = str(values.get("stdout") or "")
    values["stdout"] = opened(stdout, "the engine's stdout") if stdout else b""
    return _outcome_adapter().validate_python(values)


def _pipes(packed: object, opened: Callable[[str, str], bytes]) -> PipesRecord | None:
    if not packed:
        return None
    return PipesRecord.from_wire(json.loads(opened(str(packed), "the Pipes record")))


def digest(payload: object) -> str:
    """One line saying what an event carries, sizes instead of bytes (for the triggerer's log)."""
    if not isinstance(payload, Mapping):
        return repr(payload)[:200]
    if "refused" in payload:
        refused = payload["refused"] or {}
        return f"rocky refused before spawning: {refused.get('class')}: {str(refused.get('message'))[:200]}"
    outcome = payload.get("outcome") or {}
    if outcome.get("spawn_error"):
        return f"rocky failed to start: {str(outcome['spawn_error'])[:200]}"
    ended = " (deadline)" if outcome.get("timed_out") else " (killed)" if outcome.get("killed") else ""
    pipes = payload.get("pipes")
    seconds = (outcome.get("duration_ms") or 0) / 1000
    return (
        f"rocky exit {outcome.get('exit_code')}{ended} after {seconds:.1f}s; "
        f"stdout {outcome.get('stdout_bytes', 0):,} bytes ({len(outcome.get('stdout') or ''):,} packed); "
        f"stderr {outcome.get('stderr_lines', 0):,} lines, tail {len(outcome.get('stderr_tail') or [])}"
        + (f"; pipes {len(pipes):,} packed" if pipes else "")
    )
