"""Dagster Pipes messages exactly as ``rocky-cli/src/pipes.rs`` writes them (contract §5).

Detection needs ``DAGSTER_PIPES_CONTEXT`` set (never decoded) and ``DAGSTER_PIPES_MESSAGES`` holding
base64 (standard alphabet, *no* zlib) JSON ``{"path": ...}`` or ``{"stdio": "stderr"}``. Anything else
logs a WARN and the run continues without Pipes. Like ``run.rs::emit_pipes_events``, the whole batch
(start log, materializations, checks, drift, completion) is written once at the end of a run that
printed its JSON, right before stdout; an interrupted run or an early error writes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_rocky.testing._standin.tracing import StderrLog, write_fd

PIPES_VERSION = "0.1"


class PipesWriter:
    """One Pipes channel; every message is one JSON line written (and flushed) on its own."""

    def __init__(self, *, path: str | None) -> None:
        self.path = path

    @classmethod
    def detect(cls, env: Mapping[str, str], log: StderrLog) -> PipesWriter | None:
        """The writer the environment asks for, or None (with a WARN when the request is unusable)."""
        if "DAGSTER_PIPES_CONTEXT" not in env:
            return None
        raw = env.get("DAGSTER_PIPES_MESSAGES")
        if raw is None:
            log.event(
                "WARN",
                "DAGSTER_PIPES_CONTEXT is set but DAGSTER_PIPES_MESSAGES is not; Pipes disabled",
                target="rocky::pipes",
            )
            return None
        try:
            params = json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
        except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
            log.event(
                "WARN",
                "failed to decode DAGSTER_PIPES_MESSAGES (expected base64-encoded JSON); Pipes disabled",
                target="rocky::pipes",
                error=str(exc),
            )
            return None
        if isinstance(params, dict) and isinstance(params.get("path"), str):
            return cls(path=params["path"])
        if isinstance(params, dict) and params.get("stdio") == "stderr":
            return cls(path=None)
        log.event(
            "WARN",
            'unsupported Pipes message channel (only {"path": ...} and {"stdio": "stderr"}); Pipes disabled',
            target="rocky::pipes",
            params=json.dumps(params, separators=(",", ":")),
        )
        return None

    def send(self, method: str, params: dict[str, Any] | None) -> None:
        """Write one ``{"__dagster_pipes_version", "method", "params"}`` line."""
        line = json.dumps(
            {"__dagster_pipes_version": PIPES_VERSION, "method": method, "params": params},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        data = (line + "\n").encode("utf-8")
        if self.path is None:
            write_fd(2, data)
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_fd(fd, data)
        finally:
            os.close(fd)

    def log(self, message: str, level: str = "INFO") -> None:
        """A ``log`` message."""
        self.send("log", {"message": message, "level": level})

    def emit_results(self, output: dict[str, Any], *, pipeline_type: str) -> None:
        """The end-of-run batch: materializations, checks, drift, then the completion log / ``closed``."""
        for mat in output["materializations"]:
            meta = mat["metadata"]
            metadata: dict[str, Any] = {"strategy": meta["strategy"], "duration_ms": mat["duration_ms"]}
            for key in ("rows_copied",):
                if mat.get(key) is not None:
                    metadata[key] = mat[key]
            for key in ("target_table_full_name", "sql_hash", "watermark"):
                if meta.get(key) is not None:
                    metadata[key] = meta[key]
            if mat.get("partition"):
                metadata["partition_key"] = mat["partition"]["key"]
            self.send(
                "report_asset_materialization",
                {"asset_key": "/".join(mat["asset_key"]), "metadata": metadata, "data_version": None},
            )
        for table in output["check_results"]:
            for check in table["checks"]:
                self.send(
                    "report_asset_check",
                    {
                        "asset_key": "/".join(table["asset_key"]),
                        "check_name": re.sub(r"[^A-Za-z0-9_]", "_", check["name"]),
                        "passed": check["passed"],
                        "severity": "ERROR",
                        "metadata": check,
                    },
                )
        for action in output["drift"]["actions_taken"]:
            self.send(
                "report_asset_check",
                {
                    "asset_key": action["table"],
                    "check_name": "drift",
                    "passed": True,
                    "severity": "WARN",
                    "metadata": dict(action),
                },
            )
            self.log(f"rocky drift on {action['table']}: {action['action']} ({action['reason']})", "WARN")
        if pipeline_type == "replication":
            self.log(
                f"rocky run complete: {output['tables_copied']} copied, {output['tables_failed']} failed "
                f"in {output['duration_ms']}ms"
            )
            self.send("closed", None)
        elif pipeline_type == "transformation":
            self.log(
                f"rocky run complete: {len(output['materializations'])} models executed "
                f"in {output['duration_ms']}ms"
            )


def start_message(pipeline_type: str) -> str:
    """The first ``log`` line of a run, per pipeline type."""
    if pipeline_type == "replication":
        return "rocky run starting"
    return f"rocky run starting ({pipeline_type} pipeline)"
