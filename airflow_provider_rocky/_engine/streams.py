"""The engine's two pipes, read by protocols on ``loop.connect_read_pipe`` (no ``StreamReader``).

Why protocols: a line reaches the log in the callback that read it. With a ``StreamReader`` every
chunk was copied into the reader's buffer, and the reading task resumed one loop iteration later
(latency), then re-split it with Python-level bookkeeping (CPU per line). Here ``data_received``
splits the chunk once (``bytes.split``, in C) and hands each line on.

Why a budget: one callback of the pipe transport reads up to 256 KiB, about a thousand tracing
lines; logging them costs tens of milliseconds, and with 20 verbose runs on one triggerer every
such callback ran in the same loop iteration (the loop stalled for a third of a second,
benchmarks/README.md). So engine lines may hold one iteration of a loop for :data:`ITERATION_BUDGET`
seconds *in total* (:class:`_LoopBudget`, shared by every run on the loop): a reader that runs out
pauses its pipe (the engine then waits on a full pipe, as it would behind any slow reader), and
continues in the next iteration, after the loop has run its timers and other tasks. Every line is
still logged, in order; each reader handles at least one line per turn, so none starves.

Why a pause between reads of a busy pipe: the engine writes (and flushes) one line at a time, so a
reader as fast as the engine is woken for every line or two, and a loop iteration per line cost
more than the line itself (twice rocky-sdk's supervisor CPU per line with logging left out). When
chunks come less than :data:`BUSY_GAP_SECONDS` apart (over ~4,000 lines/s), the reader waits
:data:`COALESCE_SECONDS` before it reads again, and then finds many lines at once. Anything slower
(an engine at INFO writes a few lines per table) is read at once, line by line, so its latency is
untouched; a line of a busy run waits 1 ms at most. Lines keep their own record and timestamp.

Memory stays bounded: a paused reader holds at most one chunk; a line longer than ``limit`` bytes is
cut there (what is dropped is counted and said), also when it spans many chunks.
"""

from __future__ import annotations

import asyncio
import io
import time
import weakref
from collections.abc import Callable

#: Seconds of engine-line work one event-loop iteration may hold, over all runs on the loop.
ITERATION_BUDGET = 0.005
#: Lines handled between two looks at the clock.
_LINES_PER_CHECK = 8
#: Chunks closer together than this (over 4,000 lines/s) mark a busy pipe, read after a short pause.
BUSY_GAP_SECONDS = 0.00025
#: How long a busy pipe is left to fill before it is read again.
COALESCE_SECONDS = 0.001
#: A chunk this big means the pipe was full: the engine waits on the reader, which must not pause.
_FULL_PIPE = 64 * 1024

#: Receives one complete line (bytes, no newline, at most ``limit`` bytes, a cut notice included).
RawLineSink = Callable[[bytes], None]
#: Room kept for the notice at the end of a cut line (`` ... [cut N more bytes]``, N < 10**18).
_NOTICE_ROOM = 40

_BUDGETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBudget] = weakref.WeakKeyDictionary()


