"""Command-line parsing that mirrors the clap definition of rocky 1.71.0 (contract §1.1-§1.2).

Clap-level problems (unknown flag, conflicting or missing flags, a value that does not parse) raise
``UsageError``: the engine prints clap's usage text and exits 2 with nothing on stdout. Problems clap
accepts but the engine later refuses are ``CommandError`` (``Error: ...`` and exit 1) and live in
``validation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky.testing._standin.flags import (
    GLOBAL,
    OPTIONAL_POSITIONALS,
    POSITIONALS,
    RUN,
    RUN_CONFLICTS,
    RUN_REQUIRES,
    SINCE,
    SUBCOMMAND_OPTS,
    SUBCOMMANDS,
    TOP_LEVEL,
    EarlyExit,
    Opt,
    UsageError,
)
from airflow_provider_rocky.testing._standin.settings import STANDIN_VERSION

#: Subcommands the stand-in emulates; any other word is a clap "unrecognized subcommand" (exit 2).


@dataclass
class Invocation:
    """A parsed command line: the subcommand, global values and the subcommand's values by dest."""

    command: str
    config: str = "rocky.toml"
    output: str | None = None
    state_path: str | None = None
    state_namespace: str | None = None
    cache_ttl: int | None = None
    principal: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    given: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        """Value of a subcommand flag by its long name (``"idempotency-key"``), or ``default``."""
        return self.values.get(name.replace("-", "_"), default)

    def flag(self, name: str) -> bool:
        """True when the boolean subcommand flag ``--name`` was given."""
        return bool(self.values.get(name.replace("-", "_"), False))


HELP = f"""Rocky {STANDIN_VERSION} (stand-in from airflow_provider_rocky.testing)

Usage: rocky [OPTIONS] <COMMAND>

Commands:
  run        Execute a pipeline (replication, transformation models, partitions)
  doctor     Check config, state and adapters
  compile    Compile and type-check the models
  test       Run the models' tests locally (DuckDB)
  ci         Compile and test, for CI
  plan       Plan a run without executing it (persisted under .rocky/plans/)
  apply      Execute a persisted plan
  discover   List the sources and when each last synced
  freshness  Check source and model freshness (engines 1.74 and later)
  dag        Print the project's unified DAG (nodes, edges, execution layers)
  init       Initialize a new Rocky project (a DuckDB project that runs as it is)

Options:
  -c, --config <PATH>            [default: rocky.toml]
  -o, --output <OUTPUT>          [possible values: json, table, md]
      --state-path <PATH>
      --state-namespace <KEY>
      --cache-ttl <SECS>
      --principal <PRINCIPAL>    [possible values: human, agent]
  -h, --help                     Print help
  -V, --version                  Print version
"""


def _sub_help(command: str) -> str:
    lines = [f"Usage: rocky {command} [OPTIONS]", "", "Options:"]
    for opt in (*SUBCOMMAND_OPTS[command], *GLOBAL):
        short = f"-{opt.short}, " if opt.short else "    "
        lines.append(f"  {short}{opt.display()}")
    lines.append("  -h, --help")
    return "\n".join(lines) + "\n"


def _lookup(token: str, opts: Sequence[Opt]) -> tuple[Opt | None, str | None]:
    """Match ``--long[=v]`` / ``-s[v]`` / ``-s=v`` against ``opts``; return the option and inline value."""
    if token.startswith("--"):
        name, sep, inline = token[2:].partition("=")
        for opt in opts:
            if opt.long == name:
                return opt, inline if sep else None
        return None, None
    for opt in opts:
        if opt.short and token[1:2] == opt.short:
            rest = token[2:]
            if rest.startswith("="):
                rest = rest[1:]
            return opt, rest if len(token) > 2 else None
    return None, None


def _consume(
    tokens: list[str], index: int, opts: Sequence[Opt], target: dict[str, Any], seen: list[str], usage: str
) -> int:
    """Parse the option at ``tokens[index]`` into ``target``; return the index of the next token."""
    token = tokens[index]
    opt, inline = _lookup(token, opts)
    if opt is None:
        raise UsageError(f"unexpected argument '{token.split('=', 1)[0]}' found", usage=usage)
    if opt.long in seen and not opt.repeatable:
        raise UsageError(f"the argument '{opt.display()}' cannot be used multiple times", usage=usage)
    seen.append(opt.long)
    if opt.value is None:
        if inline is not None:
            raise UsageError(
                f"unexpected value '{inline}' for '--{opt.long}' found; no more were expected", usage=usage
            )
        target[opt.dest] = True
        return index + 1
    if inline is None:
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        if nxt is None or (nxt.startswith("-") and nxt != "-"):
            raise UsageError(f"a value is required for '{opt.display()}' but none was supplied", usage=usage)
        inline, index = nxt, index + 1
    try:
        value: Any = opt.parse(inline, opt) if opt.parse else inline
    except UsageError as exc:
        exc.usage = usage
        raise
    if opt.repeatable:
        target.setdefault(opt.dest, []).append(value)
    else:
        target[opt.dest] = value
    return index + 1


