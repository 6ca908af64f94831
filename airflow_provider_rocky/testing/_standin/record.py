"""``ROCKY_STANDIN_RECORD``: an append-only JSON-lines log of what each stand-in process did.

Each event is one ``write(2)`` on an ``O_APPEND`` descriptor, so lines from concurrent processes never
interleave. Tests read it with ``airflow_provider_rocky.testing.read_record``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_provider_rocky.testing._standin.tracing import write_fd


class Recorder:
    """Appends events to the record file; a no-op when recording is off."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def append(self, event: dict[str, Any]) -> None:
        """Append one event as a single JSON line."""
        if not self.path:
            return
        line = (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8", "surrogateescape")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_fd(fd, line)
        finally:
            os.close(fd)