class _LoopBudget:
    """The time engine lines have spent in the current iteration of one loop.

    An iteration's start cannot be observed from outside the loop, so the first charge of an
    iteration schedules the reset with ``call_soon``: it runs at the head of the next iteration,
    before the pipes' callbacks of that iteration.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.spent = 0.0
        self._armed = False

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _LoopBudget:
        budget = _BUDGETS.get(loop)
        if budget is None:
            budget = _BUDGETS[loop] = cls(loop)
        return budget

    def until(self, now: float) -> float:
        """When a reader starting ``now`` must stop (it still handles one line, however late)."""
        return now + ITERATION_BUDGET - self.spent

    def charge(self, seconds: float) -> None:
        self.spent += seconds
        if not self._armed:
            self._armed = True
            self.loop.call_soon(self._reset)

    def _reset(self) -> None:
        self.spent = 0.0
        self._armed = False


class LineReader(asyncio.Protocol):
    """stderr: split chunks into lines, hand each to ``on_line`` within the loop's budget.

    ``on_line`` must not raise (the supervisor's sink catches everything): a reader that stopped
    would leave the engine blocked on a full pipe.
    """

    def __init__(self, on_line: RawLineSink, limit: int) -> None:
        self.on_line = on_line
        self.limit = max(limit, 2 * _NOTICE_ROOM)
        #: Set when the pipe is closed and every line was handed on (or the reader was abandoned).
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._budget = _LoopBudget.of(self._loop)
        self._transport: asyncio.ReadTransport | None = None
        self._last_chunk = -1.0  # loop time of the previous chunk
        self._busy = False
        self._partial = bytearray()  # the start of a line whose newline has not come yet
        self._dropped = 0  # bytes of that line past ``limit``
        self._pending: list[bytes] = []  # complete lines not handed on yet
        self._next = 0
        self._paused = False
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        self._busy = now - self._last_chunk < BUSY_GAP_SECONDS and len(data) < _FULL_PIPE
        self._last_chunk = now
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: the start of the next line (often b"")
        if lines and (self._partial or self._dropped):
            lines[0] = self._joined(lines[0])
        if tail:
            self._keep_partial(tail)
        if self._next < len(self._pending):  # not expected (the pipe is paused meanwhile): keep order
            lines = self._pending[self._next :] + lines
        self._pending, self._next = lines, 0
        self._drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._next >= len(self._pending):
            self._finish()

    def abandon(self) -> None:
        """Stop handing lines on (the run is over without the pipe: a stray process holds it)."""
        self._pending, self._next = [], 0
        if self._transport is not None:
            self._transport.close()
        if not self.done.done():
            self.done.set_result(None)

    # -- lines ------------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Hand pending lines on until the loop's budget is spent; pause the pipe if some are left."""
        if self.done.done():
            return
        started = time.perf_counter()
        until = self._budget.until(started)
        every = _LINES_PER_CHECK if until > started else 1  # over budget already: one line, then yield
        pending, on_line, limit = self._pending, self.on_line, self.limit
        index, end = self._next, len(pending)
        while index < end:
            line = pending[index]
            index += 1
            on_line(line if len(line) <= limit else _cut(line, limit, 0))
            if index % every == 0 and time.perf_counter() >= until:
                break
        self._next = index
        self._budget.charge(time.perf_counter() - started)
        self._after_drain(index < end)

    def _after_drain(self, left: bool) -> None:
        if left:
            self._pause()
            self._loop.call_soon(self._drain)
            return
        self._pending, self._next = [], 0
        if self._closed:
            self._finish()
        elif self._busy:
            self._pause()
            self._loop.call_later(COALESCE_SECONDS, self._resume)
        else:
            self._resume()

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        """Read again, unless lines are still pending (their last turn resumes) or the run is over."""
        if self._paused and self._next >= len(self._pending) and not self.done.done():
            self._paused = False
            assert self._transport is not None
            self._transport.resume_reading()

    def _finish(self) -> None:
        if self._partial or self._dropped:  # a last line with no newline still counts
            line, self._partial = _cut(bytes(self._partial), self.limit, self._dropped), bytearray()
            self._dropped = 0
            if not self.done.done():
                self.on_line(line)
        if not self.done.done():
            self.done.set_result(None)

    def _keep_partial(self, piece: bytes) -> None:
        room = max(self.limit - len(self._partial), 0)
        self._partial += piece[:room]
        self._dropped += max(len(piece) - room, 0)

    def _joined(self, end: bytes) -> bytes:
        """The line that started in an earlier chunk and ends with ``end``; cut at ``limit``."""
        self._keep_partial(end)
        line = _cut(bytes(self._partial), self.limit, self._dropped)
        self._partial, self._dropped = bytearray(), 0
        return line


def _cut(line: bytes, limit: int, dropped: int) -> bytes:
    """``line`` cut to ``limit`` bytes with the notice, which says how many were dropped.

    ``dropped`` bytes were dropped before (a line that spanned chunks). The result is never longer
    than ``limit``, so a line is cut once only.
    """
    if not dropped and len(line) <= limit:
        return line
    keep = min(len(line), limit - _NOTICE_ROOM)
    return line[:keep] + f" ... [cut {dropped + len(line) - keep} more bytes]".encode()


class OutputKeeper(asyncio.Protocol):
    """stdout: keep up to ``cap`` bytes; past it, drop what was kept and only count the rest.

    The verdict of an overflow needs the byte count, nothing else; the child never blocks on a full
    pipe and a runaway output cannot exhaust the worker.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen = 0
        self._kept = io.BytesIO()  # getvalue() hands over its buffer: no copy of up to the cap
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.seen += len(data)
        if self.seen <= self.cap:
            self._kept.write(data)
        elif not self._kept.closed:
            self._kept.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def abandon(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if not self.done.done():
            self.done.set_result(None)

    @property
    def overflow(self) -> bool:
        return self.seen > self.cap

    def value(self) -> bytes:
        return b"" if self._kept.closed else self._kept.getvalue()
