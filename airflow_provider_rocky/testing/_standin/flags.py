"""The stand-in's flag tables: every argument of every subcommand, as rocky 1.71's clap declares it.

Source: ``engine/rocky/src/main.rs`` at 1.71 (``struct Cli``, ``enum Command``), parsed by clap 4.6.6
(``engine/Cargo.lock``). Each :class:`Opt` carries what clap reads from its ``#[arg(...)]``: the value
name (clap's derive default is the field name upper-cased; ``value_name`` overrides it), the value
parser, ``conflicts_with_all`` and ``requires``. docs/engine-fidelity.md ("Command lines") cites
the line of each rule.

Clap-level problems (unknown flag, conflicting or missing flags, a value that does not parse) raise
``UsageError``: the engine prints clap's text and exits 2 with nothing on stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OUTPUT_FORMATS = ("json", "table", "md")
PRINCIPALS = ("human", "agent")
TARGET_DIALECTS = ("dbx", "sf", "bq", "duckdb")


class UsageError(Exception):
    """A clap error: rendered as clap 4's text on stderr, exit 2, nothing on stdout.

    ``usage=None`` for the errors clap raises without a usage line (a value that does not parse, a
    value missing): clap 4.6's ``Error::value_validation`` / ``Error::invalid_value`` carry none.
    """

    def __init__(
        self, message: str, *, usage: str | None = "rocky run [OPTIONS]", note: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.note = note

    def render(self) -> str:
        """Return the stderr text clap's ``RichFormatter`` writes for this error (without colour)."""
        text = f"error: {self.message}"
        if self.note:
            text += f"\n\n  note: {self.note}"
        if self.usage is not None:
            text += f"\n\nUsage: {self.usage}"
        return text + "\n\nFor more information, try '--help'.\n"


class EarlyExit(Exception):
    """``--version`` / ``--help``: print ``text`` on stdout and exit 0 (clap handles these while parsing)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Opt:
    """One clap argument: long name, short, value name (None: a flag), parser and its relations."""

    long: str
    short: str | None = None
    value: str | None = None
    repeatable: bool = False
    parse: Callable[[str, Opt], Any] | None = None
    #: ``conflicts_with`` / ``conflicts_with_all``, by long name.
    conflicts: tuple[str, ...] = ()
    #: ``requires``, by long name.
    requires: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """Key in ``Invocation.values`` (clap's field name)."""
        return self.long.replace("-", "_")

    def display(self) -> str:
        """How clap names the argument in messages and usage (``--from <FROM>``)."""
        return f"--{self.long} <{self.value}>" if self.value else f"--{self.long}"


def _uint(bits: int) -> Callable[[str, Opt], int]:
    def parse(raw: str, opt: Opt) -> int:
        """Rust ``u{bits}::from_str`` with its error wording (clap's ``value_validation``)."""
        text = raw[1:] if raw.startswith("+") else raw
        if not text:
            detail = "cannot parse integer from empty string"
        elif not text.isdigit() or not text.isascii():
            detail = "invalid digit found in string"
        elif int(text) >= 2**bits:
            detail = "number too large to fit in target type"
        else:
            return int(text)
        raise UsageError(f"invalid value '{raw}' for '{opt.display()}': {detail}", usage=None)

    return parse


def _choice(values: Sequence[str]) -> Callable[[str, Opt], str]:
    def parse(raw: str, opt: Opt) -> str:
        """clap ``value_enum`` (``Error::invalid_value``: the possible values, no usage line)."""
        if raw not in values:
            raise UsageError(
                f"invalid value '{raw}' for '{opt.display()}'\n  [possible values: {', '.join(values)}]",
                usage=None,
            )
        return raw

    return parse


def _str(long: str, value: str | None = None, **kw: Any) -> Opt:
    """A ``String``/``PathBuf`` option whose value name is the field name upper-cased (clap derive)."""
    return Opt(long, value=value or long.replace("-", "_").upper(), **kw)


#: Flags accepted before the subcommand. ``GLOBAL`` ones (``global = true``) are also accepted after it.
TOP_LEVEL = (Opt("config", "c", "CONFIG"), _str("state-path"), _str("state-namespace"))
GLOBAL = (
    Opt("output", "o", "OUTPUT", parse=_choice(OUTPUT_FORMATS)),
    Opt("cache-ttl", None, "CACHE_TTL", parse=_uint(64)),
    Opt("principal", None, "PRINCIPAL", parse=_choice(PRINCIPALS)),
)
#: ``--var`` is a ``Vec<String>`` to clap; ``RunVars::parse_pairs`` reads it after parsing (exit 1).
_VAR = Opt("var", value="NAME=VALUE", repeatable=True)
#: The selection and partition arguments ``rocky run`` and ``rocky plan`` both declare (main.rs 759, 928).
_SHARED = (
    _str("filter"),
    _str("pipeline"),
    _str("model"),
    _str("governance-override"),
    _str("models"),
    Opt("all"),
    _str("resume"),
    Opt("resume-latest"),
    Opt("shadow"),
    _str("shadow-suffix"),
    _str("shadow-schema"),
    _str("branch", conflicts=("shadow", "shadow-schema")),
    _str("partition", conflicts=("from", "to", "latest", "missing")),
    _str("from", requires=("to",), conflicts=("partition", "latest", "missing")),
    _str("to", requires=("from",), conflicts=("partition", "latest", "missing")),
    Opt("latest", conflicts=("partition", "from", "to", "missing")),
    Opt("missing", conflicts=("partition", "from", "to", "latest")),
    Opt("lookback", value="LOOKBACK", parse=_uint(32)),
    Opt("parallel", value="PARALLEL", parse=_uint(32)),
    Opt("dag"),
    Opt("idempotency-key", value="KEY"),
    _str("env"),
)
RUN = (
    *_SHARED,
    Opt("watch", conflicts=("dag", "resume", "resume-latest", "idempotency-key", "model")),
    Opt("defer", conflicts=("dag",)),
    Opt("defer-to", value="SCHEMA", requires=("defer",)),
    Opt("skip-unchanged"),
    Opt("force-rebuild"),
    Opt("no-reuse"),
    Opt("no-prune"),
    _VAR,
    Opt("assume-fresh-state", conflicts=("dag", "watch")),
)
PLAN = (*_SHARED, Opt("semantic"), _str("base"))
DOCTOR = (_str("check"), Opt("verbose"))
COMPILE = (
    _str("models"),
    _str("contracts"),
    _str("model"),
    Opt("expand-macros"),
    Opt("target-dialect", value="TARGET_DIALECT", parse=_choice(TARGET_DIALECTS)),
    Opt("with-seed"),
    _VAR,
)
TEST = (_str("models"), _str("contracts"), _str("model"), Opt("declarative"), _str("pipeline"), _VAR)
CI = (_str("models"), _str("contracts"), _VAR)
APPLY = (_str("expect-spec-digest"),)
DISCOVER = (_str("pipeline"), Opt("with-schemas"), _str("emit-fivetran-state-to", "PATH"), Opt("no-cache"))
FRESHNESS = (_str("pipeline"),)
DAG = (_str("models"), _str("seeds"), _str("contracts"), Opt("column-lineage"))
SEED = (_str("seeds"), _str("pipeline"), _str("filter"))
#: ``rocky init [PATH] [--template TEMPLATE]`` (main.rs ``Command::Init``: ``path`` defaults to ".").
INIT = (_str("template"),)
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
    "seed": SEED,
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
#: clap ``default_value``s the engine reads when a flag is absent.
DEFAULTS = {("seed", "seeds"): "seeds", ("run", "shadow-suffix"): "_rocky_shadow"}
