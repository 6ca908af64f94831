"""``shape="watch"``: its run time against the other shapes, 1,000 node tasks waiting on one triggerer loop,
and how soon a node task hears of its node.

**shapes** (``bench_taskgroup.bench_shapes``): the stand-in's generated project of N models run end to
end with ``dag.test()`` in each shape (``nodes``, ``one_run``, ``watch``), the span from the first task's
start to the last task's end. ``dag.test()`` runs one task at a time, so the watch group's node tasks
run after its producer, not while it runs as on a deployment: the figure is an upper bound for watch.

**waiting** (a child process): a real metadata DB (SQLite) holding a watch group's run of N node
tasks, its producer ``running`` with a head of its report. One poller read (``reading.poll``: the
producer's state, its head, its state again) through the Task SDK's calls and Airflow's execution API
in process (the API server's route code and SQL) gives the SQL statements and the time one read
costs; the metadata DB's statements per second are then one read per poll interval (shared) against
one per waiting task per interval (a poller per task, as cosmos's consumers poll). Then N
``RockyWatchTrigger`` instances on one event loop, each read taking that time in a thread (the API
server's work is another process's in a deployment): a 10 ms ticker's lag on that loop while they
wait, and when the report names every node at once (all N fire).

**liveness**: a real ``rocky run --dag`` of the stand-in (``ROCKY_STANDIN_DELAY`` per node) supervised
by ``EngineRun``, its stream read by the tracker and published every 0.5 s into an in-memory XCom
store; one trigger per node polling it every 2 s (the defaults): per node, the seconds from its last
engine line to the tracker's verdict (the engine's side: a completion is known when the next layer
starts) and from the verdict to its trigger firing (the provider's side).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bench_common as common

HERE = Path(__file__).resolve().parent


def shapes(models: int, reps: int, delay: str) -> dict[str, Any]:
    """The three shapes under ``dag.test()`` (``bench_taskgroup.py --only shapes``), here in .venv."""
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench_taskgroup.py"),
            "--only",
            "shapes",
            "--shape-nodes",
            str(models),
            "--shape-reps",
            str(reps),
            "--delay",
            delay,
        ],
        capture_output=True,
        text=True,
        timeout=4 * 3600,
        start_new_session=True,
        check=False,
        env={**os.environ, "BENCH_SHAPES": "nodes,one_run,watch"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench_taskgroup.py --only shapes failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])["shapes"]
    return result


# -- waiting: N triggers on one loop, through the execution API ------------------------------------

WAIT_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_rocky import RockyTaskGroup
with DAG("bench_watch", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    RockyTaskGroup("p", manifest={manifest!r}, shape="watch", state_isolation="none",
                   operator_args={{"binary_path": "rocky"}})
"""


def child_waiting(ctx: common.Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """In a fresh interpreter: see the module docstring (``waiting``)."""
    count, seconds, interval = int(params["triggers"]), float(params["seconds"]), float(params["interval"])
    where, dag = _waiting_db(ctx, count)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = [0]

    def counted(*_args: Any) -> None:
        statements[0] += 1

    event.listen(Engine, "before_cursor_execute", counted)
    from airflow_provider_rocky._watch import reading

    with _in_process_comms(dag):  # one read as a poller makes it, through the execution API's routes
        reading.poll(where)
        rounds, before, started = 20, statements[0], time.perf_counter()
        for _ in range(rounds):
            observed = reading.poll(where)
        per_round = (statements[0] - before) / rounds
        api_s = (time.perf_counter() - started) / rounds
    result = asyncio.run(_wait(observed, count, seconds, interval, api_s))
    return {
        **result,
        "statements_per_read": per_round,
        "read_api_ms": api_s * 1000,
        "statements_per_s_shared": per_round / interval,
        "statements_per_s_per_trigger": count * per_round / interval,
    }


def _waiting_db(ctx: common.Ctx, count: int) -> tuple[Any, Any]:
    """A watch group's DAG run whose producer is running and has reported nothing on its nodes."""
    from airflow_provider_rocky.testing._standin.project import dag_document, synthetic_nodes

    folder = ctx.workdir / "watch_dags"
    folder.mkdir(exist_ok=True)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(dag_document(synthetic_nodes(count + 2), "1.71.0")))
    (folder / "bench_watch_dag.py").write_text(WAIT_DAG.format(manifest=str(manifest)))
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(folder)  # before Airflow reads its configuration
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    sys.path.insert(0, str(folder))
    from airflow.utils import db

    db.resetdb()
    import bench_watch_dag

    dag = bench_watch_dag.dag
    run = dag.test(mark_success_pattern=".*")  # the run and its task instances, nothing executed
    from airflow_provider_rocky._watch import reading

    where = reading.Where(dag.dag_id, run.run_id, "p.run_dag")
    _set_producer(where, "running", final=False, nodes={})
    return where, dag


