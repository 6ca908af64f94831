"""argv building and validation: parity with rocky-sdk, and refusals that name the arguments.

Parity means the same flags with the same values in the same order as rocky-sdk builds them, each
value in its flag's token (``--filter=a=b``, :func:`eq_form` of the SDK's ``--filter a=b``): this
provider never lets a value stand alone, where it could be read as a flag.
"""

from __future__ import annotations

from typing import Any

import pytest
from rocky_sdk import RockyClient

from airflow_provider_rocky._engine.args.run import RunArgs
from airflow_provider_rocky._engine.command import RockySettings
from airflow_provider_rocky._engine.command import build_command as build_run_command
from airflow_provider_rocky.exceptions import RockyGovernanceError, RockyUsageError

SDK_BINARY = "rocky-binary-that-is-not-on-path"


def sdk_client(**kw: Any) -> RockyClient:
    kw.setdefault("state_path", ".rocky-state.redb")
    return RockyClient(binary_path=SDK_BINARY, config_path="conf/rocky.toml", **kw)


def eq_form(argv: list[str]) -> list[str]:
    """rocky-sdk's argv with each ``--flag value`` pair written ``--flag=value``.

    A flag followed by a token that is not a flag takes it as its value; the SDK's boolean flags are
    always followed by another flag or nothing, and its positional ``run`` follows a value.
    """
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        value = argv[index + 1] if index + 1 < len(argv) else None
        if token.startswith("--") and value is not None and not value.startswith("-"):
            out.append(f"{token}={value}")
            index += 2
        else:
            out.append(token)
            index += 1
    return out


def sdk_argv(client: RockyClient, args: list[str]) -> list[str]:
    return eq_form(client._build_cmd(args))


def ours(args: RunArgs, **settings: Any) -> list[str]:
    if "state_namespace" not in settings:
        settings.setdefault("state_path", ".rocky-state.redb")
    return list(
        build_run_command(
            RockySettings(binary_path=SDK_BINARY, config_path="conf/rocky.toml", **settings), args
        ).argv
    )


RUN_CASES: list[dict[str, Any]] = [
    {"filter": "tenant=acme"},
    {"filter": "tenant=acme", "pipeline": "raw"},
    {
        "filter": "tenant=acme",
        "governance_override": {"workspace_ids": [{"id": 1, "binding_type": "READ_WRITE"}]},
    },
    {"filter": "tenant=acme", "run_models": True},
    {"filter": "tenant=acme", "shadow_suffix": "_pr42"},
    {"filter": "tenant=acme", "partition": "2026-04-07"},
    {"filter": "tenant=acme", "partition_from": "2026-04-01", "partition_to": "2026-04-07"},
    {"filter": "tenant=acme", "latest": True},
    {"filter": "tenant=acme", "missing": True},
    {"filter": "tenant=acme", "lookback": 0},
    {"filter": "tenant=acme", "lookback": 3},
    {"filter": "tenant=acme", "parallel": 8},
    {"filter": "tenant=acme", "idempotency_key": "key-1"},
    {"filter": "tenant=acme", "defer": True, "defer_to": "prod"},
    {  # everything at once, like the SDK's own "threads every flag" test
        "filter": "tenant=acme",
        "governance_override": {"workspace_ids": [{"id": 7, "binding_type": "READ_ONLY"}]},
        "run_models": True,
        "shadow_suffix": "_pr42",
        "partition_from": "2026-01-01",
        "partition_to": "2026-01-31",
        "lookback": 3,
        "parallel": 4,
        "idempotency_key": "key-1",
        "pipeline": "raw",
    },
]


@pytest.mark.parametrize("kwargs", RUN_CASES, ids=lambda kw: ",".join(kw))
def test_run_argv_equals_rocky_sdk(kwargs: dict[str, Any]) -> None:
    client = sdk_client()
    expected = sdk_argv(
        client,
        client._build_run_args(
            kwargs["filter"],
            **{
                "governance_override": kwargs.get("governance_override"),
                **{k: v for k, v in kwargs.items() if k not in ("filter", "governance_override")},
            },
        ),
    )
    assert ours(RunArgs(**kwargs)) == expected


