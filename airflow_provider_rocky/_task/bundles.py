"""Deferrable runs and versioned DAG bundles: a project inside a bundle checkout cannot go to a triggerer.

Airflow 3 runs a task from a checkout of its DAG bundle at the DAG run's version: the worker's task
runner prepares it (``DagBundlesManager().get_bundle(name, version).initialize()``) under
``[dag_processor] dag_bundle_storage_path`` (``<root>/<bundle>/versions/<version>`` for a versioned
bundle such as ``GitDagBundle``, ``<root>/<bundle>/tracking_repo`` without a version), and the
dag-processor parses from its own. A triggerer prepares none (``triggerer_job_runner.py`` never
touches bundles: it runs serialized triggers), and a worker's checkout is its own and is removed with
stale versions. So a ``project_dir`` inside a bundle checkout exists where the task runs and is
missing, or a different version, where a deferred engine would run.

Choice: refuse, before deferring (and, for ``start_from_trigger``, in the triggerer before spawning),
with a usage error naming the bundle and the fix, rather than have the triggerer clone the bundle: a
clone per deferral (credentials on every triggerer, a git checkout off the event loop, a version kept
alive for as long as the engine runs) is the worker's job, and a sync run does it already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_rocky.exceptions import RockyUsageError

FIX = (
    "put the Rocky project where every worker and triggerer has it (in their images or on a shared "
    "volume) and point project_dir (or the connection's) there, or run this task with deferrable=False "
    "(the worker that holds the checkout runs the engine)"
)


def _storage_root() -> Path | None:
    try:
        from airflow.dag_processing.bundles.base import get_bundle_storage_root_path
    except ImportError:  # not an Airflow with bundles: nothing to refuse
        return None
    return Path(get_bundle_storage_root_path())  # type: ignore[no-untyped-call]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def refusal(project_dir: str | None, ti: Any = None) -> RockyUsageError | None:
    """The usage error for a deferred ``project_dir`` inside a DAG bundle checkout, else ``None``.

    ``ti``: the worker's task instance (its ``bundle_instance`` names the bundle and version); the
    triggerer of ``start_from_trigger`` has none, and the bundle storage root decides alone.
    """
    where = Path(project_dir or ".").absolute()
    bundle = getattr(ti, "bundle_instance", None)
    if bundle is not None and getattr(bundle, "supports_versioning", False):
        checkout = Path(str(bundle.path)).absolute()
        if _inside(where, checkout) or _inside(where.resolve(), checkout.resolve()):
            return _error(where, str(bundle.name), getattr(bundle, "version", None))
    root = _storage_root()
    if root is None:
        return None
    for candidate in (where, where.resolve()):
        for base in (root.absolute(), root.resolve()):
            if _inside(candidate, base) and candidate != base:
                name = candidate.relative_to(base).parts[0]
                version = _version_of(candidate.relative_to(base).parts)
                return _error(where, name, version)
    return None


def _version_of(parts: tuple[str, ...]) -> str | None:
    """``<bundle>/versions/<version>/...`` names a version; the tracking checkout does not."""
    return parts[2] if len(parts) > 2 and parts[1] == "versions" else None


def _error(where: Path, bundle: str, version: str | None) -> RockyUsageError:
    at = f" at version {version}" if version else ""
    return RockyUsageError(
        f"project_dir '{where}' is inside DAG bundle '{bundle}'{at}, a checkout that only the task's "
        f"worker has: a triggerer prepares no DAG bundle, so a deferred engine would not find this "
        f"project there; {FIX}"
    )
