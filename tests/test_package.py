"""The package's shape: a lazy public face, no import cycles, modules of one role each."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_provider_rocky

PACKAGE = Path(airflow_provider_rocky.__file__).resolve().parent
MAX_MODULE_LINES = 400


def test_importing_the_package_imports_nothing_else() -> None:
    """Provider discovery imports the package: it must not load Airflow, operators or rocky-sdk."""
    code = (
        "import sys, airflow_provider_rocky as p; "
        "print(sorted(m for m in sys.modules if m.startswith(('airflow', 'rocky_sdk')) and m != p.__name__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", [n for n in airflow_provider_rocky.__all__ if n != "__version__"])
def test_every_public_name_is_the_object_its_module_defines(name: str) -> None:
    value = getattr(airflow_provider_rocky, name)
    module = importlib.import_module(airflow_provider_rocky._EXPORTS[name])
    assert value is getattr(module, name)
    assert name in dir(airflow_provider_rocky)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="RockyOperater"):
        _ = airflow_provider_rocky.RockyOperater  # type: ignore[attr-defined]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports, type-only imports included."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            out.update({base, *(f"{base}.{alias.name}" for alias in node.names)})
    return {target for target in out if target in known and target != name}


def test_there_is_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        for target in graph[name]:
            if target in trail:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert cycles == []


def test_no_module_passes_the_size_where_it_does_two_jobs() -> None:
    sizes = {name: path.read_text().count("\n") for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_internals_are_marked_and_the_face_is_declared() -> None:
    """Internal packages start with ``_``; every public module of the face declares ``__all__``."""
    public = [
        "airflow_provider_rocky.assets",
        "airflow_provider_rocky.exceptions",
        "airflow_provider_rocky.hooks.rocky",
        "airflow_provider_rocky.hooks.duckdb",
        "airflow_provider_rocky.manifest",
        "airflow_provider_rocky.operators.base",
        "airflow_provider_rocky.operators.materialize",
        "airflow_provider_rocky.operators.rocky",
        "airflow_provider_rocky.operators.gates",
        "airflow_provider_rocky.operators.plan",
        "airflow_provider_rocky.operators.seed",
        "airflow_provider_rocky.operators.run_dag",
        "airflow_provider_rocky.operators.watch",
        "airflow_provider_rocky.operators.watch_producer",
        "airflow_provider_rocky.task_group",
        "airflow_provider_rocky.triggers.rocky",
        "airflow_provider_rocky.triggers.source_sync",
        "airflow_provider_rocky.triggers.watch",
        "airflow_provider_rocky.retry",
        "airflow_provider_rocky.testing",
        "airflow_provider_rocky.version_compat",
        "airflow_provider_rocky.ui.plugin",
    ]
    for name in public:
        module = importlib.import_module(name)
        assert module.__all__, name
        assert all(hasattr(module, item) for item in module.__all__), name
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages == {
        "_engine",
        "_project",
        "_task",
        "_verdict",
        "_watch",
        "hooks",
        "operators",
        "triggers",
        "testing",
        "ui",
    }


def test_importing_an_operator_loads_what_building_a_task_needs_not_what_running_one_does() -> None:
    """A DAG file pays for the operator, not for the interpreters, the trigger or the hook (parse cost:
    benchmarks/README.md, ``dag_parse_rocky_vs_bash``)."""
    code = (
        "import sys, airflow_provider_rocky.operators.rocky, airflow_provider_rocky.operators.seed, "
        "airflow_provider_rocky.operators.run_dag; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_rocky')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(ast.literal_eval(loaded.stdout.strip().splitlines()[-1]))
    heavy = {"_task.commands", "_task.request", "_verdict", "triggers.rocky", "hooks.rocky", "_engine.run"}
    assert not {m for m in modules if any(m.startswith(f"airflow_provider_rocky.{h}") for h in heavy)}


def test_a_lazy_command_is_the_declared_one() -> None:
    from airflow_provider_rocky._engine import defaults, process
    from airflow_provider_rocky._task import commands
    from airflow_provider_rocky.hooks.rocky import RockyHook
    from airflow_provider_rocky.operators.rocky import RockyOperator
    from airflow_provider_rocky.operators.run_dag import RockyRunDagOperator
    from airflow_provider_rocky.operators.seed import RockySeedOperator

    for operator, spec in (
        (RockyOperator, commands.RUN),
        (RockySeedOperator, commands.SEED),
        (RockyRunDagOperator, commands.RUN_DAG),
    ):
        lazy = operator.command
        assert (lazy.name, lazy.args, lazy.templated, lazy.flags) == (
            spec.name,
            spec.args,
            spec.templated,
            spec.flags,
        )
        assert (lazy.interpret, lazy.min_engine_version, lazy.emits_assets) == (
            spec.interpret,
            spec.min_engine_version,
            spec.emits_assets,
        )
        assert tuple(operator.template_fields) == spec.templated
    assert RockyHook.default_conn_name == defaults.DEFAULT_CONN_ID
    assert process.DEFAULT_TERM_GRACE_SECONDS == defaults.DEFAULT_TERM_GRACE_SECONDS