@pytest.mark.parametrize("settings", [{"state_namespace": "tenant_a"}, {"state_path": "/var/state.redb"}])
def test_global_flags_equal_rocky_sdk(settings: dict[str, Any]) -> None:
    client = sdk_client(**settings)
    assert ours(RunArgs(filter="a=b"), **settings) == sdk_argv(
        client, client._build_run_args("a=b", governance_override=None)
    )


def test_without_state_settings_the_engine_resolves_its_own_state() -> None:
    argv = list(build_run_command(RockySettings(), RunArgs(filter="a=b")).argv)
    assert argv == ["rocky", "--config=rocky.toml", "--output=json", "run", "--filter=a=b"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filter": "a=b"},
        {"filter": "a=b", "pipeline": "marts", "partition": "2026-04-07"},
        {"partition_from": "2026-04-01", "partition_to": "2026-04-03", "lookback": 1, "parallel": 2},
        {"missing": True, "lookback": 2},
    ],
)
def test_model_argv_equals_rocky_sdk_run_model(
    kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk_client()
    captured: dict[str, list[str]] = {}
    monkeypatch.setattr(client, "run_cli", lambda args, **_: captured.setdefault("args", args) and "")
    monkeypatch.setattr("rocky_sdk.client._parse_rocky_json", lambda *a, **k: None)
    monkeypatch.setattr(client, "_require_engine", lambda *a, **k: None)  # no binary to ask its version
    client.run_model("fct_orders", **kwargs)
    assert ours(RunArgs(model="fct_orders", **kwargs)) == sdk_argv(client, captured["args"])


@pytest.mark.parametrize("kwargs", [{}, {"filter": "tenant=acme"}, {"governance_override": {"grants": []}}])
def test_resume_latest_argv_equals_rocky_sdk_resume_run(
    kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk_client()
    captured: dict[str, list[str]] = {}
    monkeypatch.setattr(client, "run_cli", lambda args, **_: captured.setdefault("args", args) and "")
    monkeypatch.setattr("rocky_sdk.client._parse_rocky_json", lambda *a, **k: None)
    client.resume_run(None, **kwargs)
    assert ours(RunArgs(resume_latest=True, **kwargs)) == sdk_argv(client, captured["args"])


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        (
            {"partition": "2026-04-07", "partition_from": "2026-04-01", "partition_to": "2026-04-07"},
            ["partition", "partition_from"],
        ),
        ({"partition": "2026-04-07", "latest": True}, ["partition", "latest"]),
        ({"partition_from": "2026-04-01"}, ["partition_from", "partition_to"]),
        ({"partition_to": "2026-04-01"}, ["partition_to", "partition_from"]),
        ({"filter": "tenant"}, ["filter", "key=value"]),
        ({"filter": "=acme"}, ["filter"]),
        ({"lookback": -1}, ["lookback"]),
        ({"parallel": 0}, ["parallel"]),
        ({"model": "m", "run_models": True}, ["model", "run_models"]),
        ({"resume_latest": True, "idempotency_key": "k"}, ["resume_latest", "idempotency_key"]),
        ({"defer_to": "prod"}, ["defer_to"]),
        # clap's conflicts_with_all on --latest/--missing/--from/--to (main.rs 977-988): exit 2 otherwise
        ({"latest": True, "missing": True}, ["latest", "missing"]),
        (
            {"partition_from": "2026-04-01", "partition_to": "2026-04-02", "latest": True},
            ["partition_from", "latest"],
        ),
        (
            {"partition_from": "2026-04-01", "partition_to": "2026-04-02", "missing": True},
            ["partition_from", "missing"],
        ),
        ({"model": "m", "latest": True, "missing": True}, ["latest", "missing"]),
    ],
)
def test_invalid_combinations_name_the_arguments(kwargs: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(RockyUsageError) as err:
        RunArgs(**kwargs).validate()
    for name in names:
        assert name in str(err.value)
    assert err.value.category == "usage" and not err.value.retryable


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latest": True, "missing": True},
        {"partition_from": "2026-04-01", "partition_to": "2026-04-02", "latest": True},
        {"partition_from": "2026-04-01", "partition_to": "2026-04-02", "missing": True},
    ],
)
def test_plan_refuses_the_partition_selections_clap_refuses(kwargs: dict[str, Any]) -> None:
    """``rocky plan`` declares the same conflicts (main.rs 823-843); refused at parse time too."""
    from airflow_provider_rocky._engine.args.plan import PlanArgs

    with pytest.raises(RockyUsageError, match="cannot be combined with"):
        PlanArgs(**kwargs).validate()
    with pytest.raises(RockyUsageError, match="cannot be combined with"):
        PlanArgs.check_shape(**kwargs)


