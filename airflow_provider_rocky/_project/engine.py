"""``rocky dag --output json``: run it, check it, save it; and the opt-in cached call for local work.

Two users:

* the manifest command (``rocky-airflow-manifest``, ``python -m airflow_provider_rocky.manifest``),
  run at deploy or CI time, never at DAG parse time;
* :class:`EngineManifest` given to a group as ``manifest=`` (opt-in, for local development): the
  group then asks the engine itself, with a timeout, but only when the project changed. The answer
  is cached in a file whose sidecar (``<file>.fingerprint``) records what it was made from: the
  command line, the binary (real path, size, mtime) and every file of the project the graph comes
  from (``rocky.toml`` and everything under ``models/``, ``seeds/``, ``snapshots/``,
  ``contracts/``: relative path, size, mtime). A parse that finds the same fingerprint reads the
  file and spawns nothing; editing a model, adding one or replacing the binary invalidates it. A
  failed or timed-out refresh keeps the previous file (with a warning) when there is one.

The run goes through the provider's supervisor (own process group, SIGTERM then SIGKILL at the
deadline, nothing left behind); argv is a list, the project's secrets stay in the child's env.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_rocky._engine.command import RockyCommand
from airflow_provider_rocky._engine.process import ProcessRunner
from airflow_provider_rocky._project.manifest import Manifest, ManifestError, load_manifest, parse_manifest

log = logging.getLogger(__name__)

#: Folders of a project whose files the graph is made from (besides the config file).
PROJECT_FOLDERS = ("models", "seeds", "snapshots", "contracts")
#: ``rocky-airflow-manifest``'s default, and the parse-time one when Airflow sets no import timeout.
DEFAULT_TIMEOUT_SECONDS = 60.0
#: The engine's share of ``[core] dagbag_import_timeout`` at DAG parse time: the other half is for
#: reading its answer and building the tasks (a 10,000-node project: benchmarks/bench_manifest.py).
IMPORT_TIMEOUT_SHARE = 0.5


class EngineManifestError(RuntimeError):
    """``rocky dag`` could not give a manifest (missing binary, failure, timeout, not a DAG).

    ``kind``: why the engine did not start (``_engine.spawn.KINDS``), ``None`` when it ran.
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class EngineManifest:
    """How to ask the engine for the project's graph (``rocky --config C --output json dag``).

    :param cache_path: where the answer is kept (default: ``<project_dir>/.rocky/airflow-dag.json``).
    :param timeout_seconds: how long ``rocky dag`` may take; at DAG parse time never more than
        :data:`IMPORT_TIMEOUT_SHARE` of ``[core] dagbag_import_timeout`` (the default: that share).
    """

    project_dir: str
    binary_path: str = "rocky"
    config_path: str = "rocky.toml"
    models_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None
    cache_path: str | None = None

    def command(self) -> RockyCommand:
        """The ``rocky dag`` command line (a list; ``--models`` only when given)."""
        argv = [self.binary_path, "--config", self.config_path, "--output", "json", "dag"]
        if self.models_dir:
            argv += ["--models", self.models_dir]
        return RockyCommand(argv=tuple(argv), env=dict(self.env), cwd=self.project_dir)

    @property
    def cache_file(self) -> str:
        """The cached manifest's path."""
        return self.cache_path or os.path.join(self.project_dir, ".rocky", "airflow-dag.json")


def _import_timeout() -> float | None:
    """``[core] dagbag_import_timeout`` in seconds; ``None`` when disabled (0) or Airflow is absent."""
    try:
        from airflow.configuration import conf
    except ImportError:  # the manifest command may run where Airflow is not configured
        return None
    value = conf.getfloat("core", "dagbag_import_timeout", fallback=30.0)
    return value if value > 0 else None


