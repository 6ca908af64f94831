"""Defaults the task face and the supervisor share, in a module that imports nothing.

An operator's ``__init__`` takes them as argument defaults at DAG parse time; the supervisor
(``process.py``) and the hook use the same values when the task runs.
"""

from __future__ import annotations

#: stdout beyond this many bytes is counted, not kept (a 10,000-table RunResult is about 9 MB).
DEFAULT_MAX_STDOUT_BYTES = 128 * 1024 * 1024
#: Seconds between SIGTERM and SIGKILL: long enough for rocky to flush watermarks and print its JSON.
DEFAULT_TERM_GRACE_SECONDS = 15.0
#: The ``rocky`` connection a task uses unless told otherwise (``RockyHook.default_conn_name``); it
#: may be left undefined.
DEFAULT_CONN_ID = "rocky_default"