def test_resume_keeps_the_runs_pipeline_shadow_and_concurrency() -> None:
    """The engine resolves --pipeline before it resumes (run.rs ~1964): 0.1.0 dropped it, and with it
    the shadow, lookback, parallel and defer arguments the task was given."""
    args = RunArgs(
        resume_latest=True,
        filter="tenant=acme",
        pipeline="raw",
        shadow_suffix="_pr42",
        lookback=2,
        parallel=3,
        defer=True,
        defer_to="prod",
    )
    argv = ours(args)
    assert argv[argv.index("run") :] == [
        "run",
        "--resume-latest",
        "--filter=tenant=acme",
        "--pipeline=raw",
        "--shadow",
        "--shadow-suffix=_pr42",
        "--lookback=2",
        "--parallel=3",
        "--defer",
        "--defer-to=prod",
    ]


@pytest.mark.parametrize(
    ("digest", "hint"),
    [
        ("ab" * 32, "write 'sha256:" + "ab" * 32 + "'"),
        ("sha256:" + "AB" * 32, "lowercase"),
        ("sha256:feed", "64 lowercase hex"),
        ("blake3:" + "ab" * 32, "can never match"),
    ],
)
def test_a_spec_digest_the_engine_cannot_have_written_is_refused(digest: str, hint: str) -> None:
    from airflow_provider_rocky._engine.args.plan import ApplyArgs

    with pytest.raises(RockyUsageError, match="expect_spec_digest") as err:
        ApplyArgs(plan_id="ab" * 32, expect_spec_digest=digest).validate()
    assert hint in str(err.value)


def test_the_engines_own_spec_digest_form_is_passed_as_is() -> None:
    """``sha256:<hex>`` is the only form the engine writes (product/spec.rs DIGEST_PREFIX); 0.1.0
    accepted bare hex only, so the one value that can match was refused before spawning."""
    from airflow_provider_rocky._engine.args.plan import ApplyArgs

    digest = "sha256:" + "0f" * 32
    argv = list(
        build_run_command(RockySettings(), ApplyArgs(plan_id="ab" * 32, expect_spec_digest=digest)).argv
    )
    assert argv[-2:] == ["ab" * 32, f"--expect-spec-digest={digest}"]


def test_a_trailing_newline_is_not_a_valid_name() -> None:
    """``re.match`` with ``$`` let ``"ns\n"`` through; the engine's validators refuse it."""
    from airflow_provider_rocky._engine.args.gates import CompileArgs

    with pytest.raises(RockyUsageError, match="state_namespace"):
        RockySettings(state_namespace="tenant_a\n").validate()
    with pytest.raises(RockyUsageError, match="var name"):
        CompileArgs(var={"region\n": "us"}).validate()


