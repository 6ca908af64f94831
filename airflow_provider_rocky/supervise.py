"""One engine run with its optional Pipes side channel, the same in the worker and the triggerer.

With ``pipes=True`` the child gets ``DAGSTER_PIPES_CONTEXT``/``DAGSTER_PIPES_MESSAGES`` pointing at a
private file on the host that runs it; the file is tailed while the process runs. ``log`` messages go
to the task log at their level as they arrive; ``report_asset_check`` and
``report_asset_materialization`` are kept (a :class:`PipesRecord`) for the run summary and the asset
events; a malformed line, an unknown method or a wrong protocol version is a warning, never a crash.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_rocky.logs import LogLine, cut
from airflow_provider_rocky.pipes import (
    CheckReport,
    MaterializationReport,
    PipesChannel,
    PipesMessage,
    PipesProblem,
    check_report,
    log_record,
    materialization_report,
)
from airflow_provider_rocky.pipes_tail import tail
from airflow_provider_rocky.process import LineSink, ProcessOutcome, ProcessRunner, RockyCommand

PREFIX = "rocky pipes: "
_KEPT = ("report_asset_check", "report_asset_materialization")


@dataclass
class PipesRecord:
    """The structured Pipes messages of one run (``log`` messages were already logged live)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    problems: int = 0

    def pack(self) -> str:
        """Compact form for a TriggerEvent: zlib-compressed, base64-encoded JSON."""
        raw = json.dumps({"messages": self.messages, "problems": self.problems}).encode()
        return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")

    @classmethod
    def unpack(cls, packed: str) -> PipesRecord:
        """Inverse of :meth:`pack`."""
        data = json.loads(zlib.decompress(base64.b64decode(packed)))
        return cls(messages=list(data["messages"]), problems=int(data["problems"]))

    def checks(self) -> list[CheckReport]:
        """Every ``report_asset_check`` (rocky's check results and drift actions)."""
        return [check_report(_message(m)) for m in self.messages if m["method"] == "report_asset_check"]

    def materializations(self) -> list[MaterializationReport]:
        """Every ``report_asset_materialization``, to merge with the stdout materializations."""
        return [
            materialization_report(_message(m))
            for m in self.messages
            if m["method"] == "report_asset_materialization"
        ]


def _message(data: dict[str, Any]) -> PipesMessage:
    return PipesMessage(method=data["method"], params=data["params"])


def attach_pipes(command: RockyCommand, directory: str | None = None) -> tuple[RockyCommand, PipesChannel]:
    """A channel on this host and the command with its two variables set for the child only."""
    channel = PipesChannel(directory)
    return replace(command, env={**command.env, **channel.env()}), channel


async def run(
    runner: ProcessRunner, channel: PipesChannel | None, on_line: LineSink
) -> tuple[ProcessOutcome, PipesRecord | None]:
    """Run the process; with a channel, tail it concurrently and collect what it reported."""
    if channel is None:
        return await runner.run(), None
    record = PipesRecord()

    def on_message(message: PipesMessage | PipesProblem) -> None:
        if isinstance(message, PipesProblem):
            record.problems += 1
            on_line(LogLine(logging.WARNING, cut(f"{PREFIX}ignored a message: {message.reason}")))
        elif message.method == "log":
            level, text = log_record(message)
            on_line(LogLine(level, cut(PREFIX + text)))
        elif message.method in _KEPT:
            record.messages.append({"method": message.method, "params": message.params})
            if message.method == "report_asset_check":
                check = check_report(message)
                verdict = "passed" if check.passed else "FAILED"
                level = logging.INFO if check.passed else logging.WARNING
                on_line(LogLine(level, f"{PREFIX}check {check.check_name} on {check.asset_key}: {verdict}"))

    stop = asyncio.Event()
    tailer = asyncio.ensure_future(tail(channel.path, on_message, stop))
    try:
        outcome = await runner.run()
        stop.set()
        try:
            await asyncio.wait_for(tailer, 10.0)
        except TimeoutError:
            on_line(LogLine(logging.WARNING, f"{PREFIX}the messages file was still growing; stopped reading"))
        return outcome, record
    finally:
        stop.set()
        if not tailer.done():
            tailer.cancel()
            with contextlib.suppress(BaseException):
                await tailer
        try:
            await asyncio.to_thread(channel.close)
        except BaseException:  # cancelled again meanwhile: the file must still go
            channel.close()
            raise
