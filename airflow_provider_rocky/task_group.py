"""``RockyTaskGroup`` / ``RockyDAG``: a Rocky project as Airflow tasks, its tables declared at parse time.

Built from a saved ``rocky dag --output json`` (the manifest): one ``RockyOperator`` per node that
materializes something, wired as the engine's graph says, each declaring its table as an Asset outlet
(the Asset ``rocky_asset`` gives), so the grid, the graph and the Assets page show the project
before its first run. Parse time stays free: the group reads the manifest file and nothing else (an
:class:`~airflow_provider_rocky._project.engine.EngineManifest` opts into asking the engine, cached).
docs/task-group.md has the mapping, the choices and the measurements.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, TaskGroup

from airflow_provider_rocky._project import build
from airflow_provider_rocky._project.engine import EngineManifest
from airflow_provider_rocky._project.graph import build_graph
from airflow_provider_rocky._project.manifest import Manifest, ManifestError, load_manifest

if TYPE_CHECKING:
    from airflow_provider_rocky.operators.base import RockyBaseOperator

__all__ = ["EngineManifest", "ManifestError", "RockyDAG", "RockyTaskGroup"]

ManifestSource = str | os.PathLike[str] | EngineManifest


def _manifest(source: ManifestSource, dag: Any) -> Manifest:
    """Read the manifest; a relative path is relative to the DAG file's folder.

    The DAG processor's working directory is not the DAG file's, so a path relative to it would
    depend on how Airflow was started; the folder of ``dag.fileloc`` (where the DAG was defined) is
    what a DAG author means by ``manifest="rocky_dag.json"``.
    """
    if isinstance(source, EngineManifest):
        from airflow_provider_rocky._project.engine import cached_manifest

        return cached_manifest(source)
    path = os.fspath(source)
    fileloc = getattr(dag, "fileloc", None)
    if not os.path.isabs(path) and fileloc:
        path = os.path.join(os.path.dirname(os.path.abspath(fileloc)), path)
    return load_manifest(path)


class _Project:
    """What both faces share: read the manifest, build the graph, render the tasks."""

    def _render_project(
        self,
        manifest: ManifestSource,
        *,
        operator_args: Mapping[str, Any] | None,
        select: Sequence[str],
        exclude: Sequence[str],
        placement: Mapping[str, Any],
        **choices: Any,
    ) -> None:
        options = build.Options(operator_args=dict(operator_args or {}), **choices).checked()
        if options.shape == "one_run" and (select or exclude or options.node_args):
            raise ValueError(
                "shape='one_run' runs the whole project: select, exclude and node_args need shape='nodes'"
            )
        if options.shape == "watch":  # imported here: the other shapes do not pay for it at parse time
            from airflow_provider_rocky._watch import render as watch

            watch.check(options, select, exclude)
        self.manifest = _manifest(manifest, placement["dag"])
        self.project_graph = build_graph(self.manifest, select, exclude)
        if options.shape == "watch":
            rendered = watch.render_watch(self.manifest, self.project_graph, options, **placement)
        else:
            rendered = list(build.render(self.manifest, self.project_graph, options, **placement))
        self.rocky_tasks: list[RockyBaseOperator] = list(rendered)


class RockyTaskGroup(TaskGroup, _Project):
    """A task group with one task per node of a Rocky project (or one task for all: ``shape``).

    :param group_id: the group's id (task ids become ``<group_id>.<node task id>``).
    :param manifest: path of a saved ``rocky dag --output json`` (relative: to the DAG file's folder),
        or an ``EngineManifest`` (local development: asks the engine, cached until the project changes).
    :param operator_args: arguments of every task (``binary_path``, ``rocky_conn_id``, ``deferrable``,
        ``env_vars``, ``timeout_seconds``, ``retries``...); partition arguments apply to partitioned
        nodes only.
    :param node_args: per node (by name or id), arguments that replace ``operator_args``.
    :param asset_namespace: warehouse namespace of every declared and emitted Asset (default
        ``operator_args["asset_namespace"]``, else ``rocky://default``); never read from the connection.
    :param default_catalog: the catalog of tables the manifest names without one (default
        ``operator_args["default_catalog"]``, else none); pinned on every task like the namespace.
    :param select: selectors of the nodes to render (``kind:``, ``pipeline:``, ``name:``, ``id:``,
        globs, ``+x`` / ``x+``); default all. The tasks left keep the order of the nodes they skip.
    :param exclude: selectors of nodes to leave out.
    :param shape: ``"nodes"`` (one task per node), ``"one_run"`` (one ``rocky run --dag`` task: the
        engine runs its whole DAG itself; ``RockyRunDagOperator``) or ``"watch"`` (one ``rocky run
        --dag`` producer task and one task per node, each ending as the engine reports its node;
        README, "shape='watch'").
    :param partitions: ``"data_interval"`` (a time_interval node runs the run's partitions at its grain)
        or ``"engine"`` (no partition arguments: the engine's ``--latest``).
    :param state_isolation: ``"pool"`` (one Airflow pool per state file), ``"namespace"`` (one
        ``--state-namespace`` per node) or ``"none"``.
    :param state_pool: the pool's name (default ``rocky_state__<conn_id>[__<hash>]``).
    Any other keyword goes to ``TaskGroup`` (``tooltip``, ``default_args``, ``dag``...).
    """

    def __init__(
        self,
        group_id: str = "rocky",
        manifest: ManifestSource | None = None,
        operator_args: Mapping[str, Any] | None = None,
        *,
        node_args: Mapping[str, Mapping[str, Any]] | None = None,
        asset_namespace: str | None = None,
        default_catalog: str | None = None,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        shape: str = "nodes",
        partitions: str = "data_interval",
        state_isolation: str = "pool",
        state_pool: str | None = None,
        **task_group_kwargs: Any,
    ) -> None:
        if manifest is None:
            raise TypeError("RockyTaskGroup needs manifest=<path of a saved `rocky dag --output json`>")
        TaskGroup.__init__(self, group_id=group_id, **task_group_kwargs)
        if self.dag is None:
            raise ValueError(f"RockyTaskGroup {group_id!r} must be created inside a DAG (or given dag=)")
        self._render_project(
            manifest,
            operator_args=operator_args,
            select=select,
            exclude=exclude,
            placement={"dag": self.dag, "task_group": self},
            node_args=dict(node_args or {}),
            asset_namespace=asset_namespace,
            default_catalog=default_catalog,
            shape=shape,
            partitions=partitions,
            state_isolation=state_isolation,
            state_pool=state_pool,
        )


class RockyDAG(DAG, _Project):
    """A DAG whose tasks are a Rocky project's nodes (the group's options, without a group).

    ``RockyDAG("rocky_project", manifest=..., operator_args={...}, schedule="@daily", ...)``: the
    project keywords are :class:`RockyTaskGroup`'s; every other keyword goes to ``DAG``.
    """

    def __init__(
        self,
        dag_id: str,
        manifest: ManifestSource | None = None,
        operator_args: Mapping[str, Any] | None = None,
        *,
        node_args: Mapping[str, Mapping[str, Any]] | None = None,
        asset_namespace: str | None = None,
        default_catalog: str | None = None,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        shape: str = "nodes",
        partitions: str = "data_interval",
        state_isolation: str = "pool",
        state_pool: str | None = None,
        **dag_kwargs: Any,
    ) -> None:
        if manifest is None:
            raise TypeError("RockyDAG needs manifest=<path of a saved `rocky dag --output json`>")
        DAG.__init__(self, dag_id=dag_id, **dag_kwargs)
        # DAG takes its fileloc from its caller's frame, which is this __init__: the DAG file is ours.
        self.fileloc = sys._getframe(1).f_code.co_filename
        self._render_project(
            manifest,
            operator_args=operator_args,
            select=select,
            exclude=exclude,
            placement={"dag": self},
            node_args=dict(node_args or {}),
            asset_namespace=asset_namespace,
            default_catalog=default_catalog,
            shape=shape,
            partitions=partitions,
            state_isolation=state_isolation,
            state_pool=state_pool,
        )
