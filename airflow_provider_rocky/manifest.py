"""``rocky-airflow-manifest`` (``python -m airflow_provider_rocky.manifest``): write or check the manifest.

A ``RockyTaskGroup`` reads a saved ``rocky dag --output json`` at DAG parse time and never runs the
engine there. This command writes that file (at deploy or CI time, or after editing models): it runs
``rocky dag`` with a timeout, checks the output is a manifest the group can render, and only then
replaces the file (atomically), so a failing engine never leaves a broken manifest behind.
``--check`` writes nothing and exits 1 when the saved file differs from what the engine prints now
(for CI: "the committed manifest is stale"). The file is written with the mode any new file of the
user gets (0644 under the usual umask 022): the DAG processor may run as another user.

Where the engine runs comes from the flags, or from a ``rocky`` connection (``--conn-id``: its
binary, project directory, config and secret ``env``; this needs the Airflow environment, which is
fine here: this is not parse time).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from airflow_provider_rocky._engine.spawn import BINARY_MISSING
from airflow_provider_rocky._project.engine import (
    DEFAULT_TIMEOUT_SECONDS,
    EngineManifest,
    EngineManifestError,
    ask_engine,
    write_manifest,
)
from airflow_provider_rocky._project.graph import build_graph
from airflow_provider_rocky._project.manifest import ManifestError, load_manifest, parse_manifest
from airflow_provider_rocky.exceptions import RockyError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rocky-airflow-manifest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", "-o", required=True, help="the manifest file RockyTaskGroup reads")
    parser.add_argument("--project-dir", help="the Rocky project (rocky.toml, models/); default: cwd")
    parser.add_argument("--binary-path", help="the rocky binary (default: rocky on PATH)")
    parser.add_argument("--config-path", help="--config (default rocky.toml)")
    parser.add_argument("--models-dir", help="--models for `rocky dag` (default: the engine's own)")
    parser.add_argument("--conn-id", help="take binary, project, config and env from this rocky connection")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds (default 60)")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output differs from the engine's")
    return parser


def _engine(args: argparse.Namespace) -> EngineManifest:
    values: dict[str, object] = {}
    if args.conn_id:
        from airflow_provider_rocky.hooks.rocky import RockyHook

        settings = RockyHook(args.conn_id).get_settings()
        values = {
            "binary_path": settings.binary_path,
            "project_dir": settings.project_dir or os.getcwd(),
            "config_path": settings.config_path,
            "env": dict(settings.env),
        }
    for key in ("binary_path", "project_dir", "config_path", "models_dir"):
        if getattr(args, key):
            values[key] = getattr(args, key)
    values.setdefault("project_dir", os.getcwd())
    return EngineManifest(timeout_seconds=args.timeout, **values)  # type: ignore[arg-type]


def _summary(path: str) -> str:
    manifest = load_manifest(path)
    graph = build_graph(manifest)
    return f"{path}: {len(manifest.nodes)} nodes, {len(graph.tasks)} tasks (engine {manifest.engine_version})"


def _check(engine: EngineManifest, output: str) -> int:
    fresh = parse_manifest(ask_engine(engine), output)
    try:
        saved = load_manifest(output)
    except ManifestError as err:
        print(f"stale: {err}", file=sys.stderr)
        return 1
    if (saved.nodes, saved.edges) != (fresh.nodes, fresh.edges):
        print(f"stale: {output} differs from what `rocky dag` prints now; rewrite it", file=sys.stderr)
        return 1
    print(f"up to date: {_summary(output)}")
    return 0


def _hint(err: Exception, args: argparse.Namespace) -> str:
    """What to do when the binary was not found: name the flags that say where it is."""
    if getattr(err, "kind", None) != BINARY_MISSING:
        return ""
    given = f" ({args.binary_path!r} was given)" if args.binary_path else ""
    return (
        f". Pass --binary-path /path/to/rocky{given}, or --conn-id with a rocky connection whose "
        "binary_path is set; to try it without the engine: --binary-path rocky-standin"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 written or up to date, 1 stale, 2 failed)."""
    args = _parser().parse_args(argv)
    try:
        engine = _engine(args)  # a connection that cannot be read fails here: 2, never 1 ("stale")
        if args.check:
            return _check(engine, args.output)
        write_manifest(engine, args.output)
        build_graph(load_manifest(args.output))  # the group would render it: prove it now
    except (EngineManifestError, ManifestError, RockyError) as err:
        print(f"rocky-airflow-manifest: {err}{_hint(err, args)}", file=sys.stderr)
        return 2
    print(f"wrote {_summary(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
