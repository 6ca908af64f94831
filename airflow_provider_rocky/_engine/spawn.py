"""Spawning the engine without freezing the event loop that supervises it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_rocky._engine.command import RockyCommand

#: Threads that fork the engines: off the event loop, and not the loop's default executor, so a
#: spawn abandoned by a closing loop still completes and can be killed.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="rocky-spawn")


def _kill(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the engine's whole group (its session) and reap it; its pipes are closed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    popen.wait()
    for pipe in (popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()


def _kill_abandoned(started: concurrent.futures.Future[subprocess.Popen[bytes]]) -> None:
    if not started.cancelled() and started.exception() is None:
        _kill(started.result())


class Child:
    """The spawned engine: a ``Popen`` made off the event loop, its pipes attached to the loop.

    ``asyncio.create_subprocess_exec`` forks on the loop's thread; with a large parent (a triggerer)
    and many runs starting together that froze the loop for seconds (benchmarks/README.md). Exit is
    noticed through a pidfd (Linux >= 5.3) without a thread per child, else by polling.
    """

    def __init__(
        self, popen: subprocess.Popen[bytes], stdout: asyncio.StreamReader, stderr: asyncio.StreamReader
    ) -> None:
        self.popen = popen
        self.stdout = stdout
        self.stderr = stderr
        self.transports: list[asyncio.BaseTransport] = []

    @classmethod
    async def spawn(cls, command: RockyCommand) -> Child:
        """Start ``command`` in its own session; raises ``FileNotFoundError`` & co. like ``Popen``.

        Cancelled half-way (a trigger cancelled as it starts, Airflow's timeout alarm), the process
        the spawning thread still creates is killed, group and all, rather than left unsupervised.
        """
        started = _SPAWNER.submit(
            subprocess.Popen,
            list(command.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=command.cwd,
            env=command.child_env(),
            start_new_session=True,
        )
        try:
            popen = await asyncio.wrap_future(started)
        except BaseException:
            started.add_done_callback(_kill_abandoned)  # runs now, or in the spawning thread
            raise
        return await cls._attach(popen)

    @classmethod
    async def _attach(cls, popen: subprocess.Popen[bytes]) -> Child:
        """Attach both pipes to the loop; cancelled meanwhile, the process is killed, not orphaned."""
        loop = asyncio.get_running_loop()
        child = cls(popen, asyncio.StreamReader(loop=loop), asyncio.StreamReader(loop=loop))
        try:
            for reader, pipe in ((child.stdout, popen.stdout), (child.stderr, popen.stderr)):
                protocol = asyncio.StreamReaderProtocol(reader)

                def factory(
                    protocol: asyncio.StreamReaderProtocol = protocol,
                ) -> asyncio.StreamReaderProtocol:
                    return protocol

                transport, _ = await loop.connect_read_pipe(factory, pipe)
                child.transports.append(transport)
        except BaseException:
            child.close()
            _kill(popen)
            raise
        return child

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    async def wait(self) -> int:
        """Wait for exit without blocking the loop, then reap the child."""
        try:
            pidfd = os.pidfd_open(self.popen.pid)
        except (AttributeError, OSError):
            while self.popen.poll() is None:
                await asyncio.sleep(0.05)
            return self.popen.returncode
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def exited() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(pidfd, exited)
        try:
            if self.popen.poll() is None:
                await ready
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.popen.wait()

    def close(self) -> None:
        """Close the pipes now, not when a (possibly closed) loop collects them."""
        for transport in self.transports:
            transport.close()
