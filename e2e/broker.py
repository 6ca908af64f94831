"""The Celery broker for `make e2e-distributed`: Debian's redis-server on a private loopback port.

Never the system service: a ``redis-server`` process of our own, in its own session (a
:class:`system.Service`), configured entirely on its command line (no config file, no persistence,
its working directory under the run's temp dir), stopped with the other services.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from system import E2EError, Service, free_port

REDIS_SERVER = "/usr/bin/redis-server"


class Redis:
    """``redis-server --port <free> --bind 127.0.0.1`` under ``base/redis``; ``url`` for Celery."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.dir = base / "redis"
        self.port = free_port()
        self.service = Service(
            "redis",
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"),
            ],
            env,
            base / "logs" / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until it answers PING."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.service.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pong():
                return
            if not self.service.running():
                break
            time.sleep(0.1)
        raise E2EError(f"redis-server did not answer PING on port {self.port}:\n{self.service.describe()}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> bool:
        return self.service.stop(grace=10)
