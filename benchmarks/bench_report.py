"""The results of ``run.py`` as a markdown table, the ``GOAL`` lines, and the README section.

Every goal is a ratio, so each ``GOAL`` line reads the same way: provider ÷ baseline where there is
a baseline (rocky-sdk, cosmos), measured ÷ limit where the target is absolute (loop lag ÷ 50 ms),
a share where the target is "all" or "none" (lines logged ÷ lines written, failed runs ÷ runs).
Each goal is judged at the larger of its two sizes; the table shows both, so it says how cost grows.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START, END = "<!-- results:start -->", "<!-- results:end -->"
Row = tuple[str, str, str, str, str]
Results = dict[str, Any]


@dataclass(frozen=True)
class Goal:
    name: str
    ratio: float
    op: str  # "<=" or ">="
    target: float

    @property
    def passed(self) -> bool:
        if math.isnan(self.ratio):
            return False
        return self.ratio <= self.target if self.op == "<=" else self.ratio >= self.target

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return f"GOAL {self.name} ratio={self.ratio:.3g} target={self.op}{self.target:g} {verdict}"


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def ratio(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else math.nan


def shown_ratio(a: float, b: float) -> str:
    value = ratio(a, b)
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


class Table:
    """Rows in the order they are added."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, name: str, a: float | None, b: float | None, note: str = "") -> None:
        shown = shown_ratio(a, b) if a is not None and b is not None else "-"
        self.rows.append((name, fmt(a), fmt(b), shown, note))

    def markdown(self) -> str:
        head = ["Measurement", "Provider", "Baseline", "Ratio (provider ÷ baseline)", "Notes"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in self.rows])


def _by_size(section: Results) -> list[tuple[Any, Results]]:
    return [(size, section[str(size)]) for size in section["sizes"]]


def _largest(section: Results) -> Results:
    result: Results = section[str(section["sizes"][-1])]
    return result


# -- rows, one function per section ---------------------------------------------------------------


def _throughput(t: Table, sec: Results) -> None:
    for lines, d in _by_size(sec):
        n = f"{lines:,} lines, median of {d['reps']}"
        t.add(
            f"1. lines/s into the task logger ({n})",
            d["provider_lines_per_s"],
            d["sdk_lines_per_s"],
            f"higher is better; engine alone to /dev/null: {fmt(d['engine_lines_per_s'])} lines/s",
        )
        t.add(
            f"1. supervisor CPU per line (µs; {lines:,} lines)",
            d["provider_cpu_us_per_line"],
            d["sdk_cpu_us_per_line"],
            "user+sys of the supervising process; task-log bytes per line "
            f"{fmt(d['provider_log_bytes_per_line'])} / {fmt(d['sdk_log_bytes_per_line'])}",
        )


def _latency(t: Table, sec: Results) -> None:
    for rate, d in _by_size(sec):
        n = f"{fmt(rate)} lines/s x {fmt(d['seconds'])} s"
        t.add(f"2. latency write→logger p50 (ms, {n})", d["provider_p50_ms"], d["sdk_p50_ms"])
        t.add(
            f"2. latency write→logger p99 (ms, {n})",
            d["provider_p99_ms"],
            d["sdk_p99_ms"],
            f"{d['provider_samples']:,} / {d['sdk_samples']:,} lines",
        )


def _rss(t: Table, rss: Results) -> None:
    small, large = rss["sizes"]
    for size in (small, large):
        t.add(
            f"3. peak RSS, {size:,} lines (MB)",
            rss[f"provider_{size}"]["peak_rss_mb"],
            rss[f"sdk_{size}"]["peak_rss_mb"],
            "fresh process; includes Airflow + provider imports",
        )

    def growth(side: str) -> float:
        return float(rss[f"{side}_{large}"]["peak_rss_mb"] - rss[f"{side}_{small}"]["peak_rss_mb"])

    t.add(
        f"3. peak RSS growth {small:,} → {large:,} lines (MB)",
        growth("provider"),
        growth("sdk"),
        "flat = ~0: both keep a bounded stderr tail",
    )


