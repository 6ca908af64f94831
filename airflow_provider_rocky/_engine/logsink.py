"""Engine lines into a logger: one record per line, at the line's level, for the least cost per call.

A verbose run logs tens of thousands of lines, and each ``log.log(level, text)`` on a task's logger
first resolves ``log`` (a structlog lazy proxy, looked up again on every call) and then maps the level
number to a method name. :func:`log_sink` does both once per run: it binds the logger and keeps
its ``info``/``warning``/... methods by level (about 2.5 µs of the ~27 µs a record costs,
benchmarks/README.md). Every line is still its own record with its own timestamp.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_rocky._engine.process import LineSink
from airflow_provider_rocky._engine.stderr import LogLine

_METHODS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


def log_sink(log: Any) -> LineSink:
    """A sink logging each line on ``log`` at its level.

    ``log`` is a structlog logger (Airflow's task and trigger loggers) or a ``logging.Logger``;
    a level with no method of its own (a custom number) goes through ``log.log``.
    """
    bound = log.bind() if callable(getattr(log, "bind", None)) else log
    by_level = {level: getattr(bound, name) for level, name in _METHODS.items()}

    def sink(line: LogLine) -> None:
        method = by_level.get(line.level)
        if method is not None:
            method(line.text)
        else:
            bound.log(line.level, line.text)

    return sink
