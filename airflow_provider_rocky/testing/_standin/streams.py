"""Stress output for the stderr/stdout robustness scenarios (many_lines, stream_rate, non_utf8_stderr,
garbage_stdout). Each hook is a no-op for every other scenario."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky.testing._standin.tracing import StderrLog

if TYPE_CHECKING:
    from airflow_provider_rocky.testing._standin.env import RunEnv

HUGE_LINE_BYTES = 10 * 1024 * 1024
INVALID_UTF8 = b"\xff\xfe caf\xe9 \xc3\x28 \xed\xa0\x80"
TAIL_WITHOUT_NEWLINE = b"[rocky] stderr closed without a trailing newline"


def _many_lines(log: StderrLog, count: int) -> None:
    for seq in range(1, count + 1):
        log.info(f"progress {seq}/{count}", seq=seq)


def _stream_rate(run: RunEnv, log: StderrLog) -> None:
    rate = run.knobs.lines_per_sec
    seconds = run.knobs.seconds if run.knobs.seconds is not None else 5.0
    total = int(rate * seconds)
    origin = time.monotonic()
    for seq in range(total):
        wait = origin + seq / rate - time.monotonic()
        if wait > 0 and run.interrupts.pause(wait):
            return
        t_ns = time.time_ns()
        log.info(f"tick {seq} t_ns={t_ns}", seq=seq, t_ns=t_ns)


def _non_utf8(log: StderrLog) -> None:
    marker = "@@INVALID@@"
    line = log.format_event("WARN", f"source row contains invalid UTF-8: {marker}", "rocky::run", {})
    head, tail = line.encode("utf-8").split(marker.encode())
    log.raw(head + INVALID_UTF8 + tail + b"\n")
    log.raw(b"plain line with invalid bytes: \x80\x81\xfe\xff\n")
    filler = "x" * HUGE_LINE_BYTES
    log.raw(log.format_event("INFO", f"huge payload {filler}", "rocky::run", {}).encode("utf-8") + b"\n")


def before_units(run: RunEnv, log: StderrLog) -> None:
    """Stress output written while the run starts."""
    stress = run.scenario.stress
    if stress == "many_lines":
        _many_lines(log, run.knobs.lines)
    elif stress == "stream_rate":
        _stream_rate(run, log)
    elif stress == "non_utf8_stderr":
        _non_utf8(log)


def after_output(run: RunEnv, log: StderrLog) -> None:
    """Stress output written after stdout: the last stderr line has no trailing newline."""
    if run.scenario.stress == "non_utf8_stderr":
        log.raw(TAIL_WITHOUT_NEWLINE)


def garbage_stdout(output: dict[str, Any]) -> str:
    """A stdout that is not JSON (what a wrapper script or a wrong ``--output`` would produce)."""
    return (
        f"rocky run finished: {output['tables_copied']} tables copied, {output['tables_failed']} failed\n"
        "\x1b[32m✓\x1b[0m done (this stdout is deliberately not JSON)\n"
    )