def _fleet(t: Table, sec: Results) -> None:
    for runs, d in _by_size(sec):
        p, s = d["provider"], d["sdk"]
        n = f"{runs:,} runs x {fmt(sec['rate'])} line/s x {fmt(sec['seconds'])} s"
        t.add(
            f"4. supervisor CPU s ({n}; 1 loop vs {runs:,} run_cli threads)",
            p["cpu_s"],
            s["cpu_s"],
            f"wall {fmt(p['wall_s'])} / {fmt(s['wall_s'])} s; lines logged {p['logged_lines']:,} / "
            f"{s['logged_lines']:,} of {p['expected_lines']:,}; failed runs {p['failed']} / {s['failed']}; "
            f"processes left {p['processes_left']} / {s['processes_left']}",
        )
        t.add(
            f"4. loop lag p99 / max (ms; {runs:,} runs; 10 ms ticker)",
            p["lag_p99_ms"],
            s["lag_p99_ms"],
            f"max {fmt(p['lag_max_ms'])} / {fmt(s['lag_max_ms'])} ms; p50 {fmt(p['lag_p50_ms'])} / "
            f"{fmt(s['lag_p50_ms'])} ms",
        )
        t.add(
            f"4. supervisor RSS per run (MB; {runs:,} runs)",
            p["mb_per_run"],
            s["mb_per_run"],
            f"peak {fmt(p['peak_rss_mb'])} / {fmt(s['peak_rss_mb'])} MB (the engines not included)",
        )


def _fairness(t: Table, sec: Results) -> None:
    for triggers, d in _by_size(sec):
        n = f"{triggers} triggers x {sec['lines']:,} lines"
        t.add(
            f"4. noisy neighbours: loop gap p99 (ms; {n})",
            d["lag_p99_ms"],
            None,
            f"max {fmt(d['lag_max_ms'])} ms; lines logged {d['logged_lines']:,} of {d['expected_lines']:,}; "
            f"{fmt(d['lines_per_s'])} lines/s; failed runs {d['failed']}",
        )


def _interpret(t: Table, sec: Results) -> None:
    for tables, i in _by_size(sec):
        n = f"{tables:,} tables, median of {i['reps']}"
        t.add(
            f"5. interpret + summary.build (ms; {n})",
            i["interpret_build_ms"],
            i["sdk_parse_ms"],
            "baseline: rocky_sdk's own parse (RunResult.model_validate(json.loads(stdout)))",
        )
        t.add(
            f"5. asset_events (ms; {i['asset_events']:,} events)",
            i["asset_events_ms"],
            None,
            f"event outcome {i['event_bytes']:,} bytes, packed in {fmt(i['event_pack_ms'])} ms off the loop",
        )
        t.add(
            f"5. XCom summary bytes vs full result bytes ({tables:,} tables)",
            i["summary_bytes"],
            i["full_result_bytes"],
            f"stdout was {i['stdout_bytes']:,} bytes; ratio = summary ÷ full",
        )


def _parse(t: Table, d: Results) -> None:
    n = f"{d['operators']} operators, median of {d['reps']}"
    for mode, label in (("cold", "fresh interpreter"), ("processor", "airflow.* pre-imported")):
        a, b = d[f"rocky_{mode}_exec_s"], d[f"bash_{mode}_exec_s"]
        t.add(
            f"6. DAG parse, {label}: exec of the file (s; {n})",
            a,
            b,
            f"RockyOperator - BashOperator = {a - b:+.3f} s",
        )


def _taskgroup(t: Table, sec: Results) -> None:
    for nodes, d in _by_size(sec):
        t.add(
            f"6. RockyTaskGroup vs cosmos DbtTaskGroup parse (s; {nodes:,} models, median of {d['reps']})",
            d["rocky"]["exec_median_s"],
            d["cosmos"]["exec_median_s"],
            f"fastest {fmt(d['rocky']['exec_min_s'])} / {fmt(d['cosmos']['exec_min_s'])} s; "
            f"airflow.* pre-imported ({d['pre_imported_airflow_modules']} modules)",
        )


def _watch_shapes(t: Table, sec: Results) -> None:
    for _size, d in [("small", sec["small"]), *_by_size(sec)]:
        n = f"{d['models']:,} models, stand-in {d['delay']} s per node, median of {d['reps']}"
        watch, one, nodes = (d[s]["task_span_median_s"] for s in ("watch", "one_run", "nodes"))
        engines = "/".join(str(d[s]["engine_processes"]) for s in ("watch", "one_run", "nodes"))
        t.add(
            f"8. shape='watch' vs 'one_run', dag.test() task span (s; {n})",
            watch,
            one,
            f"engine processes watch/one_run/nodes: {engines}",
        )
        t.add(
            f"8. shape='watch' vs 'nodes', dag.test() task span (s; {n})",
            watch,
            nodes,
            "dag.test() runs one task at a time: node tasks after the producer, not beside it",
        )


