"""Stable, predictable Airflow Asset URIs for the tables Rocky materializes.

ONE rule names every table: ``<namespace>/<catalog>/<schema>/<table>``, where ``namespace`` is the
warehouse's own OpenLineage namespace (``snowflake://<account>``, ``postgres://host:5432``,
``duckdb:///abs/wh.duckdb``...; default :data:`DEFAULT_NAMESPACE`). That is the Airflow 3 slash form
the provider ``asset-uris`` normalisers accept, so a Rocky table is the *same* Asset that the
snowflake/postgres/databricks/bigquery operators (and cosmos) emit for it. BigQuery is the one
exception Airflow defines: ``bigquery://<project>/<dataset>/<table>`` (the project is the authority).

Identity: an event's Asset has ``name`` = the canonical URI built here (what ``Asset(uri)`` would
name it) and ``uri`` = the form Airflow stores after its own sanitising (``duckdb:///abs`` becomes
``duckdb:/abs``), so ``rocky_asset(...)`` == ``Asset(rocky_asset_uri(...))`` == the emitted asset.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, TypeAlias
from urllib.parse import quote, unquote, urlsplit

from airflow.sdk import Asset

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

#: Namespace used when neither the connection nor the operator sets one. ``rocky`` is not a
#: warehouse scheme, so these assets never collide with (or pretend to be) another provider's.
DEFAULT_NAMESPACE = "rocky://default"
#: Catalog used for an empty catalog (``.schema.table``) when the namespace implies none; the same
#: placeholder Airflow's postgres normaliser uses for an empty path segment.
DEFAULT_CATALOG = "default"
#: Default ports the Airflow normalisers add; added here too so the URI is the same whether or
#: not that provider is installed.
_DEFAULT_PORTS = {"postgres": 5432, "redshift": 5439, "trino": 8080}
_SCHEME_ALIASES = {"postgresql": "postgres"}
#: Schemes whose Airflow normaliser requires ``<authority>/<db>/<schema>/<table>`` exactly.
_STRICT_SCHEMES = frozenset({"snowflake", "databricks", "postgres", "redshift", "trino"})
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_$-]+").fullmatch
_SEGMENT_SAFE = "$-_.~"
#: Airflow's limit on an Asset's name and URI (``Asset name cannot exceed 1500 characters``).
MAX_ASSET_CHARS = 1500
#: Parts that are URI dot-segments: ``rocky://default/x/../b`` is ``rocky://default/b`` to any
#: URI-normalizing consumer (OpenLineage tooling, ``urljoin``), another table.
_DOT_SEGMENTS = frozenset({".", ".."})


class TableRef(NamedTuple):
    """A table's three-part identity; ``catalog`` may be ``""`` (DuckDB models)."""

    catalog: str
    schema: str
    table: str

    @property
    def dotted(self) -> str:
        """``catalog.schema.table`` as the engine prints it (``.schema.table`` for no catalog)."""
        return f"{self.catalog}.{self.schema}.{self.table}"


def parse_table(table: str) -> TableRef:
    """Parse ``schema.table``, ``catalog.schema.table`` or ``.schema.table``; raise ``ValueError``."""
    ref = _split_table(table)
    if ref is None:
        raise ValueError(f"table {table!r} must be 'schema.table', 'catalog.schema.table' or '.schema.table'")
    return ref


def _split_table(table: str) -> TableRef | None:
    parts = table.strip().split(".")
    if len(parts) == 2:
        parts.insert(0, "")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return None
    return TableRef(parts[0], parts[1], parts[2])


def table_ref_for(target_table_full_name: str | None, asset_key: Sequence[str]) -> TableRef | None:
    """The table a materialization wrote: ``target_table_full_name``, else a 2/3-part ``asset_key``.

    A replication asset key (``[source_type, *components, table]``) names the source, not the
    target, so a longer key is refused (``None``) rather than guessed.
    """
    if target_table_full_name and (ref := _split_table(target_table_full_name)) is not None:
        return ref
    if len(asset_key) in (2, 3) and all(asset_key[-2:]):
        key = list(asset_key)
        return TableRef(key[0] if len(key) == 3 else "", key[-2], key[-1])
    return None