def test_an_inherited_idempotency_key_does_not_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """clap reads ROCKY_IDEMPOTENCY_KEY as --idempotency-key (main.rs 1044): a worker's copy would
    make every run claim one key. The task's own value (env_vars) still goes through."""
    monkeypatch.setenv("ROCKY_IDEMPOTENCY_KEY", "worker-wide")
    cmd = build_run_command(RockySettings(), RunArgs(filter="a=b"))
    assert "ROCKY_IDEMPOTENCY_KEY" not in cmd.child_env()
    own = build_run_command(RockySettings(), RunArgs(filter="a=b"), {"ROCKY_IDEMPOTENCY_KEY": "mine"})
    assert own.child_env()["ROCKY_IDEMPOTENCY_KEY"] == "mine"


def test_empty_workspace_ids_refused_before_spawn() -> None:
    with pytest.raises(RockyGovernanceError) as err:
        RunArgs(governance_override={"workspace_ids": []}).validate()
    assert "workspace_ids" in str(err.value) and err.value.category == "governance"
    RunArgs(governance_override={"workspace_ids": [], "allow_empty_workspace_ids": True}).validate()


def test_coerce_handles_rendered_templates() -> None:
    args = RunArgs.coerce(lookback="3", parallel=" 4 ", partition="", governance_override='{"grants": []}')
    assert (args.lookback, args.parallel, args.partition, args.governance_override) == (
        3,
        4,
        None,
        {"grants": []},
    )
    with pytest.raises(RockyUsageError, match="lookback"):
        RunArgs.coerce(lookback="three")


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"state_path": "a", "state_namespace": "b"}, "mutually exclusive"),
        ({"state_namespace": "bad-key"}, "state_namespace"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], word: str) -> None:
    with pytest.raises(RockyUsageError, match=word):
        RockySettings(**settings).validate()


def test_secret_flags_are_redacted_for_logs() -> None:
    cmd = build_run_command(
        RockySettings(env={"TOKEN": "s3cret"}),
        RunArgs(
            governance_override={"grants": [{"principal": "x", "permissions": []}]}, idempotency_key="k-1"
        ),
    )
    shown = cmd.redacted()
    assert not any("k-1" in tok or "principal" in tok for tok in shown)
    assert "--idempotency-key=***" in shown and "--governance-override=***" in shown
    assert "s3cret" not in " ".join(cmd.argv)
    assert cmd.env == {"TOKEN": "s3cret"}


def test_argv_of_the_previous_release_is_still_redacted() -> None:
    """Trigger rows of 0.1.0 carry ``--flag value`` pairs."""
    from airflow_provider_rocky._engine.command import RockyCommand

    old = RockyCommand(argv=("rocky", "run", "--idempotency-key", "k-1", "--filter", "a=b"))
    assert old.redacted() == ["rocky", "run", "--idempotency-key", "***", "--filter", "a=b"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("filter", "--config=/etc/passwd"),
        ("partition", "--missing"),
        ("pipeline", "-p"),
        ("model", "--all"),
        ("shadow_suffix", "-pr42"),
        ("idempotency_key", "--resume-latest"),
    ],
)
def test_a_value_that_starts_with_a_hyphen_is_refused_naming_the_argument(name: str, value: str) -> None:
    """0.1.0 spawned ``--filter --config=/etc/passwd``; the engine refused it after the fact."""
    with pytest.raises(RockyUsageError, match=f"{name}=.* starts with '-'") as err:
        RunArgs(**{name: value}).validate()
    assert err.value.category == "usage"


def test_every_value_travels_inside_its_flags_token() -> None:
    """Whatever passed validation, no value stands alone in argv where it could be read as a flag."""
    from airflow_provider_rocky._engine.command import flag_of

    args = RunArgs(
        filter="tenant=acme",
        partition_from="2026-01-01",
        partition_to="2026-01-31",
        lookback=3,
        parallel=2,
        pipeline="raw",
        shadow_suffix="_pr42",
        idempotency_key="k-1",
        governance_override={"grants": []},
        run_models=True,
    )
    argv = ours(args, state_namespace="tenant_a")
    flags = [token for token in argv[1:] if token.startswith("--")]
    assert argv[1:] == [*flags[:3], "run", *flags[3:]], "only the subcommand stands alone"
    assert all("=" in token for token in flags if flag_of(token) not in ("--all", "--shadow"))
