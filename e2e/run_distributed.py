"""`make e2e-distributed`: the provider on CeleryExecutor with two workers and two triggerers, SIGKILL faults.

Redis (Debian's ``redis-server``, our own process on a free loopback port) as the broker, PostgreSQL as
the metadata DB and Celery result backend, scheduler, dag-processor, api-server, ``worker-1`` and
``worker-2`` (``airflow celery worker``) and ``triggerer-1`` and ``triggerer-2``, driven through the
REST API like `make e2e` (the same ``system``, ``deployment``, ``api`` and ``report`` modules).
One line per check; exit status 1 when any check failed. Run: ``make e2e-distributed``.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from api import AirflowAPI
from broker import REDIS_SERVER, Redis
from checks_distributed import check_fanout, check_worker_sigkill, stray_engines
from checks_handoff import check_event_loss_handoff, check_triggerer_sigkill_handoff
from checks_runs import Ctx, run_check
from deployment import MARKER_NAME, Deployment, Topology
from report import indent
from run import drive, progress
from system import E2EError, ensure_debian_packages, ensure_venv

TOPOLOGY = Topology(
    executor="CeleryExecutor",
    triggerers=2,
    workers=2,
    worker_concurrency=4,
    # 10 deferred tasks at once: a triggerer takes at most 4, so both run some (one alone took all 10)
    triggerer_capacity=4,
    dag_dirs=("e2e/dags_distributed",),
)
DAGS = ("rocky_e2e_fanout", "rocky_e2e_triggerer_kill", "rocky_e2e_worker_kill", "rocky_e2e_event_loss")
#: Tables reported, not written: twenty engines at once would queue on one DuckDB file's writer lock.
FANOUT_TOML = '[adapter]\ntype = "duckdb"\n'


def celery_env(dep: Deployment, redis: Redis) -> dict[str, str]:
    return {
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://postgres@127.0.0.1:{dep.postgres.port}/airflow",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(TOPOLOGY.worker_concurrency),
        # A task whose worker was SIGKILLed stops heartbeating: fail (and retry) it after 15 s, not 300.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    }


def setup(began: float) -> Deployment:
    """The deployment, prepared, its Redis broker set (``Deployment.start`` starts and stops it)."""
    progress("Debian packages (postgresql, redis-server), e2e venv", began)
    initdb = (glob.glob("/usr/lib/postgresql/*/bin/initdb") or ["/nonexistent"])[0]
    ensure_debian_packages({"postgresql": initdb, "redis-server": REDIS_SERVER})
    bindir = ensure_venv()
    base = Path(tempfile.mkdtemp(prefix="rocky-e2e-distributed-"))
    base.chmod(0o755)  # the postgres user must reach its data dir below
    dep = Deployment(base, bindir, TOPOLOGY)
    progress(f"deployment under {base}", began)
    dep.prepare()
    redis = Redis(base, dep.base_env)
    dep.broker = redis
    dep.env.update(celery_env(dep, redis))
    (dep.scratch / "fanout" / "rocky.toml").write_text(FANOUT_TOML)
    return dep


def wait_workers(dep: Deployment, timeout: float = 120) -> None:
    """Both Celery workers say ``ready`` in their logs (connected to the broker, consuming)."""
    deadline = time.monotonic() + timeout
    names = [name for name in dep.services if name.startswith("worker-")]
    while time.monotonic() < deadline:
        if all(" ready." in dep.services[n].log.read_text(errors="replace") for n in names):
            return
        if any(not dep.services[n].running() for n in names):
            break
        time.sleep(0.5)
    raise E2EError("Celery workers not ready:\n" + "\n".join(dep.log_tail(n) for n in names))


def sigkill_checks(ctx: Ctx) -> None:
    """Both faults at once (each on its own API client): the worker's task must still be running."""
    triggerer_run = ctx.api.trigger("rocky_e2e_triggerer_kill")
    worker_run = ctx.api.trigger("rocky_e2e_worker_kill")
    other = dataclasses.replace(ctx, api=AirflowAPI(ctx.dep.api_url))
    other.api.wait_ready(timeout=30)
    worker = threading.Thread(
        target=run_check,
        args=(
            other,
            "worker_sigkill: the engine dies with its worker; the retry runs once on the other",
            check_worker_sigkill,
            worker_run,
        ),
    )
    worker.start()
    run_check(
        ctx,
        "triggerer_sigkill_handoff: the engine dies with its triggerer; the copy that takes over ends "
        "within its bound, try 2 runs; each table written once",
        check_triggerer_sigkill_handoff,
        triggerer_run,
    )
    worker.join()
    other.api.close()


def event_loss_check(ctx: Ctx) -> None:
    """A third triggerer replaces the killed one; then the triggerer holding a finished run's event dies."""
    replacement = ctx.dep.service("triggerer-3")
    replacement.start()
    ctx.dep.services["triggerer-3"] = replacement
    run_check(
        ctx,
        "event_loss_handoff: SIGKILL between the engine's success and its event; the events arrive once",
        check_event_loss_handoff,
        ctx.api.trigger("rocky_e2e_event_loss"),
    )


def scenario_checks(ctx: Ctx, began: float) -> None:
    for dag_id in DAGS:
        ctx.api.unpause(dag_id)
    progress("celery fan-out: 20 mapped tasks (10 sync, 10 deferrable)", began)
    fanout_run = ctx.api.trigger("rocky_e2e_fanout")
    run_check(
        ctx,
        "celery_fanout: 20 tenants over both workers and both triggerers, all succeed, one run per try",
        check_fanout,
        fanout_run,
    )
    progress("SIGKILL of a triggerer and of a worker under a running engine", began)
    sigkill_checks(ctx)
    progress("SIGKILL of the triggerer holding a finished run's event", began)
    event_loss_check(ctx)
    left = stray_engines(MARKER_NAME, ctx.dep.marker)
    ctx.rep.verdict(
        "no_orphans: no engine process left once every task ended",
        not left,
        f"{len(left)} engine process(es) still running",
        indent("\n".join(left)),
        info="no process carries the provider's run token",
    )
    dead = [s.name for s in ctx.dep.dead_services()]
    ctx.rep.verdict(
        "services: every service not SIGKILLed on purpose ran to the end",
        not dead,
        f"exited early: {dead}",
        ctx.service_tails(*dead),
    )


def main() -> int:
    return drive(
        setup,
        scenario_checks,
        dags=DAGS,
        starting="Redis, PostgreSQL, db migrate, scheduler, dag-processor, 2 triggerers, 2 workers, api",
        deployed="deployment: CeleryExecutor, Redis, 2 workers, 2 triggerers on PostgreSQL",
        ready=wait_workers,
    )


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