def _segment(value: str) -> str:
    # Percent-encode anything that would change the URI's structure (``/ ? # %``, spaces, non-ASCII).
    return value if _PLAIN_SEGMENT(value) else quote(value, safe=_SEGMENT_SAFE)


@dataclass(frozen=True)
class WarehouseNamespace:
    """A parsed namespace; resolve once per run with :func:`resolve_namespace`, then name many tables."""

    scheme: str
    #: The canonical namespace string, e.g. ``duckdb:///abs/wh.duckdb`` (the OpenLineage namespace).
    raw: str
    #: The same prefix as Airflow stores it (``duckdb:/abs/wh.duckdb``); equals ``raw`` for hosts.
    stored: str
    #: Catalog used when a table has none (DuckDB: the file's database name; BigQuery: the project).
    default_catalog: str | None

    def locate(self, ref: TableRef) -> tuple[str, str]:
        """Return ``(name, uri)``: the canonical URI and the form Airflow stores for ``ref``.

        Refused (``ValueError``): no catalog to name, a ``.``/``..`` part (a dot-segment), a name
        longer than Airflow stores (:data:`MAX_ASSET_CHARS`).
        """
        catalog = ref.catalog or self.default_catalog
        if not catalog:
            raise ValueError(
                f"table {_shown(ref.dotted)} has no catalog and namespace {self.raw!r} implies none; "
                "pass default_catalog= or a catalog.schema.table name"
            )
        if _DOT_SEGMENTS.intersection((catalog, ref.schema, ref.table)):
            raise ValueError(
                f"table {_shown(ref.dotted)} has a '.' or '..' part, which URI normalizers fold into "
                "another table: rename it"
            )
        if self.scheme == "bigquery":  # Airflow's form: bigquery://<project>/<dataset>/<table>
            name = f"bigquery://{_segment(catalog)}/{_segment(ref.schema)}/{_segment(ref.table)}"
            return _fits(name, ref), name
        path = f"/{_segment(catalog)}/{_segment(ref.schema)}/{_segment(ref.table)}"
        return _fits(self.raw + path, ref), self.stored + path


def _shown(text: str, limit: int = 120) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def _fits(name: str, ref: TableRef) -> str:
    """``name`` if Airflow can store it as an Asset name and URI, else a ``ValueError`` naming ``ref``."""
    if len(name) > MAX_ASSET_CHARS:
        raise ValueError(
            f"table {_shown(ref.dotted)} gives an Asset name of {len(name):,} characters (percent-encoded, "
            f"with its namespace); Airflow stores at most {MAX_ASSET_CHARS:,}: shorten the table's name"
        )
    return name


def resolve_namespace(namespace: str | None = None, default_catalog: str | None = None) -> WarehouseNamespace:
    """Validate and canonicalise a namespace string (cached: parsing happens once per namespace).

    Lower-cases the scheme, maps ``postgresql`` to ``postgres``, adds the default port for
    postgres/redshift/trino, strips a trailing slash, and refuses credentials, queries, fragments and
    (for the strict warehouse schemes) a path. ``bigquery`` and ``bigquery://<project>`` are accepted.
    """
    return _resolve(namespace or None, default_catalog or None)