def _check_run_relations(seen: Sequence[str]) -> None:
    by_long = {opt.long: opt for opt in RUN}
    for left, right in RUN_CONFLICTS:
        if left in seen and right in seen:
            first, second = sorted((left, right), key=seen.index)
            raise UsageError(
                f"the argument '{by_long[first].display()}' cannot be used with '{by_long[second].display()}'"
            )
    for needs, other in RUN_REQUIRES:
        if needs in seen and other not in seen:
            raise UsageError(
                f"the following required arguments were not provided:\n  {by_long[other].display()}"
            )


def _too_new(command: str, version: str) -> bool:
    """A subcommand this engine version does not have yet (clap then does not know it)."""
    since = SINCE.get(command)
    return since is not None and tuple(int(part) for part in version.split(".")) < since


def parse_argv(argv: Sequence[str], version: str = STANDIN_VERSION) -> Invocation:
    """Parse ``argv`` (without the program name) like clap; raise ``UsageError`` / ``EarlyExit``.

    ``version`` is what ``--version`` prints (``ROCKY_STANDIN_ENGINE_VERSION``).
    """
    tokens = list(argv)
    top: dict[str, Any] = {}
    seen: list[str] = []
    index = 0
    command: str | None = None
    top_usage = "rocky [OPTIONS] <COMMAND>"
    while index < len(tokens):
        token = tokens[index]
        if token in ("-V", "--version"):
            raise EarlyExit(f"rocky {version}\n")
        if token in ("-h", "--help"):
            raise EarlyExit(HELP)
        if token.startswith("-") and len(token) > 1:
            index = _consume(tokens, index, (*TOP_LEVEL, *GLOBAL), top, seen, top_usage)
            continue
        command = token
        index += 1
        break
    if command is None:
        raise UsageError(
            "'rocky' requires a subcommand but one was not provided\n"
            f"  [subcommands: {', '.join(SUBCOMMANDS)}]",
            usage=top_usage,
        )
    if command not in SUBCOMMANDS or _too_new(command, version):
        raise UsageError(
            f"unrecognized subcommand '{command}'",
            usage=top_usage,
            note="the rocky stand-in (airflow_provider_rocky.testing) emulates only "
            + ", ".join(f"'{name}'" for name in SUBCOMMANDS),
        )
    usage = f"rocky {command} [OPTIONS]" + "".join(f" <{name}>" for name in POSITIONALS.get(command, ()))
    values: dict[str, Any] = {}
    sub_seen: list[str] = []
    opts = (*SUBCOMMAND_OPTS[command], *GLOBAL)
    slots = list(POSITIONALS.get(command, ()))
    optional = list(OPTIONAL_POSITIONALS.get(command, ()))
    values.update({name.lower(): default for name, default in optional})
    while index < len(tokens):
        token = tokens[index]
        if token in ("-h", "--help"):
            raise EarlyExit(_sub_help(command))
        if not token.startswith("-") or len(token) == 1:
            if not slots and not optional:
                raise UsageError(f"unexpected argument '{token}' found", usage=usage)
            values[(slots.pop(0) if slots else optional.pop(0)[0]).lower()] = token
            index += 1
            continue
        index = _consume(tokens, index, opts, values, sub_seen, usage)
    if slots:
        missing = "\n".join(f"  <{name}>" for name in slots)
        raise UsageError(f"the following required arguments were not provided:\n{missing}", usage=usage)
    if command == "run":
        _check_run_relations(sub_seen)
    for opt in GLOBAL:  # a global given after the subcommand wins, as with clap's `global = true`
        if opt.dest in values:
            top[opt.dest] = values.pop(opt.dest)
    return Invocation(
        command=command,
        config=top.get("config", "rocky.toml"),
        output=top.get("output"),
        state_path=top.get("state_path"),
        state_namespace=top.get("state_namespace"),
        cache_ttl=top.get("cache_ttl"),
        principal=top.get("principal"),
        values=values,
        given=[*seen, *sub_seen],
    )
