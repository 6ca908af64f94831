"""Command-line parsing that mirrors the clap definition of rocky 1.71.0 (contract §1.1-§1.2).

Clap-level problems (unknown flag, conflicting or missing flags, a value that does not parse) raise
``UsageError``: the engine prints clap's usage text and exits 2 with nothing on stdout. Problems clap
accepts but the engine later refuses are ``CommandError`` (``Error: ...`` and exit 1) and live in
``validation.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rocky.testing._standin.flags import (
    GLOBAL,
    OPTIONAL_POSITIONALS,
    POSITIONALS,
    SINCE,
    SUBCOMMAND_OPTS,
    SUBCOMMANDS,
    TOP_LEVEL,
    EarlyExit,
    Opt,
    UsageError,
)
from airflow_provider_rocky.testing._standin.settings import STANDIN_VERSION


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
            raise UsageError(f"a value is required for '{opt.display()}' but none was supplied", usage=None)
        inline, index = nxt, index + 1
    value: Any = opt.parse(inline, opt) if opt.parse else inline  # its errors carry no usage line
    if opt.repeatable:
        target.setdefault(opt.dest, []).append(value)
    else:
        target[opt.dest] = value
    return index + 1


def _check_relations(command: str, seen: Sequence[str]) -> None:
    """clap's validator: ``conflicts_with`` first, then ``requires`` (clap 4.6 ``Validator::validate``).

    Conflicts are checked for each given argument in command-line order (the order clap's matcher
    holds them); the first with a conflicting argument present is reported, against every such
    argument in command-line order. Its usage line is the command with the arguments given, minus
    the conflicting ones (``build_conflict_err_usage``).
    """
    by_long = {opt.long: opt for opt in SUBCOMMAND_OPTS[command]}
    given = [name for name in dict.fromkeys(seen) if name in by_long]
    for name in given:
        clash = [
            other
            for other in given
            if other != name and (other in by_long[name].conflicts or name in by_long[other].conflicts)
        ]
        if clash:
            shown = [by_long[other].display() for other in clash]
            tail = f" '{shown[0]}'" if len(shown) == 1 else ":" + "".join(f"\n  {s}" for s in shown)
            rest = [by_long[n].display() for n in given if n not in clash]
            raise UsageError(
                f"the argument '{by_long[name].display()}' cannot be used with{tail}",
                usage=" ".join([f"rocky {command}", *rest]),
            )
    missing = [need for name in given for need in by_long[name].requires if need not in given]
    if missing:
        wanted = list(dict.fromkeys(missing))
        listed = "".join(f"\n  {by_long[need].display()}" for need in wanted)
        usage = [f"rocky {command}", *(by_long[n].display() for n in [*given, *wanted])]
        raise UsageError(
            f"the following required arguments were not provided:{listed}", usage=" ".join(usage)
        )


#: Arguments clap fills from the environment when absent from argv (``#[arg(env = ...)]``).
ENV_ARGS = {
    ("run", "idempotency-key"): "ROCKY_IDEMPOTENCY_KEY",
    ("plan", "idempotency-key"): "ROCKY_IDEMPOTENCY_KEY",
}


def _from_env(command: str, env: Mapping[str, str], values: dict[str, Any], seen: list[str]) -> None:
    """clap's ``add_env``, after argv: an absent argument with a non-empty variable takes its value."""
    for (sub, long), name in ENV_ARGS.items():
        if sub == command and long not in seen and env.get(name):
            values[long.replace("-", "_")] = env[name]
            seen.append(long)


def _too_new(command: str, version: str) -> bool:
    """A subcommand this engine version does not have yet (clap then does not know it)."""
    since = SINCE.get(command)
    return since is not None and tuple(int(part) for part in version.split(".")) < since


def parse_argv(
    argv: Sequence[str], version: str = STANDIN_VERSION, env: Mapping[str, str] | None = None
) -> Invocation:
    """Parse ``argv`` (without the program name) like clap; raise ``UsageError`` / ``EarlyExit``.

    ``version`` is what ``--version`` prints (``ROCKY_STANDIN_ENGINE_VERSION``). ``env``: the
    process environment, for the arguments clap reads from it (``--idempotency-key``'s
    ``env = "ROCKY_IDEMPOTENCY_KEY"``, main.rs 884 and 1044); a value from the environment counts
    as given, so clap's conflicts apply to it (``MatchedArg::check_explicit``).
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
    _from_env(command, env or {}, values, sub_seen)
    _check_relations(command, sub_seen)
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
