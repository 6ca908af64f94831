# Two front doors: `make demo` runs the example DAG end to end, `make test` runs the test suite.
# Both bootstrap everything they need on a machine with only Python 3.11 and make: uv is installed
# into .tools/, the environments are built by uv with compiled bytecode (PYTHONDONTWRITEBYTECODE is
# set on our machines, and an uncompiled Airflow costs seconds per import).

PYTHON ?= python3.11
UV_VERSION ?= 0.13.9
# The lowest Airflow and rocky-sdk the package claims, tested together beside the locked (newest) pair.
AIRFLOW_LOWEST ?= 3.1.8
ROCKY_SDK_LOWEST ?= 0.15.0
UV := .tools/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_COMPILE_BYTECODE := 1
# Tests run on every core (pytest-xdist): each worker has its own AIRFLOW_HOME, metadata DB and orphan
# marker (tests/conftest.py), so workers share nothing but the machine.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?= -q -n $(PYTEST_WORKERS)

.PHONY: demo test test-fast docs test-newest test-lowest lint e2e e2e-distributed bench clean coinstall test-load bench-taskgroup postgres-for-tests test-fab bench-view e2e-view-31 e2e-hostile

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The locked environment: newest supported Airflow, every extra, the dev group.
.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras
	touch $@

# The lowest supported Airflow and rocky-sdk: same project and dev group, both pinned, the rest resolved by uv.
# cryptography 51 made MultiFernet a Rust class that takes no attribute, and Airflow 3.1's get_fernet()
# sets one (`is_encrypted`): with any [core] fernet_key, 3.1.8 then fails every deferral and Variable
# write (Airflow 3.3 wraps it). A 3.1 deployment needs cryptography<51, so the lowest environment pins it.
.venv-lowest/.synced: $(UV) pyproject.toml uv.lock
	$(UV) venv --quiet --allow-existing .venv-lowest
	$(UV) pip install --quiet --python .venv-lowest/bin/python -e ".[duckdb,openlineage]" --group dev "apache-airflow==$(AIRFLOW_LOWEST)" "rocky-sdk==$(ROCKY_SDK_LOWEST)" "cryptography<51"
	touch $@

demo: .venv/.synced
	.venv/bin/python scripts/demo.py

test: lint postgres-for-tests test-newest test-lowest

# tests/task/test_storable_postgres.py needs a PostgreSQL server (JSONB refuses what SQLite stores):
# installed with apt-get when missing and possible (root on Debian), as `make e2e` does; without it
# that test module skips and says why.
postgres-for-tests:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "installing postgresql (apt-get) for tests/task/test_storable_postgres.py"; \
		  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1; \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; }; } || true

lint: .venv/.synced
	.venv/bin/ruff check airflow_provider_rocky tests example_dags e2e benchmarks scripts
	.venv/bin/ruff format --check airflow_provider_rocky tests example_dags e2e benchmarks scripts
	.venv/bin/mypy

# The inner loop: everything but the dag.test() runs (which need the metadata DB), newest Airflow only.
test-fast: .venv/.synced
	.venv/bin/python -m pytest $(PYTEST_ARGS) -m "not dag_test"

# The docs/ pages as a site in site/: mkdocs --strict fails on a broken link, anchor or nav entry
# between the pages (mkdocs.yml); scripts/check_links.py checks what mkdocs cannot see: README.md's and
# CHANGELOG.md's links, and every anchor as the repository's web view names it.
docs: .venv/.synced
	.venv/bin/python scripts/check_links.py
	.venv/bin/mkdocs build --strict

test-newest: .venv/.synced
	.venv/bin/python -m pytest $(PYTEST_ARGS)

test-lowest: .venv-lowest/.synced
	.venv-lowest/bin/python -m pytest $(PYTEST_ARGS)

# The provider in one environment with dagster-rocky 1.74 (rocky-sdk 0.29): resolves, imports, reads.
coinstall: $(UV)
	$(UV) venv --quiet --allow-existing .venv-coinstall
	$(UV) pip install --quiet --python .venv-coinstall/bin/python -e . "dagster-rocky==1.74.0"
	.venv-coinstall/bin/python scripts/coinstall_check.py