def _set_producer(where: Any, state: str, *, final: bool, nodes: dict[str, str]) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    from airflow_provider_rocky._watch.protocol import HEAD_KEY, Head

    now = time.time()
    head = Head("bench", 1, now, now, final=final, nodes=nodes).as_xcom()
    with create_session() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == where.dag_id, TaskInstance.run_id == where.run_id)
            .where(TaskInstance.task_id == where.producer)
            .values(state=state)
        )
        XComModel.set(
            HEAD_KEY,
            head,
            dag_id=where.dag_id,
            task_id=where.producer,
            run_id=where.run_id,
            serialize=False,
            session=session,
        )
        session.flush()
        assert session.scalar(select(TaskInstance.state).where(TaskInstance.task_id == where.producer))


class _in_process_comms:
    """``SUPERVISOR_COMMS`` answered by the in-process execution API (what ``dag.test()`` uses)."""

    def __init__(self, dag: Any) -> None:
        self.dag = dag

    def __enter__(self) -> None:
        import psutil
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms, InProcessTestSupervisor

        supervisor = InProcessTestSupervisor(
            id="0" * 32,
            pid=os.getpid(),
            process=psutil.Process(),
            process_log=None,
            client=InProcessTestSupervisor._api_client(self.dag),
        )
        supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
        self.saved = getattr(task_runner, "SUPERVISOR_COMMS", None)
        task_runner.SUPERVISOR_COMMS = supervisor.comms

    def __exit__(self, *_exc: Any) -> None:
        from airflow.sdk.execution_time import task_runner

        task_runner.SUPERVISOR_COMMS = self.saved


async def _wait(observed: Any, count: int, seconds: float, interval: float, api_s: float) -> dict[str, Any]:
    """N triggers on this loop; each read costs the loop what the triggerer's does (the API is elsewhere)."""
    from airflow_provider_rocky._watch.decide import Observed
    from airflow_provider_rocky._watch.protocol import Head
    from airflow_provider_rocky.triggers.watch import RockyWatchTrigger

    node_ids = [f"transformation:m{i:05d}" for i in range(1, count + 1)]
    released: list[float] = []
    reads = [0]

    def fetch(_where: Any) -> Observed:  # in a thread, as the real read: the API's answer after its time
        reads[0] += 1
        time.sleep(api_s)
        if released:
            head = Head(
                "bench", 1, time.time(), time.time(), final=True, nodes=dict.fromkeys(node_ids, "completed")
            )
            return Observed("success", head, None, None, time.time())
        return Observed(observed.producer_state, observed.head, None, None, time.time())

    lags: list[float] = []
    fired: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - start - 0.01)

    async def wait_one(node_id: str) -> None:
        trigger = RockyWatchTrigger("bench_watch", "run", "p.run_dag", node_id, poll_seconds=interval)
        trigger.fetch = fetch
        async for _event in trigger.run():
            fired.append(time.perf_counter())

    tick = asyncio.create_task(ticker())
    waiters = [asyncio.create_task(wait_one(node_id)) for node_id in node_ids]
    await asyncio.sleep(interval * 2)  # every trigger is waiting
    lags.clear()
    before, started = reads[0], time.perf_counter()
    await asyncio.sleep(seconds)
    waited, waiting_reads, waiting_lags = time.perf_counter() - started, reads[0] - before, list(lags)
    released.append(time.perf_counter())
    lags.clear()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=300)
    burst = list(lags)
    stop.set()
    await tick
    return {
        "triggers": count,
        "poll_seconds": interval,
        "waited_s": waited,
        "reads_per_s": waiting_reads / waited,
        "lag_p99_ms": common.percentile(waiting_lags, 99) * 1000,
        "lag_max_ms": max(waiting_lags) * 1000,
        "release_s": max(fired) - released[0],
        "release_lag_p99_ms": common.percentile(burst, 99) * 1000 if burst else 0.0,
        "release_lag_max_ms": max(burst) * 1000 if burst else 0.0,
        "fired": len(fired),
    }


