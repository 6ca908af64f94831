"""A time_interval node's partition, chosen from the DAG run, at the node's own grain.

The task gets ``partition_from`` / ``partition_to`` (``--from K --to K``, an inclusive range) as
Jinja templates over the run's data interval, so the Rendered Template view shows exactly which
partitions the run asked for and nothing is computed at DAG parse time:

* ``from`` = the key of the partition holding ``data_interval_start``;
* ``to`` = the key of the partition holding the last instant before ``data_interval_end`` (never
  before ``from``: a manual run's empty interval asks for the one partition at its start).

A daily DAG run over ``[2026-01-05, 2026-01-06)`` therefore runs ``2026-01-05`` of a daily node,
``2026-01-05T00`` to ``2026-01-05T23`` of an hourly one, and ``2026-01`` of a monthly one (the month
is recomputed as its days arrive). A run without a data interval (Airflow 3 allows a manual run with
no logical date) uses its ``run_after``. Overriding: any partition argument given for the node
(``operator_args`` or ``node_args``: ``partition``, ``partition_from``/``partition_to``, ``latest``,
``missing``) replaces these; ``partitions="engine"`` on the group passes none (the engine's default,
``--latest``).

Keys are the engine's canonical keys (hour ``2026-04-07T13``, day ``2026-04-07``, month ``2026-04``,
year ``2026``), which is also the partition key the asset events carry.
"""

from __future__ import annotations

#: ``strftime`` format of each grain's canonical key (the engine's ``TimeGrain::format_str``).
KEY_FORMATS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
#: Operator arguments that choose partitions: given for a node, they replace the computed range.
PARTITION_ARGS = frozenset({"partition", "partition_from", "partition_to", "latest", "missing"})
#: Group ``partitions=`` values.
MODES = ("data_interval", "engine")

#: A run triggered without a logical date has no ``data_interval_*`` in its context at all (Airflow's
#: StrictUndefined then fails the render), not ``None``: test for them before using them.
_START = "((data_interval_start if data_interval_start is defined else none) or dag_run.run_after)"
_LAST = (
    "(((data_interval_end if data_interval_end is defined else none) or dag_run.run_after)"
    " - macros.timedelta(microseconds=1))"
)


def interval_args(grain: str) -> dict[str, str]:
    """``partition_from``/``partition_to`` templates covering the run's data interval at ``grain``."""
    fmt = KEY_FORMATS[grain]
    return {
        "partition_from": "{{ " + _START + ".strftime('" + fmt + "') }}",
        "partition_to": "{{ ([" + _START + ", " + _LAST + "] | max).strftime('" + fmt + "') }}",
    }


def check_mode(mode: str) -> str:
    """``partitions=`` must name a known mode."""
    if mode not in MODES:
        raise ValueError(f"partitions={mode!r} must be one of {', '.join(map(repr, MODES))}")
    return mode
