"""Spawning the engine without freezing the event loop that supervises it, and saying truthfully why not.

A spawn that fails says which of its inputs is wrong (:class:`SpawnError`, one of :data:`KINDS`): a
value no program can be given (a NUL byte: ``Popen``'s ``ValueError``) first, the working directory
(``project_dir``) next, in the spawning thread, so on the host that runs
the engine (a worker, or the triggerer in deferrable mode); then ``Popen``'s own error is classified.
Every spawn is registered with this process's reaper (:mod:`.reaper`), so the engine cannot outlive
this process even when it is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import functools
import os
import socket
import stat
import subprocess
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._engine import reaper
from airflow_provider_rocky._engine.command import unspawnable
from airflow_provider_rocky._engine.descendants import TOKEN_ENV, RunProcesses, new_token

if TYPE_CHECKING:
    from airflow_provider_rocky._engine.command import RockyCommand


def _new_spawner() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="rocky-spawn")


#: Threads that fork the engines: off the event loop, and not the loop's default executor, so a
#: spawn abandoned by a closing loop still completes and can be killed.
_SPAWNER = _new_spawner()


def _after_fork() -> None:
    """A forked child has none of the parent's spawn threads, but the pool counts them idle: the
    child's first spawn would wait forever (seen in tests/engine/test_reaper.py). A fresh pool."""
    global _SPAWNER
    _SPAWNER = _new_spawner()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

#: Spawn error kinds (``ProcessOutcome.spawn_error_kind``).
BINARY_MISSING = "binary_missing"
BINARY_NOT_EXECUTABLE = "binary_not_executable"
WORKING_DIR_MISSING = "working_dir_missing"
WORKING_DIR_UNUSABLE = "working_dir_unusable"
#: Anything else ``fork``/``exec`` refused (too many open files, no memory, argv too long).
OS_ERROR = "os_error"
#: A value no program can be given (a NUL byte, text the OS cannot encode): ``Popen``'s ``ValueError``.
UNSPAWNABLE = "unspawnable"
KINDS = frozenset(
    {BINARY_MISSING, BINARY_NOT_EXECUTABLE, WORKING_DIR_MISSING, WORKING_DIR_UNUSABLE, OS_ERROR, UNSPAWNABLE}
)
#: The kinds that are the working directory's fault, not the binary's.
WORKING_DIR_ERRORS = frozenset({WORKING_DIR_MISSING, WORKING_DIR_UNUSABLE})
#: The kinds that are the task's input's fault: a usage error, never retried.
USAGE_ERRORS = WORKING_DIR_ERRORS | {UNSPAWNABLE}


class SpawnError(Exception):
    """The engine could not be started; ``kind`` says which input is wrong, the message names it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _check_working_dir(cwd: str | None) -> None:
    """Refuse a ``project_dir`` that is missing or unusable here, naming it and this host."""
    if cwd is None:
        return
    where = f"the working directory (project_dir) {cwd!r} on host {socket.gethostname()!r}, where rocky runs,"
    fix = "create it there or set project_dir on the operator or the rocky connection"
    try:
        mode = os.stat(cwd).st_mode
    except FileNotFoundError:
        raise SpawnError(WORKING_DIR_MISSING, f"{where} does not exist: {fix}") from None
    except OSError as err:
        raise SpawnError(WORKING_DIR_UNUSABLE, f"{where} cannot be used ({err.strerror}): {fix}") from None
    if not stat.S_ISDIR(mode):
        raise SpawnError(WORKING_DIR_UNUSABLE, f"{where} is not a directory: {fix}")
    if not os.access(cwd, os.X_OK):
        raise SpawnError(
            WORKING_DIR_UNUSABLE, f"{where} cannot be entered by this user (permission denied): {fix}"
        )


def _classified(err: OSError, binary: str, cwd: str | None) -> SpawnError:
    """``Popen``'s error as a kind and a sentence that names the binary or the directory."""
    name = type(err).__name__
    if cwd is not None and err.filename == cwd:  # the directory went away after the check
        kind = WORKING_DIR_MISSING if isinstance(err, FileNotFoundError) else WORKING_DIR_UNUSABLE
        return SpawnError(kind, f"the working directory (project_dir) {cwd!r} cannot be entered ({name})")
    if isinstance(err, FileNotFoundError) and os.sep in binary and os.path.exists(binary):
        return SpawnError(
            BINARY_NOT_EXECUTABLE,
            f"{name}: {binary!r} exists, but the interpreter it names (#! line or ELF loader) does not",
        )
    if isinstance(err, FileNotFoundError | NotADirectoryError):
        where = "" if os.sep in binary else " on the engine's PATH"
        return SpawnError(BINARY_MISSING, f"{name}: {binary!r} not found{where}")
    if isinstance(err, PermissionError):
        return SpawnError(BINARY_NOT_EXECUTABLE, f"{name}: {binary!r} is not executable by this user")
    if err.errno == errno.ENOEXEC:
        return SpawnError(
            BINARY_NOT_EXECUTABLE, f"{name}: {binary!r} is not a program this machine can run (exec format)"
        )
    return SpawnError(OS_ERROR, f"{name}: {err.strerror or err}")


