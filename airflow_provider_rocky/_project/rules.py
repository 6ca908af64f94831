"""What a manifest's text may hold, checked before anything is built from it.

A manifest is written by whoever can name a model file or a pipeline, and it is read by the DAG
processor, so its text goes into task ids, display names, ``doc_md``, Asset names, argv and the
serialized DAG. The engine itself constrains none of it at 1.71: a model's name is its sidecar's
``name`` or its file stem (``engine/crates/rocky-core/src/models.rs``, ``resolve_model_config``), a
pipeline's name is its ``[pipeline.<name>]`` key (``engine/crates/rocky-core/src/config.rs``,
``pipelines: IndexMap<String, PipelineConfig>``); only table parts meet a rule, and only when a
built-in adapter builds SQL (``validate_identifier``, ``^[a-zA-Z0-9_]+$``,
``engine/crates/rocky-sql/src/validation.rs``; a process adapter takes any name:
``engine/crates/rocky-adapter-sdk/src/process.rs``, ``format_table_ref``).

So this provider refuses only what cannot be stored, spawned or named safely, and passes every other
name through untouched (names are given to the operator as never-rendered literals, so Jinja
delimiters in them are text, not templates):

* a control character (C0, DEL, C1, U+2028/U+2029): PostgreSQL refuses a NUL in the serialized DAG,
  argv cannot carry one, and a line break forges log lines;
* a lone surrogate: not encodable as UTF-8, so neither storable nor spawnable;
* more than :data:`MAX_NAME_CHARS` characters: Airflow stores a display name in 2,000 characters
  and an Asset name in 1,500 (the longest table name a built-in warehouse allows is BigQuery's 1,024);
* a table part that is ``.`` or ``..``: a dot-segment in an Asset URI, which URI-normalizing
  consumers (OpenLineage tooling, ``urljoin``) fold into another table.

Two nodes writing one table are refused too, as the engine's compiler does (E036,
``engine/crates/rocky-compiler/src/project.rs``, ``collide_on_target``: case-folded identity,
ephemeral models excluded).
"""

from __future__ import annotations

import re

#: Characters of one id, label, pipeline or table part.
MAX_NAME_CHARS = 1024
#: Characters of a value quoted in a refusal.
SHOWN_CHARS = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
DOT_SEGMENTS = frozenset({".", ".."})


def shown(value: object) -> str:
    """``value`` quoted for a message: escaped (``repr``), and cut when long."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]!r}... ({len(value):,} characters)"
    return repr(value)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be used as a name of the manifest, or ``None``."""
    if len(value) > MAX_NAME_CHARS:
        return f"is {len(value):,} characters long (at most {MAX_NAME_CHARS:,})"
    if (found := _CONTROL.search(value)) is not None:
        return f"holds the control character U+{ord(found.group()):04X} at character {found.start()}"
    if (found := _SURROGATE.search(value)) is not None:
        return (
            f"holds the lone surrogate U+{ord(found.group()):04X} at character {found.start()} "
            "(not encodable as UTF-8)"
        )
    return None


def table_part_problem(value: str) -> str | None:
    """Why ``value`` cannot be a catalog, schema or table name, or ``None``."""
    if value in DOT_SEGMENTS:
        return "is a dot-segment, which URI normalizers fold into another path (another table)"
    return text_problem(value)


def collision_key(catalog: str, schema: str, table: str) -> tuple[str, str, str]:
    """One warehouse object's identity, case-folded as the engine's ``CollisionIdentity`` is."""
    return catalog.lower(), schema.lower(), table.lower()