# The Rocky view under FAB's auth manager and FAB's per-DAG permissions (tests/ui/test_view_fab.py).
# FAB cannot join the locked environment (Flask-AppBuilder 5.2.2 needs python-dateutil < 3, the lock has
# 4.0), so it gets its own: the locked Airflow version and FAB, resolved freshly.
AIRFLOW_NEWEST ?= 3.3.2
FAB_VERSION ?= 3.10.2
.venv-fab/.synced: $(UV) pyproject.toml
	$(UV) venv --quiet --allow-existing .venv-fab
	$(UV) pip install --quiet --python .venv-fab/bin/python -e ".[duckdb]" --group dev "apache-airflow==$(AIRFLOW_NEWEST)" "apache-airflow-providers-fab==$(FAB_VERSION)"
	touch $@

test-fab: .venv-fab/.synced
	AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager \
		.venv-fab/bin/python -m pytest $(PYTEST_ARGS) tests/ui/test_view_fab.py

# The process and trigger tests under CPU load: the no-orphan promise must hold by construction, not
# because the machine was idle. Load: stress-ng (Debian; installed with apt-get when missing and
# possible), else busy Python processes; either way started here and ended by pid when pytest ends.
LOAD_TESTS ?= tests/engine/test_process.py tests/engine/test_descendants.py tests/engine/test_spawn.py \
	tests/engine/test_pipes.py tests/triggers/test_trigger.py
LOAD_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
test-load: .venv/.synced
	@command -v stress-ng >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq stress-ng >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq stress-ng >/dev/null 2>&1; }; }; } || true
	@pids=""; \
	if command -v stress-ng >/dev/null 2>&1; then \
		stress-ng --cpu $(LOAD_WORKERS) --quiet & pids=$$!; \
		echo "load: stress-ng --cpu $(LOAD_WORKERS) (pid $$pids)"; \
	else \
		for i in $$(seq $(LOAD_WORKERS)); do $(PYTHON) -c 'while True: pass' & pids="$$pids $$!"; done; \
		echo "load: $(LOAD_WORKERS) busy Python processes (pids$$pids)"; \
	fi; \
	trap 'kill $$pids 2>/dev/null; wait $$pids 2>/dev/null' EXIT; \
	uptime; .venv/bin/python -m pytest $(PYTEST_ARGS) $(LOAD_TESTS); status=$$?; uptime; exit $$status

# The bench dependency group (cosmos, for the parse comparison), in its own environment.
.venv-bench/.synced: $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=.venv-bench $(UV) sync --locked --all-extras --group bench
	touch $@

# The performance goals against rocky-sdk and cosmos (benchmarks/README.md); BENCH_ARGS=--quick for
# the short run that only prints.
bench: .venv/.synced .venv-bench/.synced
	.venv/bin/python benchmarks/run.py $(BENCH_ARGS)

# RockyTaskGroup vs cosmos's DbtTaskGroup (parse) and the group's two shapes, in the bench group's venv.
bench-taskgroup: .venv-bench/.synced
	.venv-bench/bin/python benchmarks/bench_taskgroup.py

# How long the Rocky view takes to draw at 100, 1,000 and 10,000 tables (headless Chromium).
bench-view: .venv/.synced
	.venv/bin/python benchmarks/bench_view.py $(BENCH_ARGS)

clean:
	rm -rf .tools .venv .venv-lowest .venv-coinstall .venv-bench .venv-fab .demo site

e2e: .venv/.synced
	.venv/bin/python e2e/run.py

# The Rocky view drawn by Airflow 3.1.8's own UI (the lowest supported; `make e2e` runs 3.3)
e2e-view-31: .venv/.synced .venv-lowest/.synced
	.venv/bin/python e2e/view_airflow31.py

# A hostile manifest (a NUL, a lone surrogate) beside good DAGs under a real dag-processor on
# PostgreSQL: it keeps running, the good DAGs are saved, the hostile files are import errors.
e2e-hostile: .venv/.synced
	.venv/bin/python e2e/run_hostile.py $(HOSTILE_ARGS)

# CeleryExecutor (Redis broker), two workers, two triggerers, SIGKILL faults (e2e/README.md)
e2e-distributed: .venv/.synced
	.venv/bin/python e2e/run_distributed.py
