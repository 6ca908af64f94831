"""OpenLineage datasets for a Rocky run, named exactly like its Airflow Assets.

Outputs are the materialized tables: OpenLineage namespace + dotted ``db.schema.table`` split from
the same canonical URI the Asset is named by (:func:`~airflow_provider_rocky.assets.openlineage_dataset_id`),
so lineage and asset views agree. OpenLineage classes are imported inside the function: the provider
imports and runs without ``apache-airflow-providers-openlineage``.

What the run result can and cannot tell about inputs:

* replication materializations carry ``asset_key = [source_type, *component_values, table]``
  (``["duckdb", "orders", "orders"]``): that names the source *system type*, the schema-pattern
  component values and the table, but **not** the source's host/account nor its physical schema
  (``raw__orders`` is built from ``rocky.toml``'s schema pattern, which the result does not echo).
  Each becomes an input ``(source_namespaces[source_type] or "rocky-source://<source_type>",
  "<component>...<table>")`` — a stable logical name, not a physical one.
* model (transformation) materializations list no upstream tables at all (``rocky lineage`` /
  ``compile`` know them); pass them as ``inputs=`` if you want them on the event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_rocky._verdict.events import AssetEventSpec
from airflow_provider_rocky.assets import openlineage_dataset_id, table_ref_for

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Namespace of a replicated source whose location is unknown to the run result.
SOURCE_NAMESPACE_TEMPLATE = "rocky-source://{source_type}"


def replication_source(asset_key: Sequence[str], target_table: str | None) -> tuple[str, str] | None:
    """``(source_type, "component...table")`` for a replication key, ``None`` for a model's key.

    A model's key *is* its target (``[catalog, schema, table]``); a replication key is not.
    """
    if len(asset_key) < 2 or not all(asset_key):
        return None
    ref = table_ref_for(target_table, ())
    if ref is not None and list(asset_key) in ([ref.catalog, ref.schema, ref.table], [ref.schema, ref.table]):
        return None
    return asset_key[0], ".".join(asset_key[1:])


def operator_lineage(
    specs: Sequence[AssetEventSpec],
    *,
    inputs: Iterable[tuple[str, str]] = (),
    source_namespaces: Mapping[str, str] | None = None,
    derive_inputs: bool = True,
) -> OperatorLineage[Any, Any] | None:
    """An ``OperatorLineage`` for the materialized ``specs``, or ``None`` when there is nothing to say.

    :param specs: the run's asset events (several partitions of one table give one output dataset).
    :param inputs: extra ``(namespace, name)`` input datasets known to the caller.
    :param source_namespaces: OpenLineage namespace per replication ``source_type``
        (e.g. ``{"duckdb": "duckdb:///data/source.duckdb"}``).
    :param derive_inputs: add the replicated sources named by the specs' ``asset_key``.
    """
    outputs: dict[tuple[str, str], None] = {}
    sources: dict[tuple[str, str], None] = dict.fromkeys(inputs)
    for spec in specs:
        outputs.setdefault(openlineage_dataset_id(spec.name))
        if not derive_inputs:
            continue
        key = spec.extra.get("asset_key")
        target = spec.extra.get("target_table")
        if isinstance(key, list) and all(isinstance(k, str) for k in key):
            found = replication_source([str(k) for k in key], target if isinstance(target, str) else None)
            if found is not None:
                source_type, name = found
                namespace = (source_namespaces or {}).get(source_type) or SOURCE_NAMESPACE_TEMPLATE.format(
                    source_type=source_type
                )
                sources.setdefault((namespace, name))
    if not outputs and not sources:
        return None

    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=[Dataset(namespace=ns, name=name) for ns, name in sources],
        outputs=[Dataset(namespace=ns, name=name) for ns, name in outputs],
    )
