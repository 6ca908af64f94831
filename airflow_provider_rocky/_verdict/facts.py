"""What every command's XCom summary adds for the Rocky view (``airflow_provider_rocky.ui``).

The interpreter's summaries say what the engine did; a person looking at a task also wants to know
*what was run* and, for a failure, *what to do*: the command (argv as logged, secret-bearing flag
values already ``***``), which Rocky command it was, and the error's category, retryability, message
and the engine's last stderr lines. These are added under three keys no summary had before
(``command_name``, ``command``, ``failure``), so a summary written by release 0.1.0 simply lacks them
and the view says so. Bounded like the rest of the summary: at most :data:`MAX_ARGV` tokens of
:data:`MAX_TOKEN` characters, a message of :data:`MAX_REASON` characters and :data:`MAX_TAIL_LINES`
stderr lines of :data:`MAX_TOKEN` characters (under 20 KB in the worst case). The values are
redacted with Airflow's masker when the summary is pushed, like every other string in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_rocky.exceptions import RockyError

__all__ = ["MAX_ARGV", "MAX_REASON", "MAX_TAIL_LINES", "MAX_TOKEN", "facts"]

#: argv tokens kept (a run's argv is 8 to 20 tokens; a ``--var`` per variable may add more).
MAX_ARGV = 64
#: Characters kept of one argv token or one stderr line.
MAX_TOKEN = 500
#: Characters kept of the error's message (its reason, which usually ends with what to do).
MAX_REASON = 2000
#: stderr lines kept: the error's own tail (``stderr_tail_lines``, default 20), capped.
MAX_TAIL_LINES = 20


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _argv(argv: Sequence[str]) -> list[str]:
    kept = [_cut(str(token), MAX_TOKEN) for token in argv[:MAX_ARGV]]
    if len(argv) > MAX_ARGV:
        kept.append(f"… {len(argv) - MAX_ARGV} more argument(s)")
    return kept


def failure(error: RockyError) -> dict[str, Any]:
    """The error as the view shows it: category, retryability, message, exit code, stderr tail."""
    return {
        "category": error.category,
        "retryable": error.retryable,
        "error_class": type(error).__name__,
        "exit_code": error.exit_code,
        "message": _cut(error.reason, MAX_REASON),
        "stderr_tail": [_cut(line, MAX_TOKEN) for line in error.stderr_tail[-MAX_TAIL_LINES:]],
    }


def facts(command_name: str, argv: Sequence[str] | None, error: RockyError | None) -> dict[str, Any]:
    """``command_name``, ``command`` (``None`` when refused before a command was built), ``failure``."""
    return {
        "command_name": command_name,
        "command": _argv(argv) if argv else None,
        "failure": failure(error) if error is not None else None,
    }
