"""The engine's hard failure: an ``anyhow`` error returned from ``main`` (contract §3.1, exit 1)."""

from __future__ import annotations

from collections.abc import Sequence


class CommandError(Exception):
    """``Error: <msg>`` (plus an optional ``Caused by:`` chain) on stderr, nothing on stdout, exit 1."""

    def __init__(self, message: str, causes: Sequence[str] = (), *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.causes = tuple(causes)
        self.exit_code = exit_code

    def render(self) -> str:
        """Rust's ``Termination`` rendering of an ``anyhow::Error`` chain."""
        text = f"Error: {self.message}"
        if self.causes:
            text += "\n\nCaused by:\n" + "\n".join(f"    {i}: {cause}" for i, cause in enumerate(self.causes))
        return text