def _watch_waiting(t: Table, sec: Results) -> None:
    for count, d in _by_size(sec):
        t.add(
            f"9. {count:,} watch node tasks waiting on one loop: ticker lag p99 (ms)",
            d["lag_p99_ms"],
            50.0,
            f"max {fmt(d['lag_max_ms'])} ms; all {d['fired']} fired "
            f"{fmt(d['release_s'])} s after the report, lag p99 {fmt(d['release_lag_p99_ms'])} ms then",
        )
        t.add(
            f"9. their metadata DB statements/s, shared poller vs a poller per task ({count:,})",
            d["statements_per_s_shared"],
            d["statements_per_s_per_trigger"],
            f"{fmt(d['statements_per_read'])} statements per read "
            f"({fmt(d['read_api_ms'])} ms in-process API), every {d['poll_seconds']:g} s",
        )


def _watch_liveness(t: Table, sec: Results) -> None:
    for models, d in _by_size(sec):
        name = f"10. liveness, {models} models at {d['delay_s']:g} s/node: verdict → trigger fires (s, p50)"
        note = (
            f"p95 {fmt(d['provider_side_p95_s'])}, max {fmt(d['provider_side_max_s'])} s (publish 0.5 s, "
            f"poll 2 s); last engine line → verdict p50 {fmt(d['engine_side_p50_s'])}, "
            f"max {fmt(d['engine_side_max_s'])} s"
        )
        t.add(name, d["provider_side_p50_s"], None, note)


def _manifest(t: Table, sec: Results) -> None:
    from bench_manifest import IMPORT_TIMEOUT_S, SHAPES

    for nodes, d in _by_size(sec):
        for shape in SHAPES:
            m = d[shape]
            split = f"exec {fmt(m['exec_s'])} s, serialize {fmt(m['serialize_s'])} s"
            t.add(
                f"7. RockyDAG, {shape} manifest: exec+serialize (s; {nodes:,} nodes, median of {d['reps']})",
                m["parse_s"],
                IMPORT_TIMEOUT_S,
                f"baseline: [core] dagbag_import_timeout; {m['tasks']:,} tasks, {m['edges']:,} edges, "
                f"serialized {m['bytes'] / 1e6:.2f} MB ({split})",
            )


ROWS: dict[str, Callable[[Table, Results], None]] = {
    "throughput": _throughput,
    "latency": _latency,
    "rss": _rss,
    "fleet": _fleet,
    "fairness": _fairness,
    "interpret": _interpret,
    "parse": _parse,
    "taskgroup": _taskgroup,
    "watch_shapes": _watch_shapes,
    "watch_waiting": _watch_waiting,
    "watch_liveness": _watch_liveness,
    "manifest": _manifest,
}


def table(results: Results) -> str:
    t = Table()
    for name, add_rows in ROWS.items():
        if name in results:
            add_rows(t, results[name])
    return t.markdown()


# -- goals ----------------------------------------------------------------------------------------


def goals(results: Results) -> list[Goal]:
    out: list[Goal] = []
    if "throughput" in results:
        d = _largest(results["throughput"])
        out.append(
            Goal("stream_lines_per_s", ratio(d["provider_lines_per_s"], d["sdk_lines_per_s"]), ">=", 1.0)
        )
        cpu = ratio(d["provider_cpu_us_per_line"], d["sdk_cpu_us_per_line"])
        out.append(Goal("stream_cpu_per_line", cpu, "<=", 1.0))
    if "latency" in results:
        worst = max(ratio(d["provider_p99_ms"], d["sdk_p99_ms"]) for _, d in _by_size(results["latency"]))
        out.append(Goal("stream_latency_p99", worst, "<=", 1.0))
    if "fleet" in results:
        out += _fleet_goals(results["fleet"])
    if "fairness" in results:
        d = _largest(results["fairness"])
        out.append(Goal("fairness_gap_p99_per_50ms", d["lag_p99_ms"] / 50, "<=", 1.0))
        out.append(
            Goal("fairness_lines_logged_share", ratio(d["logged_lines"], d["expected_lines"]), ">=", 1.0)
        )
    if "interpret" in results:
        i = _largest(results["interpret"])
        out.append(
            Goal("interpret_vs_sdk_parse", ratio(i["interpret_build_ms"], i["sdk_parse_ms"]), "<=", 1.0)
        )
        out.append(Goal("asset_events_per_table", ratio(i["asset_events"], i["tables"]), ">=", 1.0))
    if "taskgroup" in results:
        d = _largest(results["taskgroup"])
        parse = ratio(d["rocky"]["exec_median_s"], d["cosmos"]["exec_median_s"])
        out.append(Goal("taskgroup_parse_vs_cosmos", parse, "<=", 1.0))
    if "parse" in results:
        d = results["parse"]
        out.append(
            Goal(
                "dag_parse_rocky_vs_bash",
                ratio(d["rocky_processor_exec_s"], d["bash_processor_exec_s"]),
                "<=",
                1.2,
            )
        )
    if "watch_shapes" in results:
        d = _largest(results["watch_shapes"])
        spans = {s: d[s]["task_span_median_s"] for s in ("watch", "one_run", "nodes")}
        out.append(Goal("watch_vs_one_run_wall", ratio(spans["watch"], spans["one_run"]), "<=", 1.2))
        out.append(Goal("watch_vs_nodes_wall", ratio(spans["watch"], spans["nodes"]), "<=", 0.5))
    if "watch_waiting" in results:
        d = _largest(results["watch_waiting"])
        out.append(Goal("watch_waiting_lag_p99_per_50ms", d["lag_p99_ms"] / 50, "<=", 1.0))
    if "manifest" in results:
        out += _manifest_goals(results["manifest"])
    return out


