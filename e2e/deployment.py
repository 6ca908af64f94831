"""The deployment under test: a private PostgreSQL and the Airflow 3 services, all on loopback.

PostgreSQL runs from a data directory under the run's temp dir, as the ``postgres`` user (initdb
refuses root), on a private port. Airflow gets a throwaway AIRFLOW_HOME and one process per service,
each in its own process group with its own log file: by default (``make e2e``) LocalExecutor and
scheduler, dag-processor, triggerer, api-server; a :class:`Topology` asks for another executor and
more triggerers and Celery workers (``make e2e-distributed``: ``triggerer-1``, ``triggerer-2``,
``worker-1``, ``worker-2``). Every process started here carries ``ROCKY_E2E_SESSION`` in its
environment, so whatever is still alive at the end (re-parented orphans included) can be found from
outside, and ``ROCKY_E2E_SERVICE=<service name>``, so an engine's record tells which service ran it.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import pwd
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from system import (
    ROOT,
    E2EError,
    Service,
    free_port,
    pid_alive,
    port_is_free,
    run,
    tail,
)

MARKER_NAME = "ROCKY_E2E_SESSION"
PG_PORT = 54329
SQL = "CREATE DATABASE airflow"
ROCKY_TOML = '[adapter]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
AIRFLOW_SERVICES = ("scheduler", "dag-processor", "triggerer", "api-server")
#: By kind; a numbered service (``worker-2``) stops with its kind. Workers before the api-server:
#: their tasks need the Execution API to finish.
STOP_ORDER = ("scheduler", "dag-processor", "triggerer", "worker", "api-server")
#: The projects of e2e/dags/rocky_e2e.py's scratch tasks and rocky_e2e_watch.py's watcher (one each).
SCRATCH_PROJECTS = (
    "failure-budget",
    "failure-compile",
    "kill",
    "kill-sync",
    "restart",
    "start-from-trigger",
    "watch",
    "view",  # e2e/dags/rocky_e2e_view.py (the Rocky view's partial run)
    # make e2e-distributed (e2e/dags_distributed/)
    "fanout",
    "triggerer-kill",
    "worker-kill",
    "event-loss",
)


class Broker(Protocol):
    """A message broker the deployment starts before its services and stops after them (``broker.Redis``)."""

    def start(self) -> None: ...

    def stop(self) -> bool: ...


@dataclass(frozen=True)
class Topology:
    """Which Airflow services run: the executor, how many triggerers and Celery workers, which DAGs."""

    executor: str = "LocalExecutor"
    triggerers: int = 1
    workers: int = 0  # Celery workers (``airflow celery worker``)
    worker_concurrency: int = 4
    #: ``airflow triggerer --capacity``: below the number of deferred tasks, so every triggerer gets some
    triggerer_capacity: int | None = None
    dag_dirs: tuple[str, ...] = ("example_dags", "e2e/dags")

    def services(self) -> tuple[str, ...]:
        """Service names in start order; one triggerer is ``triggerer``, several are numbered."""
        if self.triggerers == 1 and not self.workers:
            return AIRFLOW_SERVICES
        triggerers = _numbered("triggerer", self.triggerers)
        return ("scheduler", "dag-processor", *triggerers, *_numbered("worker", self.workers), "api-server")


def _numbered(kind: str, count: int) -> list[str]:
    return [kind] if count == 1 and kind == "triggerer" else [f"{kind}-{i}" for i in range(1, count + 1)]


def kind_of(name: str) -> str:
    """``worker-2`` -> ``worker``; ``dag-processor`` stays itself."""
    head, _, number = name.rpartition("-")
    return head if number.isdigit() else name


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise E2EError(f"PostgreSQL's {name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class Postgres:
    """A throwaway cluster: initdb, pg_ctl start on 127.0.0.1:<port>, one database, pg_ctl stop."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.data = base / "pgdata"
        self.sock = base / "pgsock"
        self.log = base / "logs" / "postgres.log"
        self.env = env
        self.port = PG_PORT if port_is_free(PG_PORT) else free_port()
        self.postmaster_pid: int | None = None
        self.user = "postgres"

    def _as_user(self, argv: list[str], timeout: float = 120) -> str:
        return run(["runuser", "-u", self.user, "--", *argv], env=self.env, timeout=timeout)

    def start(self) -> None:
        try:
            entry = pwd.getpwnam(self.user)
        except KeyError as err:
            raise E2EError("no `postgres` user: is Debian's postgresql package installed?") from err
        for path in (self.data, self.sock):
            path.mkdir(mode=0o700)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log.touch()
        os.chown(self.log, entry.pw_uid, entry.pw_gid)
        self._as_user(
            [
                _pg_bin("initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
                *("--no-instructions", "--no-sync"),
            ]
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.sock} "
            "-c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_user(
            [_pg_bin("pg_ctl"), *("-D", str(self.data), "-l", str(self.log), "-o", options), "-w", "start"]
        )
        self.postmaster_pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self._as_user(
            [_pg_bin("psql"), *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"), "-q", "-c", SQL]
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def stop(self) -> bool:
        """``pg_ctl stop -m fast``; True when the postmaster is gone afterwards."""
        if self.postmaster_pid is None:
            return True
        try:
            self._as_user([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"])
        except E2EError as err:
            print(f"  pg_ctl stop: {err}", flush=True)
        deadline = time.monotonic() + 30
        while pid_alive(self.postmaster_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return not pid_alive(self.postmaster_pid)


class Deployment:
    """Throwaway AIRFLOW_HOME, the Rocky project(s), the connections, and the Airflow services."""

    def __init__(self, base: Path, bindir: Path, topology: Topology | None = None) -> None:
        self.base = base
        self.bindir = bindir
        self.topology = topology or Topology()
        self.home = base / "airflow"
        self.logs = base / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.project = base / "project"  # the quickstart's project: a real DuckDB warehouse
        self.scratch = base / "scratch"  # the failure, kill and restart scenarios: never the warehouse
        self.record = base / "rocky-record.jsonl"
        self.marker = f"rocky-e2e-{uuid.uuid4().hex}"
        self.api_port = free_port()
        self.services: dict[str, Service] = {}
        self.retired: list[Service] = []  # services stopped mid-run (the old triggerer)
        self.base_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "ROCKY_"))
        }
        self.base_env[MARKER_NAME] = self.marker
        self.postgres = Postgres(base, self.base_env)
        self.broker: Broker | None = None  # CeleryExecutor's Redis, set by the caller
        self.env: dict[str, str] = {}

    @property
    def warehouse(self) -> Path:
        return self.project / "warehouse.duckdb"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def prepare(self) -> None:
        """Projects, stand-in engine, DAGs folder and the environment every Airflow process gets."""
        for project in (self.project, self.scratch, *(self.scratch / name for name in SCRATCH_PROJECTS)):
            project.mkdir()
            (project / "rocky.toml").write_text(ROCKY_TOML)
        standin = run(
            [
                str(self.bindir / "python"),
                "-c",
                "import sys; from airflow_provider_rocky.testing import install_standin;"
                " print(install_standin(sys.argv[1]))",
                str(self.base / "engine"),
            ]
        ).strip()
        dags = self.home / "dags"
        dags.mkdir(parents=True)
        for folder in self.topology.dag_dirs:
            for source in (ROOT / folder).glob("*.py"):
                shutil.copy(source, dags / source.name)

        def rocky_conn(project: Path) -> str:
            extra = {
                "binary_path": standin,
                "project_dir": str(project),
                "asset_namespace": f"duckdb://{project / 'warehouse.duckdb'}",
                # The delay is in the services' environment (the engine inherits it), not here: Airflow
                # registers every extra value with its masker, and a value under 5 characters ("0.3")
                # makes it warn "Skipping masking for a secret as it's too short" on every run.
                "env": {"ROCKY_STANDIN_RECORD": str(self.record)},
            }
            return json.dumps({"conn_type": "rocky", "extra": extra})

        self.env = {
            **self.base_env,
            "AIRFLOW_HOME": str(self.home),
            "ROCKY_STANDIN_DELAY": "0.3",
            "AIRFLOW__CORE__EXECUTOR": self.topology.executor,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
            # The supervisor notices a deferring task's exit at its next heartbeat (default every 5 s);
            # a trigger that fires sooner races Airflow 3.3.2's scheduler into failing the resumed task
            # ("finished with state success, but the task instance's state attribute is queued").
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__OPENLINEAGE__DISABLED": "True",
            "AIRFLOW_CONN_ROCKY_DEFAULT": rocky_conn(self.project),
            "AIRFLOW_CONN_ROCKY_E2E_SCRATCH": rocky_conn(self.scratch),
            "AIRFLOW_CONN_ROCKY_DUCKDB_DEFAULT": json.dumps(
                {"conn_type": "rocky_duckdb", "host": str(self.warehouse)}
            ),
            "ROCKY_EXAMPLE_WAREHOUSE": str(self.warehouse),
            "ROCKY_E2E_RECORD": str(self.record),
            "ROCKY_E2E_SCRATCH": str(self.scratch),
            "PATH": f"{self.bindir}{os.pathsep}{self.base_env.get('PATH', '')}",
        }

    def airflow(self, *args: str, timeout: float = 300) -> str:
        return run([str(self.bindir / "airflow"), *args], env=self.env, timeout=timeout)

    def service(self, name: str) -> Service:
        count = sum(1 for s in [*self.retired, *self.services.values()] if s.name == name)
        log = self.logs / (f"{name}.log" if not count else f"{name}-{count + 1}.log")
        return Service(name, self._argv(name), self._service_env(name), log)

    def _argv(self, name: str) -> list[str]:
        airflow, kind = str(self.bindir / "airflow"), kind_of(name)
        if kind == "api-server":
            return [airflow, kind, "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        if kind == "worker":
            concurrency = str(self.topology.worker_concurrency)
            return [airflow, "celery", "worker", "--celery-hostname", name, "--concurrency", concurrency]
        if kind == "triggerer" and self.topology.triggerer_capacity is not None:
            return [airflow, kind, "--capacity", str(self.topology.triggerer_capacity)]
        return [airflow, kind]

    def _service_env(self, name: str) -> dict[str, str]:
        """The shared environment, the service's name, and its own log-server port when numbered."""
        env = {**self.env, "ROCKY_E2E_SERVICE": name}
        if kind_of(name) == "worker":
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        elif name.startswith("triggerer-"):
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        return env

    def start(self) -> None:
        """The broker (if any), PostgreSQL, ``airflow db migrate``, then the services."""
        if self.broker is not None:
            self.broker.start()
        self.postgres.start()
        self.airflow("db", "migrate", timeout=300)
        for name in self.topology.services():
            service = self.service(name)
            service.start()
            self.services[name] = service

    def dead_services(self) -> list[Service]:
        return [service for service in self.services.values() if not service.running()]

    def restart_triggerer(self, grace: float = 60.0) -> tuple[bool, float]:
        """SIGTERM the triggerer's group, wait for it, start a new one; (stopped in time, seconds)."""
        old = self.services["triggerer"]
        began = time.monotonic()
        clean = old.stop(grace=grace)
        took = time.monotonic() - began
        self.retired.append(old)
        new = self.service("triggerer")
        new.start()
        self.services["triggerer"] = new
        return clean, took

    def stop(self) -> tuple[list[str], bool]:
        """Stop every service group, then PostgreSQL: (services that needed SIGKILL, PostgreSQL stopped).

        The scheduler goes first and the api-server last: tasks still running when the scheduler
        is told to stop need the api-server (Execution API) to finish.
        """
        killed = []
        for kind in STOP_ORDER:
            for service in [s for s in [*self.retired, *self.services.values()] if kind_of(s.name) == kind]:
                if not service.stop(grace=30):
                    killed.append(service.name)
        if self.broker is not None and not self.broker.stop():
            killed.append("redis")
        return killed, self.postgres.stop()

    def log_tail(self, name: str, lines: int = 12) -> str:
        service = self.services.get(name)
        return service.describe() if service is not None else tail(self.logs / f"{name}.log", lines)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 1.0) -> bool:
    """Poll ``predicate`` until it returns truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
