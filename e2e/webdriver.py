"""Headless Chromium driven through chromedriver's W3C WebDriver protocol (plain HTTP, via httpx).

Debian's ``chromium`` and ``chromium-driver`` (installed with apt-get when missing, as PostgreSQL is),
no Selenium: the few commands used here (new session, navigate, find, switch to a frame, run a script,
screenshot) are one HTTP request each. chromedriver listens on a free loopback port and is ended with
its whole process group, Chromium included, whatever happened. Chromium gets a fresh profile and the
flags that keep it off the network (``--disable-background-networking`` & co.).
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from system import E2EError, ensure_debian_packages, free_port, signal_group

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def ensure_browser() -> None:
    """Chromium and chromedriver from Debian, installed when missing (E2EError when they cannot be)."""
    try:
        ensure_debian_packages({"chromium": CHROMIUM, "chromium-driver": CHROMEDRIVER})
    except E2EError as err:
        raise E2EError(f"chromium / chromium-driver could not be installed: {err}") from err


class Browser:
    """One chromedriver process and one browser session; use as a context manager."""

    def __init__(self, env: Mapping[str, str], width: int = 1600, height: int = 1000) -> None:
        self.env = dict(env)
        self.size = (width, height)
        self.port = free_port()
        self.profile = Path(tempfile.mkdtemp(prefix="rocky-e2e-chromium-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=90.0)
        self.session: str | None = None

    def __enter__(self) -> Browser:
        ensure_browser()
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()
        width, height = self.size
        options = {
            "binary": CHROMIUM,
            "args": [*FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"],
        }
        created = self._call(
            "POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        )
        self.session = str(created["sessionId"])
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.session is not None:
                self.http.delete(f"/session/{self.session}")
        except httpx.HTTPError:
            pass
        finally:
            self.http.close()
            if self.proc is not None:
                signal_group(self.proc.pid, signal.SIGKILL, wait=5)  # chromedriver, Chromium and its helpers
                self.proc.wait(timeout=5)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.http.get("/status").json()["value"].get("ready"):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise E2EError(f"chromedriver not ready on port {self.port} within {timeout:.0f}s")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self.http.request(method, path, json=body)
        except httpx.HTTPError as err:
            raise E2EError(f"webdriver {method} {path}: {type(err).__name__}: {err}") from err
        value = response.json().get("value")
        if response.status_code >= 400:
            message = value.get("message", "") if isinstance(value, dict) else value
            raise E2EError(f"webdriver {method} {path}: HTTP {response.status_code}: {str(message)[:300]}")
        return value

    def _s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    # -- commands ---------------------------------------------------------------------------------

    def get(self, url: str) -> None:
        self._call("POST", self._s("/url"), {"url": url})

    def add_cookie(self, name: str, value: str) -> None:
        """A cookie for the current page's origin (navigate there first)."""
        self._call("POST", self._s("/cookie"), {"cookie": {"name": name, "value": value, "path": "/"}})

    def script(self, code: str, *args: Any) -> Any:
        """Run ``code`` (a function body; ``arguments[i]`` are ``args``) in the current frame."""
        return self._call("POST", self._s("/execute/sync"), {"script": code, "args": list(args)})

    def find(self, css: str) -> dict[str, str] | None:
        found = self._call("POST", self._s("/elements"), {"using": "css selector", "value": css})
        return found[0] if found else None

    def frame(self, element: dict[str, str] | None) -> None:
        """Switch into ``element`` (an iframe), or back to the top page with ``None``."""
        self._call("POST", self._s("/frame"), {"id": element})

    def wait(self, what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise E2EError(f"{what}: not seen within {timeout:.0f}s")
            time.sleep(interval)

    def screenshot(self, target: Path) -> tuple[int, int, int]:
        """The viewport as a PNG at ``target``: (width, height, bytes)."""
        data = base64.b64decode(self._call("GET", self._s("/screenshot")))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return width, height, len(data)