@lru_cache(maxsize=64)
def _resolve(namespace: str | None, default_catalog: str | None) -> WarehouseNamespace:
    text = (namespace or "").strip() or DEFAULT_NAMESPACE
    if text.lower() == "bigquery":
        text = "bigquery://"
    parts = urlsplit(text)
    scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    stored_duckdb_form = scheme == "duckdb" and parts.path.startswith("/")  # duckdb:/abs/wh.duckdb
    if not scheme or ("://" not in text and not stored_duckdb_form):
        raise ValueError(f"asset namespace {namespace!r} must look like scheme://authority")
    if "@" in parts.netloc:  # quoted without them: the message reaches logs and the task's failure
        shown = text.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[1], 1)
        raise ValueError(f"asset namespace {shown!r} must not contain credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"asset namespace {namespace!r} must not contain a query or fragment")
    netloc, path = parts.netloc, parts.path.rstrip("/")
    if scheme in _DEFAULT_PORTS and netloc and parts.port is None:
        netloc = f"{netloc.rstrip(':')}:{_DEFAULT_PORTS[scheme]}"
    if scheme in _STRICT_SCHEMES or scheme == "bigquery":
        if path:
            raise ValueError(f"asset namespace {namespace!r} must be scheme://authority without a path")
        if not netloc and scheme != "bigquery":
            raise ValueError(f"asset namespace {namespace!r} needs an authority ({scheme}://<host>)")
    raw = f"{scheme}://{netloc}{path}"
    catalog = default_catalog
    if not catalog and scheme == "duckdb":
        # DuckDB names a file's database after the file name up to its first dot
        # (wh.duckdb -> "wh"); ``SELECT current_database()`` returns it, and dbt-duckdb uses it too.
        file_name = (netloc + path).rsplit("/", 1)[-1]
        catalog = "memory" if file_name in ("", ":memory:") else file_name.split(".", 1)[0] or "memory"
    elif not catalog and scheme == "bigquery":
        catalog = netloc or None
    elif not catalog and scheme not in _STRICT_SCHEMES:
        catalog = DEFAULT_CATALOG
    probe = WarehouseNamespace(scheme, raw, raw, catalog)
    stored = raw
    if scheme != "bigquery":
        # Let Airflow itself (and any installed asset-uri normaliser) say how it stores the prefix.
        probe_name, _ = probe.locate(TableRef("c", "s", "t"))
        kept = Asset(uri=probe_name).uri
        if not kept.endswith("/c/s/t"):
            raise ValueError(f"Airflow rewrites asset namespace {namespace!r} unpredictably: {kept!r}")
        stored = kept[: -len("/c/s/t")]
    return WarehouseNamespace(scheme, raw, stored, catalog)


def rocky_asset_uri(table: str, namespace: str | None = None, *, default_catalog: str | None = None) -> str:
    """The canonical Asset URI (and Asset name) of ``table`` under ``namespace``.

    ``Asset(rocky_asset_uri(t, ns)) == rocky_asset(t, ns)``; Airflow may store ``.uri`` in a
    collapsed form (``duckdb:///abs/...`` -> ``duckdb:/abs/...``), see :attr:`AssetEventSpec.uri`.
    """
    return resolve_namespace(namespace, default_catalog).locate(parse_table(table))[0]


def rocky_asset(table: str, namespace: str | None = None, *, default_catalog: str | None = None) -> Asset:
    """The Asset a Rocky run emits for ``table``: use it in ``schedule=[...]`` or ``outlets=[...]``."""
    name, uri = resolve_namespace(namespace, default_catalog).locate(parse_table(table))
    return Asset(name=name, uri=uri)


def default_alias_name(dag_id: str, task_id: str) -> str:
    """``rocky__<dag_id>__<task_id>``, the AssetAlias a Rocky task declares in its ``outlets``.

    ASCII only (non-ASCII alias names break Airflow, issue #51566): accents are folded, other
    characters become ``_``, and a lossy name gets a short hash of the original to stay unique.
    """
    original = f"rocky__{dag_id}__{task_id}"
    folded = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", folded)
    if safe == original:
        return safe
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()[:8]
    return f"{safe}__{digest}"


def openlineage_dataset_id(name: str) -> tuple[str, str]:
    """Split a canonical URI built here into OpenLineage ``(namespace, "db.schema.table")``.

    The inverse of the rule: the last three path segments are the dotted name, the rest is the
    namespace; BigQuery's OpenLineage namespace is plain ``bigquery``.
    """
    if name.startswith("bigquery://"):
        project, dataset, table = name[len("bigquery://") :].split("/")
        return "bigquery", f"{unquote(project)}.{unquote(dataset)}.{unquote(table)}"
    namespace, catalog, schema, table = name.rsplit("/", 3)
    return namespace, f"{unquote(catalog)}.{unquote(schema)}.{unquote(table)}"


__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_NAMESPACE",
    "JsonValue",
    "TableRef",
    "WarehouseNamespace",
    "default_alias_name",
    "openlineage_dataset_id",
    "parse_table",
    "resolve_namespace",
    "rocky_asset",
    "rocky_asset_uri",
    "table_ref_for",
]
