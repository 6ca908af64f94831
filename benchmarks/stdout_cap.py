"""Peak memory of the supervisor when the engine floods stdout, and of a run with many Pipes messages.

A benchmark, not a test: each measurement runs in a fresh Python process (``ru_maxrss`` of that
process, which excludes the engine) so runs do not inherit each other's heap. ``--code DIR`` measures
another checkout of the provider (e.g. the commit before a change) with the same script.

* ``stdout``: the engine writes ``--write-mib`` MiB of incompressible bytes to stdout against a cap of
  ``--cap-mib`` MiB. *sync* is what the worker does (run, then interpret); *deferrable* what the
  triggerer does (run, pack the event, serialize it as Airflow stores it).
* ``pipes``: the engine reports ``--messages`` asset checks through Pipes; the supervisor's growth
  over its baseline, and the size of the packed Pipes record.

Figures of this change, measured on the 2-core development machine (cap 128 MiB, 384 MiB written;
300,000 check reports with small metadata; 112 MiB after imports in every case)::

                         before (fc2761b)              after
    stdout, sync         peak 975 MiB                  peak 240 MiB (imports + the cap)
    stdout, deferrable   peak 976 MiB, event 179.0 MB  peak 240 MiB, event 0.0 MB
    pipes, 300k checks   +507 MiB, record 2.6 MB       +2 MiB, record 0.0 MB

Run: ``.venv/bin/python benchmarks/stdout_cap.py [--code /path/to/other/checkout]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The engine: writes N MiB of one random 1 MiB block (zlib's 32 KiB window cannot compress it).
FLOOD = (
    "import os, sys\nblock = os.urandom(1 << 20)\n"
    "for _ in range({mib}):\n    sys.stdout.buffer.write(block)\n"
)

#: The engine: N asset-check reports to its Pipes channel, then exit 0.
REPORTS = textwrap.dedent(
    """
    import base64, json, os
    path = json.loads(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"]))["path"]
    with open(path, "a") as f:
        for i in range({messages}):
            params = {{"asset_key": f"warehouse/schema/table_{{i}}", "check_name": "row_count",
                "passed": i % 7 != 0, "severity": "ERROR", "metadata": {{"expected": 10, "actual": i}}}}
            message = {{"__dagster_pipes_version": "0.1", "method": "report_asset_check", "params": params}}
            f.write(json.dumps(message) + "\\n")
    """
)

#: What runs in the fresh process; prints one JSON line of figures.
MEASURE = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.run import EngineRun, RunLimits
    from airflow_provider_rocky._task import wire
    from airflow_provider_rocky._verdict.interpret import interpret

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    mode, code, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
    command = RockyCommand(argv=(sys.executable, "-c", code))
    limits = RunLimits(max_stdout_bytes=cap, pipes=mode == "pipes")
    base = peak_mib()
    record = asyncio.run(EngineRun(command, limits, lambda line: None).run())
    figures = {"base_mib": base, "stdout_bytes": record.outcome.stdout_bytes}
    if mode == "sync":
        interpret(record.outcome, max_stdout_bytes=cap)
    elif mode == "deferrable":
        payload = json.dumps(wire.pack(record, command, {}))
        figures["event_bytes"] = len(payload)
    else:
        figures["record_bytes"] = len(json.dumps(wire.pack(record, command, {})["pipes"]))
    figures["peak_mib"] = peak_mib()
    print(json.dumps(figures))
    """
)


def measure(code_dir: Path, mode: str, engine: str, cap: int) -> dict[str, float]:
    """Run one measurement in a fresh interpreter that imports the provider from ``code_dir``."""
    env = {**os.environ, "PYTHONPATH": str(code_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, engine, str(cap)],
        capture_output=True,
        text=True,
        env=env,
        cwd=code_dir,
        check=True,
        timeout=600,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--code", type=Path, default=HERE.parent, help="checkout whose provider to measure")
    parser.add_argument("--cap-mib", type=int, default=128)
    parser.add_argument("--write-mib", type=int, default=384)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--only", choices=("stdout", "pipes"), default=None)
    args = parser.parse_args()
    cap = args.cap_mib << 20
    print(f"provider from {args.code}")
    if args.only in (None, "stdout"):
        flood = FLOOD.format(mib=args.write_mib)
        for mode in ("sync", "deferrable"):
            got = measure(args.code, mode, flood, cap)
            event = f", event {got['event_bytes'] / 1e6:.1f} MB" if "event_bytes" in got else ""
            print(
                f"stdout {args.write_mib} MiB vs cap {args.cap_mib} MiB, {mode}: "
                f"peak {got['peak_mib']:.0f} MiB (after imports {got['base_mib']:.0f} MiB){event}"
            )
    if args.only in (None, "pipes"):
        got = measure(args.code, "pipes", REPORTS.format(messages=args.messages), cap)
        print(
            f"pipes {args.messages:,} check reports: +{got['peak_mib'] - got['base_mib']:.0f} MiB over "
            f"{got['base_mib']:.0f} MiB after imports; packed record {got['record_bytes'] / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