def _popen(command: RockyCommand, token: str) -> subprocess.Popen[bytes]:
    """Check the working directory, then start the engine in its own session (in a spawn thread).

    The spawn is announced to this process's reaper first and its pid right after (:mod:`.reaper`):
    from then on the engine cannot outlive this process, however this process dies.
    """
    problem = unspawnable(command.argv, command.env, command.cwd)
    if problem is not None:  # built elsewhere than build_command (a stored row, a manifest call)
        raise SpawnError(UNSPAWNABLE, f"{problem}: no program can be given it")
    _check_working_dir(command.cwd)
    reaper.spawning(token)
    try:
        popen = _start(command, token)
    except BaseException:
        reaper.ended(token)
        raise
    reaper.started(token, popen.pid)
    return popen


def _start(command: RockyCommand, token: str) -> subprocess.Popen[bytes]:
    argv = list(command.argv)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=command.cwd,
            env={**command.child_env(), TOKEN_ENV: token},
            start_new_session=True,
        )
    except OSError as err:
        raise _classified(err, argv[0] if argv else "", command.cwd) from err
    except ValueError as err:  # the checks above missed a value Popen cannot pass: still no crash
        raise SpawnError(UNSPAWNABLE, f"{type(err).__name__}: {err}") from err


def _kill(popen: subprocess.Popen[bytes], token: str) -> None:
    """SIGKILL the engine's whole group (its session) and whatever escaped it, reap it, close its pipes."""
    RunProcesses(popen.pid, token).kill()
    reaper.ended(token)
    popen.wait()
    for pipe in (popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()


def _same(protocol: asyncio.Protocol) -> asyncio.Protocol:
    """The protocol factory ``connect_read_pipe`` wants, for a protocol made beforehand."""
    return protocol


def _kill_abandoned(started: concurrent.futures.Future[subprocess.Popen[bytes]], token: str) -> None:
    if not started.cancelled() and started.exception() is None:
        _kill(started.result(), token)


class Child:
    """The spawned engine: a ``Popen`` made off the event loop, its pipes attached to the loop.

    ``asyncio.create_subprocess_exec`` forks on the loop's thread; with a large parent (a triggerer)
    and many runs starting together that froze the loop for seconds (benchmarks/README.md). Exit is
    noticed through a pidfd (Linux >= 5.3) without a thread per child, else by polling.
    """

    def __init__(self, popen: subprocess.Popen[bytes], token: str) -> None:
        self.popen = popen
        self.token = token
        self.transports: list[asyncio.BaseTransport] = []
        #: Every process of this run: the group and whatever left it (:mod:`.descendants`).
        self.processes = RunProcesses(popen.pid, token)

    @classmethod
    async def spawn(cls, command: RockyCommand, stdout: asyncio.Protocol, stderr: asyncio.Protocol) -> Child:
        """Start ``command`` in its own session, marked with a fresh run token; raises :class:`SpawnError`.

        ``stdout`` and ``stderr`` are the protocols the two pipes are attached to (:mod:`.streams`).

        Cancelled half-way (a trigger cancelled as it starts, Airflow's timeout alarm), the process
        the spawning thread still creates is killed, group and all, rather than left unsupervised.
        """
        token = new_token()
        started = _SPAWNER.submit(_popen, command, token)
        try:
            popen = await asyncio.wrap_future(started)
        except BaseException:
            started.add_done_callback(lambda done: _kill_abandoned(done, token))  # now, or in the thread
            raise
        return await cls._attach(popen, token, ((stdout, popen.stdout), (stderr, popen.stderr)))

    @classmethod
    async def _attach(
        cls, popen: subprocess.Popen[bytes], token: str, pipes: tuple[tuple[asyncio.Protocol, Any], ...]
    ) -> Child:
        """Attach both pipes to the loop; cancelled meanwhile, the process is killed, not orphaned."""
        loop = asyncio.get_running_loop()
        child = cls(popen, token)
        try:
            for protocol, pipe in pipes:
                transport, _ = await loop.connect_read_pipe(functools.partial(_same, protocol), pipe)
                child.transports.append(transport)
        except BaseException:
            _kill(popen, token)
            child.close()
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
        """Close the pipes now, not when a (possibly closed) loop collects them; unregister the run.

        Called once every process of the run is gone (the supervisor's ``finally``).
        """
        for transport in self.transports:
            transport.close()
        reaper.ended(self.token)
