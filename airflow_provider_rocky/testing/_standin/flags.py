"""The stand-in's flag tables: every argument of every subcommand, as rocky 1.71's clap declares it.

Clap-level problems (unknown flag, conflicting or missing flags, a value that does not parse) raise
``UsageError``: the engine prints clap's usage text and exits 2 with nothing on stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OUTPUT_FORMATS = ("json", "table", "md")
PRINCIPALS = ("human", "agent")


class UsageError(Exception):
    """A clap usage error: rendered as clap's text on stderr, exit 2, nothing on stdout."""

    def __init__(self, message: str, *, usage: str = "rocky run [OPTIONS]", note: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.note = note

    def render(self) -> str:
        """Return the exact stderr text clap would print for this error."""
        note = f"\n  note: {self.note}\n" if self.note else ""
        return f"error: {self.message}\n{note}\nUsage: {self.usage}\n\nFor more information, try '--help'.\n"


class EarlyExit(Exception):
    """``--version`` / ``--help``: print ``text`` on stdout and exit 0 (clap handles these while parsing)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Opt:
    """One clap argument: long name, optional short, value name (None for a flag), value parser."""

    long: str
    short: str | None = None
    value: str | None = None
    repeatable: bool = False
    parse: Callable[[str, Opt], Any] | None = None

    @property
    def dest(self) -> str:
        """Key in ``Invocation.values`` (clap's field name)."""
        return self.long.replace("-", "_")

    def display(self) -> str:
        """How clap names the argument in error messages (``--from <KEY>``)."""
        return f"--{self.long} <{self.value}>" if self.value else f"--{self.long}"


def _uint(bits: int) -> Callable[[str, Opt], int]:
    def parse(raw: str, opt: Opt) -> int:
        """Rust ``u{bits}::from_str`` with its error wording."""
        text = raw[1:] if raw.startswith("+") else raw
        if not text:
            detail = "cannot parse integer from empty string"
        elif not text.isdigit() or not text.isascii():
            detail = "invalid digit found in string"
        elif int(text) >= 2**bits:
            detail = "number too large to fit in target type"
        else:
            return int(text)
        raise UsageError(f"invalid value '{raw}' for '{opt.display()}': {detail}")

    return parse


def _choice(values: Sequence[str]) -> Callable[[str, Opt], str]:
    def parse(raw: str, opt: Opt) -> str:
        """clap ``PossibleValuesParser``."""
        if raw not in values:
            raise UsageError(
                f"invalid value '{raw}' for '{opt.display()}'\n  [possible values: {', '.join(values)}]"
            )
        return raw

    return parse


def _key_value(raw: str, opt: Opt) -> tuple[str, str]:
    name, sep, value = raw.partition("=")
    if not sep or not name:
        raise UsageError(f"invalid value '{raw}' for '{opt.display()}': expected NAME=VALUE")
    return name, value


#: Flags accepted before the subcommand. ``global`` ones are also accepted after it.
TOP_LEVEL = (
    Opt("config", "c", "PATH"),
    Opt("state-path", None, "PATH"),
    Opt("state-namespace", None, "KEY"),
)
GLOBAL = (
    Opt("output", "o", "OUTPUT", parse=_choice(OUTPUT_FORMATS)),
    Opt("cache-ttl", None, "SECS", parse=_uint(64)),
    Opt("principal", None, "PRINCIPAL", parse=_choice(PRINCIPALS)),
)
RUN = (
    Opt("filter", None, "FILTER"),
    Opt("pipeline", None, "PIPELINE"),
    Opt("model", None, "MODEL"),
    Opt("governance-override", None, "GOVERNANCE_OVERRIDE"),
    Opt("models", None, "MODELS"),
    Opt("all"),
    Opt("resume", None, "RUN_ID"),
    Opt("resume-latest"),
    Opt("shadow"),
    Opt("shadow-suffix", None, "SHADOW_SUFFIX"),
    Opt("shadow-schema", None, "SHADOW_SCHEMA"),
    Opt("branch", None, "BRANCH"),
    Opt("partition", None, "KEY"),
    Opt("from", None, "KEY"),
    Opt("to", None, "KEY"),
    Opt("latest"),
    Opt("missing"),
    Opt("lookback", None, "N", parse=_uint(32)),
    Opt("parallel", None, "N", parse=_uint(32)),
    Opt("dag"),
    Opt("idempotency-key", None, "IDEMPOTENCY_KEY"),
    Opt("env", None, "ENV"),
    Opt("defer"),
    Opt("defer-to", None, "SCHEMA"),
    Opt("skip-unchanged"),
    Opt("force-rebuild"),
    Opt("no-reuse"),
    Opt("no-prune"),
    Opt("var", None, "NAME=VALUE", repeatable=True, parse=_key_value),
    Opt("assume-fresh-state"),
    Opt("watch"),
)
DOCTOR = (Opt("check", None, "CHECK"), Opt("verbose"))
COMPILE = (
    Opt("models", None, "MODELS"),
    Opt("contracts", None, "CONTRACTS"),
    Opt("model", None, "MODEL"),
    Opt("expand-macros"),
    Opt("target-dialect", None, "TARGET_DIALECT", parse=_choice(("dbx", "sf", "bq", "duckdb"))),
    Opt("with-seed"),
    Opt("var", None, "NAME=VALUE", repeatable=True, parse=_key_value),
)
_VAR = Opt("var", None, "NAME=VALUE", repeatable=True, parse=_key_value)
TEST = (
    Opt("models", None, "MODELS"),
    Opt("contracts", None, "CONTRACTS"),
    Opt("model", None, "MODEL"),
    Opt("declarative"),
    Opt("pipeline", None, "PIPELINE"),
    _VAR,
)
CI = (Opt("models", None, "MODELS"), Opt("contracts", None, "CONTRACTS"), _VAR)
#: ``rocky plan``: ``rocky run``'s surface minus what only a run does, plus ``--semantic``/``--base``.
_NOT_ON_PLAN = {"watch", "defer", "defer-to", "skip-unchanged", "force-rebuild", "no-reuse", "no-prune"}
PLAN = (
    *(opt for opt in RUN if opt.long not in {*_NOT_ON_PLAN, "var", "assume-fresh-state"}),
    Opt("semantic"),
    Opt("base", None, "BASE"),
)
APPLY = (Opt("expect-spec-digest", None, "DIGEST"),)
DISCOVER = (
    Opt("pipeline", None, "PIPELINE"),
    Opt("with-schemas"),
    Opt("emit-fivetran-state-to", None, "PATH"),
    Opt("no-cache"),
)
FRESHNESS = (Opt("pipeline", None, "PIPELINE"),)
DAG = (Opt("models", None, "MODELS"), Opt("column-lineage"))
#: ``rocky init [PATH] [--template TEMPLATE]`` (main.rs ``Command::Init``: ``path`` defaults to ".").
INIT = (Opt("template", None, "TEMPLATE"),)
SUBCOMMAND_OPTS = {
    "run": RUN,
    "doctor": DOCTOR,
    "compile": COMPILE,
    "test": TEST,
    "ci": CI,
    "plan": PLAN,
    "apply": APPLY,
    "discover": DISCOVER,
    "freshness": FRESHNESS,
    "dag": DAG,
    "init": INIT,
}
#: Required positional arguments, by subcommand (clap value names).
POSITIONALS = {"apply": ("PLAN_ID",)}
#: Optional positional arguments (clap ``default_value``), by subcommand: (value name, default).
OPTIONAL_POSITIONALS = {"init": (("PATH", "."),)}
#: Subcommands newer engines added: the engine version they first appear in.
SINCE = {"freshness": (1, 74, 0)}
#: Subcommands the stand-in emulates; any other word is a clap "unrecognized subcommand" (exit 2).
SUBCOMMANDS = tuple(SUBCOMMAND_OPTS)

#: clap ``conflicts_with`` pairs and ``requires`` pairs of ``rocky run`` (contract §1.2).
RUN_CONFLICTS = (
    ("partition", "from"),
    ("partition", "to"),
    ("partition", "latest"),
    ("partition", "missing"),
    ("branch", "shadow"),
    ("branch", "shadow-schema"),
    ("resume", "resume-latest"),
    ("watch", "dag"),
    ("watch", "resume"),
    ("watch", "resume-latest"),
    ("watch", "idempotency-key"),
    ("watch", "model"),
    ("assume-fresh-state", "dag"),
    ("assume-fresh-state", "watch"),
)
RUN_REQUIRES = (("from", "to"), ("to", "from"), ("defer-to", "defer"))
