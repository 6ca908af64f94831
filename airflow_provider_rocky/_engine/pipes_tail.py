"""Follow a Pipes messages file while the engine writes it, without blocking the event loop.

Reads appended bytes in small chunks, buffers a partial last line until its newline, and hands each
parsed message (or problem) to a callback; stops at ``closed`` or once ``stop`` is set and the file is
drained. Split from :mod:`airflow_provider_rocky.pipes` (the protocol) because it is the I/O half.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from airflow_provider_rocky._engine.pipes import PROBLEM_LINE_CHARS, PipesMessage, PipesProblem, parse_message

#: Bytes read from the messages file per step.
CHUNK_BYTES = 64 * 1024
#: A line longer than this is dropped with a warning instead of buffered.
MAX_LINE_BYTES = 8 * 1024 * 1024


@dataclass
class TailStats:
    """What :func:`tail` delivered."""

    messages: int = 0
    problems: int = 0
    closed: bool = False


OnMessage = Callable[[PipesMessage | PipesProblem], Awaitable[None] | None]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def tail(
    path: str | os.PathLike[str],
    on_message: OnMessage,
    stop: asyncio.Event,
    poll_interval: float = 0.1,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> TailStats:
    """Follow the messages file, calling ``on_message`` per line (sync or async callback).

    Opens and reads in a worker thread (file I/O never runs on the loop, which may be a triggerer's
    shared by hundreds of runs), in chunks, yielding between them; a partial last line waits in a
    buffer for its newline. Returns after a ``closed`` message,
    or once ``stop`` is set and the file has been read to its end (a final unterminated line is then
    parsed too). A missing file is waited for; a line over ``max_line_bytes`` becomes a problem.
    """
    stats = TailStats()
    buffer = bytearray()
    skipping = False  # inside an over-long line: drop bytes until its newline

    async def emit(item: PipesMessage | PipesProblem) -> bool:
        if isinstance(item, PipesProblem):
            stats.problems += 1
        else:
            stats.messages += 1
            stats.closed = item.method == "closed"
        result = on_message(item)
        if inspect.isawaitable(result):
            await result
        return stats.closed

    async def deliver(raw: bytes) -> bool:
        text = raw.decode("utf-8", errors="replace").strip()
        return bool(text) and await emit(parse_message(text))

    handle = None
    try:
        while True:
            stopping = stop.is_set()  # read before checking, so data written before stop is seen
            if handle is None:
                try:
                    handle = await asyncio.to_thread(open, path, "rb")
                except FileNotFoundError:
                    if stopping:
                        return stats
                    await _wait(stop, poll_interval)
                    continue
            chunk = await asyncio.to_thread(handle.read, chunk_bytes)
            if not chunk:
                if stopping:
                    if buffer and not skipping:
                        await deliver(bytes(buffer))
                    return stats
                await _wait(stop, poll_interval)
                continue
            if b"\n" not in chunk:
                buffer += chunk
                lines: list[bytes] = []
            else:
                *lines, last = (bytes(buffer) + chunk).split(b"\n")
                buffer = bytearray(last)
            for raw in lines:
                if skipping:  # the rest of an over-long line
                    skipping = False
                    continue
                if await deliver(raw):
                    return stats
            if skipping:
                buffer.clear()
            elif len(buffer) > max_line_bytes:
                head = bytes(buffer[:PROBLEM_LINE_CHARS]).decode("utf-8", "replace")
                await emit(PipesProblem(f"Pipes line longer than {max_line_bytes} bytes, dropped", head))
                buffer.clear()
                skipping = True
            await asyncio.sleep(0)
    finally:
        if handle is not None:
            handle.close()  # no flush on a read-only handle: no I/O wait