def _manifest_goals(sec: Results) -> list[Goal]:
    """Linear growth (per-node cost at the larger size ÷ at the smaller, worst shape) and the larger
    size's parse inside the import timeout (worst shape ÷ 30 s)."""
    from bench_manifest import IMPORT_TIMEOUT_S, SHAPES, growth

    large = _largest(sec)
    worst = max(large[shape]["parse_s"] for shape in SHAPES)
    return [
        Goal("manifest_parse_growth_per_node", growth(sec, "parse_s"), "<=", 1.5),
        Goal("manifest_size_growth_per_node", growth(sec, "bytes"), "<=", 1.5),
        Goal("manifest_edges_growth_per_node", growth(sec, "edges"), "<=", 1.5),
        Goal("manifest_large_parse_per_import_timeout", worst / IMPORT_TIMEOUT_S, "<=", 1.0),
    ]


def _fleet_goals(sec: Results) -> list[Goal]:
    runs = sec["sizes"][-1]
    p, s = _largest(sec)["provider"], _largest(sec)["sdk"]
    return [
        Goal("fleet_loop_lag_p99_per_50ms", p["lag_p99_ms"] / 50, "<=", 1.0),
        Goal("fleet_worst_stall_per_1s", p["lag_max_ms"] / 1000, "<=", 1.0),
        Goal("fleet_cpu_vs_sdk_threads", ratio(p["cpu_s"], s["cpu_s"]), "<=", 1.0),
        Goal("fleet_lines_logged_share", ratio(p["logged_lines"], p["expected_lines"]), ">=", 1.0),
        Goal("fleet_failed_runs_share", p["failed"] / runs, "<=", 0.0),
        Goal("fleet_processes_left_share", p["processes_left"] / runs, "<=", 0.0),
    ]


# -- the report -----------------------------------------------------------------------------------


def machine() -> str:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu)
    return (
        f"nproc {os.cpu_count()} ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"apache-airflow {version('apache-airflow')}, rocky-sdk {version('rocky-sdk')}"
    )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def report(results: Results, argv: list[str], took: float, load_before: str) -> str:
    cmd = ".venv/bin/python benchmarks/run.py" + "".join(f" {shlex.quote(a)}" for a in argv)
    found = goals(results)
    passed = sum(goal.passed for goal in found)
    return "\n".join(
        [
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · took {took / 60:.1f} min",
            f"- Machine: {machine()}",
            f"- Load average: {load_before} before, {load()} after (other work on the machine skews figures)",
            f"- Command: `{cmd}`",
            f"- Goals: {passed} of {len(found)} pass",
            "",
            "Baselines: rocky_sdk `RockyClient.run_cli` (rows 1-4), rocky_sdk's own parse (row 5), "
            "`BashOperator` and cosmos's `DbtTaskGroup` (row 6), `[core] dagbag_import_timeout` (row 7), "
            "the other shapes (row 8), 50 ms and a poller per waiting task (row 9).",
            "",
            table(results),
            "",
            "```",
            *(goal.line() for goal in found),
            "```",
        ]
    )


def write_readme(readme: Path, text: str) -> None:
    old = readme.read_text() if readme.exists() else f"# Benchmarks\n\n## Results\n\n{START}\n{END}\n"
    head, _, rest = old.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")
