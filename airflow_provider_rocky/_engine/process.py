"""The asyncio supervisor of one rocky process, shared by the worker (sync) and the triggerer.

Why asyncio in both modes: one implementation of spawn, streaming, deadline and kill means the two
modes cannot drift; the worker simply runs it under ``asyncio.run``. Properties it keeps:

* the child runs in its own session (process group), marked with a per-run token in its environment
  (:mod:`.descendants`); every way a run ends (exit, deadline, stop request, cancellation, the task's
  own timeout) ends the whole group *and* every descendant that left it (``setsid``): SIGTERM (rocky's
  replication path then prints ``interrupted: true`` JSON and exits 130), a grace period, then SIGKILL;
  and when this process itself dies without a word (SIGKILL, the OOM killer), its reaper does the same
  (:mod:`.reaper`);
* the run is reported ended only once those processes are really gone (bounded): a SIGKILLed process
  still needs CPU time to die, which a loaded host may not give it at once; a zombie counts as gone;
* stderr is split into lines as chunks arrive, each rendered and handed to ``on_line`` in the
  callback that read it, within a per-loop time budget so that many verbose runs cannot stall the
  loop (:mod:`.streams`); memory stays flat: only the last lines are kept (raw, made safe to show
  once, when the run ends; a huge line is cut): the verdict's own window of
  :data:`VERDICT_WINDOW_LINES`, or ``stderr_tail_lines`` when that is larger. How many of them an
  error *shows* is ``stderr_tail_lines`` (``ProcessOutcome.stderr_shown``): a display option never
  changes what the interpreter reads. No line, however hostile, stops the reader (a reader that
  stopped would leave the engine blocked on a full pipe);
* stdout is kept up to ``max_stdout_bytes``; past it, what was kept is dropped and the rest only
  counted (:class:`.streams.OutputKeeper`), so the child never blocks on a full pipe, a runaway
  output cannot exhaust the worker and no event carries it;
* nothing here blocks the event loop: pipes are read by protocols, ``/proc`` scans run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky._engine import stderr as logs
from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.defaults import DEFAULT_MAX_STDOUT_BYTES, DEFAULT_TERM_GRACE_SECONDS
from airflow_provider_rocky._engine.descendants import KILL_WAIT_SECONDS
from airflow_provider_rocky._engine.spawn import Child, SpawnError
from airflow_provider_rocky._engine.streams import LineReader, OutputKeeper
from airflow_provider_rocky._engine.untrusted import one_line

#: Seconds processes the engine left behind get after its exit, between SIGTERM and SIGKILL.
LEFTOVER_GRACE_SECONDS = 1.0
#: Seconds ``end_now`` waits after SIGKILL: its caller is SIGKILLed itself soon after.
END_NOW_KILL_WAIT_SECONDS = 1.0
#: The engine's last stderr lines the interpreter always reads, whatever ``stderr_tail_lines`` shows:
#: its final ``Error:`` line with the ``Caused by`` chain (anyhow prints one line per cause) and the
#: lines just before it. At most 50 x 2,000 characters travel in a trigger event.
VERDICT_WINDOW_LINES = 50

#: Where rendered engine lines go (the task logger, the trigger logger, a test's list).
LineSink = Callable[[logs.LogLine], None]


@dataclass
class ProcessOutcome:
    """Everything the interpreter needs to decide what a run meant, whichever mode ran it."""

    exit_code: int | None
    stdout: bytes = b""
    #: The engine's last stderr lines: the verdict's window (:data:`VERDICT_WINDOW_LINES`, or more).
    stderr_tail: list[str] = field(default_factory=list)
    duration_ms: int = 0
    pid: int | None = None
    timed_out: bool = False
    killed: bool = False
    spawn_error: str | None = None
    #: What could not be started (``spawn.KINDS``: the binary, or the working directory; and
    #: ``engine_version``: an engine older than the floor); ``None`` for events written before.
    spawn_error_kind: str | None = None
    stdout_bytes: int = 0
    stdout_overflow: bool = False
    stderr_lines: int = 0
    run_id: str | None = None
    deadline_reason: str | None = None
    #: How many of ``stderr_tail``'s last lines an error shows (``stderr_tail_lines``); ``None``: all
    #: (events of earlier releases, whose tail was the shown one).
    stderr_shown: int | None = None

    @property
    def shown_tail(self) -> list[str]:
        """The last ``stderr_shown`` lines: what an error message and its ``stderr_tail`` show."""
        if self.stderr_shown is None:
            return list(self.stderr_tail)
        return list(self.stderr_tail[-self.stderr_shown :]) if self.stderr_shown > 0 else []


class ProcessRunner:
    """Run one :class:`RockyCommand` to completion, streaming stderr lines to ``on_line``."""

    def __init__(
        self,
        command: RockyCommand,
        *,
        on_line: LineSink,
        stderr_tail_lines: int = 20,
        max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES,
        deadline: float | None = None,
        deadline_reason: str | None = None,
        term_grace_seconds: float = DEFAULT_TERM_GRACE_SECONDS,
        max_line_chars: int = logs.DEFAULT_MAX_LINE_CHARS,
    ) -> None:
        self.command = command
        self.on_line = on_line
        self.max_stdout_bytes = max_stdout_bytes
        self.deadline = deadline
        self.deadline_reason = deadline_reason
        self.term_grace_seconds = term_grace_seconds
        self.max_line_chars = max_line_chars
        #: Raw lines (bytes): made safe to show once, in the outcome, not on every line.
        self._tail: deque[bytes] = deque(maxlen=max(stderr_tail_lines, VERDICT_WINDOW_LINES))
        self.stderr_shown = max(stderr_tail_lines, 0)
        self._stdout: OutputKeeper | None = None
        self._stderr: LineReader | None = None
        self._lines = 0
        self._run_id: str | None = None
        self._shown_run_id: str | None = None
        self._settled = False  # every process of the run is known to be gone
        self._proc: Child | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        #: The outcome, also set when the run ended by cancellation or an exception from outside.
        self.outcome: ProcessOutcome | None = None
        #: Called once the engine is spawned or could not be (:mod:`.admission`'s start slot).
        self.on_spawned: Callable[[], None] | None = None

    # -- control ----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the run to end (SIGTERM, grace, SIGKILL). Safe from signal handlers and other threads."""
        self._stop_requested = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def end_now(self, grace: float) -> None:
        """End every process of the run synchronously, from any thread: SIGTERM, ``grace`` s, SIGKILL.

        For a caller that may be killed itself right after: Airflow's task runner calls ``on_kill``
        from its SIGTERM handler (the loop is paused meanwhile) and its supervisor SIGKILLs the task
        process 5 s later, so a group left to the loop's own grace would outlive the task. A run
        still spawning is stopped by the loop, with the same shortened grace.
        """
        self.term_grace_seconds = min(self.term_grace_seconds, grace)
        self.request_stop()
        proc = self._proc
        if proc is None:
            return
        proc.processes.send(signal.SIGTERM)
        until = time.monotonic() + grace
        while proc.popen.poll() is None or proc.processes.alive():
            if time.monotonic() >= until:
                proc.processes.kill(END_NOW_KILL_WAIT_SECONDS)
                return
            time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        """The child's pid (also its process-group id), once spawned."""
        return self._proc.pid if self._proc is not None else None

    # -- the run ----------------------------------------------------------------------------------

    async def run(self) -> ProcessOutcome:
        """Spawn, stream, wait; end every process of the run whatever happens; return the outcome."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        started = time.monotonic()
        if self._stop_requested:
            self.outcome = ProcessOutcome(exit_code=None, killed=True)
            return self.outcome
        self._stdout = OutputKeeper(self.max_stdout_bytes)
        self._stderr = LineReader(self._emit, self.max_line_chars * 4)  # bytes kept of one line
        try:
            self._proc = await Child.spawn(self.command, self._stdout, self._stderr)
        except SpawnError as exc:
            self.outcome = ProcessOutcome(exit_code=None, spawn_error=str(exc), spawn_error_kind=exc.kind)
            return self.outcome
        finally:
            if self.on_spawned is not None:
                self.on_spawned()

        proc = self._proc
        readers = asyncio.gather(self._stderr.done, self._stdout.done)
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(self._stop.wait())
        timed_out = killed = False
        try:
            timeout = None if self.deadline is None else max(self.deadline - time.time(), 0.0)
            done, _ = await asyncio.wait({exited, stopped}, timeout=timeout, return_when="FIRST_COMPLETED")
            if exited not in done:
                timed_out, killed = (stopped not in done), (stopped in done)
                await self._end_group(proc, exited)
            await exited
            await self._end_leftovers(proc)
            await self._drain(readers)
        except BaseException:
            # Cancelled: the trigger was cancelled or moved, the triggerer is stopping, asyncio.run
            # was torn down by AirflowTaskTimeout... Every other task of the loop may be cancelled
            # too, so ending the group relies on none of them (not `exited`, not the readers).
            killed = True
            await self._abort(proc, exited, readers)
            raise
        finally:
            stopped.cancel()
            if not self._settled:  # last resort, never reached normally
                self._kill_sync(proc)
            proc.close()
            self.outcome = self._outcome(proc, started, timed_out=timed_out, killed=killed)
        return self.outcome

    def _outcome(self, proc: Child, started: float, *, timed_out: bool, killed: bool) -> ProcessOutcome:
        stdout = self._stdout
        assert stdout is not None
        return ProcessOutcome(
            exit_code=proc.returncode,
            stdout=stdout.value(),
            # Raw for the interpreter (JSON stays parseable) but without control characters: it
            # travels in events and errors.
            stderr_tail=[one_line(logs.cut(logs.decode(raw), 2000), markers=False) for raw in self._tail],
            duration_ms=int((time.monotonic() - started) * 1000),
            pid=proc.pid,
            timed_out=timed_out,
            # A stop asked for (on_kill, a cancelled trigger) is why the run ended, even when the process
            # was already gone by the time the loop looked (``end_now`` kills it from a signal handler).
            killed=(killed or self._stop_requested) and not timed_out,
            stdout_bytes=stdout.seen,
            stdout_overflow=stdout.overflow,
            stderr_lines=self._lines,
            run_id=self._run_id,
            deadline_reason=self.deadline_reason if timed_out else None,
            stderr_shown=self.stderr_shown,
        )

    # -- ending -----------------------------------------------------------------------------------

    async def _send(self, proc: Child, sig: int) -> bool:
        """Signal the group and every escaped process (a ``/proc`` scan, off the loop)."""
        return await asyncio.to_thread(proc.processes.send, sig)

    async def _gone_within(self, proc: Child, seconds: float) -> bool:
        """Poll (off the loop) until no process of the run is left, at most ``seconds``."""
        until = time.monotonic() + seconds
        while await asyncio.to_thread(proc.processes.alive):
            if time.monotonic() >= until:
                self._note(f"processes of the run alive after {seconds}s")
                return False
            await asyncio.sleep(0.05)
        return True

    def _kill_sync(self, proc: Child) -> None:
        """SIGKILL every process of the run, wait (bounded) until gone, reap the engine."""
        proc.processes.kill()
        proc.popen.poll()  # the engine is a zombie by now (or stuck in the kernel: left to Popen)
        self._settled = True

    async def _abort(self, proc: Child, exited: asyncio.Future[int], readers: asyncio.Future[Any]) -> None:
        """SIGTERM, ``term_grace_seconds`` polled on the pid, SIGKILL; a second cancel kills at once."""
        try:
            await self._send(proc, signal.SIGTERM)
            until = time.monotonic() + self.term_grace_seconds
            while proc.popen.poll() is None and time.monotonic() < until:
                await asyncio.sleep(0.05)
            await self._send(proc, signal.SIGKILL)
            await self._gone_within(proc, KILL_WAIT_SECONDS)  # if not, the tail says so
            proc.popen.poll()  # reaps the engine's zombie
            self._settled = True
        finally:
            if not self._settled:
                self._kill_sync(proc)
            for future in (exited, readers):
                future.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(exited, readers, return_exceptions=True)

    async def _end_group(self, proc: Child, exited: asyncio.Future[int]) -> None:
        """SIGTERM the group (and escapees), give rocky ``term_grace_seconds`` to finish, then SIGKILL."""
        await self._send(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(exited), self.term_grace_seconds)
        except TimeoutError:
            await self._send(proc, signal.SIGKILL)
            await exited

    async def _end_leftovers(self, proc: Child) -> None:
        """After the engine exited, end whatever it left (hooks, helpers, a ``setsid`` daemon)."""
        if await self._send(proc, signal.SIGTERM) and not await self._gone_within(
            proc, LEFTOVER_GRACE_SECONDS
        ):
            await self._send(proc, signal.SIGKILL)
            await self._gone_within(proc, KILL_WAIT_SECONDS)
        self._settled = True

    async def _drain(self, readers: asyncio.Future[Any]) -> None:
        """Wait for both pipes to reach EOF; a pipe held open by a stray process gets 5 s at most."""
        try:
            await asyncio.wait_for(asyncio.shield(readers), 5.0)
        except TimeoutError:
            for protocol in (self._stderr, self._stdout):
                if protocol is not None:
                    protocol.abandon()
            with contextlib.suppress(BaseException):
                await readers

    # -- lines ----------------------------------------------------------------------------------

    def _emit(self, raw: bytes) -> None:
        """Count, keep in the tail and log one line; nothing it does may stop the reader."""
        try:
            line = logs.render_raw(raw, self.max_line_chars)
            if line is None:  # a blank line
                return
            self._lines += 1
            self._tail.append(raw)
            if line.run_id is not None and line.run_id != self._shown_run_id:
                self._log_run_id(line.run_id)
            self.on_line(line)
        except Exception:  # a broken log sink (or a surprise) must not stop the reader
            self._note("a log handler failed on the previous line")

    def _note(self, text: str) -> None:
        """A line of the supervisor's own in the tail (where the engine's lines are)."""
        self._tail.append(f"[airflow-provider-rocky] {text}".encode())

    def _log_run_id(self, run_id: str | None) -> None:
        """Log the engine's run id once, before the first line that carries it (again if it changes)."""
        if run_id is None or run_id == self._shown_run_id:
            return
        self._shown_run_id = run_id
        if self._run_id is None:
            self._run_id = run_id
        self.on_line(logs.LogLine(logging.INFO, f"{logs.PREFIX}run id: {run_id}", run_id))