def parse_time_budget(given: float | None) -> float:
    """Seconds ``rocky dag`` may take while a DAG file is imported: below Airflow's import timeout."""
    limit = _import_timeout()
    if limit is None:
        return given if given is not None else DEFAULT_TIMEOUT_SECONDS
    cap = limit * IMPORT_TIMEOUT_SHARE
    if given is not None and given > cap:
        log.warning(
            "Rocky: EngineManifest timeout_seconds=%g exceeds half of [core] dagbag_import_timeout=%g: "
            "using %g s, so a hanging engine leaves the import time to keep the previous manifest",
            given,
            limit,
            cap,
        )
    return cap if given is None else min(given, cap)


def ask_engine(engine: EngineManifest, timeout: float | None = None) -> bytes:
    """Run ``rocky dag`` to the end (or ``timeout``, default the engine's) and return its stdout."""
    command = engine.command()
    lines: list[str] = []
    seconds = timeout if timeout is not None else engine.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
    runner = ProcessRunner(
        command, on_line=lambda line: lines.append(line.text), deadline=time.time() + seconds
    )
    outcome = asyncio.run(runner.run())
    shown = " ".join(command.argv)
    tail = "; ".join(outcome.stderr_tail[-5:]) or "no stderr"
    if outcome.spawn_error is not None:
        problem = f"`{shown}` could not start: {outcome.spawn_error}"
        raise EngineManifestError(problem, outcome.spawn_error_kind)
    if outcome.timed_out:
        raise EngineManifestError(f"`{shown}` took longer than {seconds:g}s ({tail})")
    if outcome.exit_code != 0:
        raise EngineManifestError(f"`{shown}` exited {outcome.exit_code} ({tail})")
    return outcome.stdout


def write_manifest(engine: EngineManifest, output: str, timeout: float | None = None) -> Manifest:
    """Ask the engine, check the answer, and replace ``output`` atomically only if it is a manifest."""
    stdout = ask_engine(engine, timeout)
    try:
        manifest = parse_manifest(stdout, output)
    except ManifestError as err:
        raise EngineManifestError(f"`rocky dag` printed no usable manifest: {err.problem}") from None
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; the DAG processor may run as another user
    with os.fdopen(fd, "wb") as handle:
        handle.write(stdout if stdout.endswith(b"\n") else stdout + b"\n")
    os.replace(tmp, target)
    return manifest


def _umask() -> int:
    """This process's umask, read without changing it (``os.umask`` sets it process-wide): 022 if unknown."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def fingerprint(engine: EngineManifest) -> str:
    """What the manifest is made from: argv, the binary's identity, the project's files (stat only)."""
    parts: list[object] = [list(engine.command().argv)]
    found = shutil.which(engine.binary_path)
    if found is not None:
        real = os.path.realpath(found)
        with contextlib.suppress(OSError):
            stat = os.stat(real)
            parts.append([real, stat.st_size, stat.st_mtime_ns])
    root = Path(engine.project_dir)
    candidates = [root / engine.config_path]
    for folder in (*PROJECT_FOLDERS, *([engine.models_dir] if engine.models_dir else [])):
        candidates.extend(sorted((root / folder).rglob("*")) if (root / folder).is_dir() else [])
    for path in candidates:
        with contextlib.suppress(OSError):
            stat = path.stat()
            if path.is_file():
                parts.append([str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def cached_manifest(engine: EngineManifest) -> Manifest:
    """The project's manifest, asking the engine only when its fingerprint changed."""
    path = engine.cache_file
    stamp_file = Path(path + ".fingerprint")
    now = fingerprint(engine)
    with contextlib.suppress(OSError):
        if stamp_file.read_text().strip() == now and os.path.exists(path):
            return load_manifest(path)
    try:
        manifest = write_manifest(engine, path, parse_time_budget(engine.timeout_seconds))
    except EngineManifestError as err:
        if os.path.exists(path):
            log.warning("Rocky: %s; using the previous manifest %s", err, path)
            return load_manifest(path)
        raise ManifestError(path, str(err)) from None
    with contextlib.suppress(OSError):
        stamp_file.write_text(now + "\n")
    return manifest