# -- liveness: a real engine run, published, heard ----------------------------------------------------


def liveness(ctx: common.Ctx, models: int, delay: float) -> dict[str, Any]:
    return asyncio.run(_liveness(ctx, models, delay))


async def _liveness(ctx: common.Ctx, models: int, delay: float) -> dict[str, Any]:
    from rocky_sdk.types_generated import DagRunOutput

    from airflow_provider_rocky._engine.command import RockyCommand
    from airflow_provider_rocky._engine.run import EngineRun, RunLimits
    from airflow_provider_rocky._watch import reading
    from airflow_provider_rocky._watch.decide import Observed
    from airflow_provider_rocky._watch.protocol import HEAD_KEY, Head
    from airflow_provider_rocky._watch.publisher import Publisher, publish
    from airflow_provider_rocky._watch.tracker import WatchTracker
    from airflow_provider_rocky.testing._standin.project import synthetic_nodes
    from airflow_provider_rocky.triggers.watch import RockyWatchTrigger

    project = ctx.workdir / "liveness"
    project.mkdir(exist_ok=True)
    (project / "rocky.toml").write_text('[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    env = {"ROCKY_STANDIN_DELAY": str(delay), "ROCKY_STANDIN_DAG_NODES": str(models)}
    command = RockyCommand(
        argv=(str(ctx.rocky), "--output", "json", "run", "--dag"), env=env, cwd=str(project)
    )
    store: dict[str, Any] = {}
    tracker = WatchTracker("bench", 1)
    last_line: dict[str, float] = {}
    decided: dict[str, float] = {}
    ended: list[bool] = []

    def push(key: str, value: Any) -> None:
        store[key] = json.loads(json.dumps(value))

    def sink(line: Any) -> None:
        tracker.feed(line)
        now = time.perf_counter()
        for node_id, node in tracker.nodes.items():
            if node.status is None:
                last_line[node_id] = now
            elif node_id not in decided:
                decided[node_id] = now

    def fetch(_where: Any) -> Observed:
        return Observed(
            "success" if ended else "running", Head.read(store.get(HEAD_KEY)), None, None, time.time()
        )

    ids = [
        n["id"]
        for n in synthetic_nodes(models)
        if n["kind"] in ("transformation", "load") and n.get("strategy", {}).get("type") != "ephemeral"
    ]
    heard: dict[str, float] = {}

    async def watch(node_id: str) -> None:
        trigger = RockyWatchTrigger("d", "r", "p.run_dag", node_id)
        trigger.fetch = fetch
        async for _event in trigger.run():
            heard[node_id] = time.perf_counter()

    async def produce() -> None:
        publish(tracker, push)
        publisher = Publisher(tracker, push)
        publisher.start()
        try:
            record = await EngineRun(command, RunLimits(), sink).run()
        finally:
            publisher.stop()
        tracker.finish(DagRunOutput.model_validate_json(record.outcome.stdout).nodes)
        publish(tracker, push)
        ended.append(True)

    del reading
    await asyncio.gather(produce(), *(watch(node_id) for node_id in ids))
    engine = [decided[n] - last_line[n] for n in ids if n in decided and n in last_line]
    provider = [heard[n] - decided[n] for n in ids if n in decided]
    return {
        "models": models,
        "delay_s": delay,
        "engine_side_p50_s": common.percentile(engine, 50),
        "engine_side_max_s": max(engine),
        "provider_side_p50_s": common.percentile(provider, 50),
        "provider_side_p95_s": common.percentile(provider, 95),
        "provider_side_max_s": max(provider),
        "nodes": len(ids),
    }
