"""What to do about a failure, by its category (the taxonomy of ``airflow_provider_rocky.exceptions``).

The error's own message says what broke and usually what to change; this is the next step a person
takes, in one sentence, for every category, so the view can show it beside a summary from any release
(0.1.0 pushed only the category). Whether Airflow retries is the taxonomy's decision, not this text's.
"""

from __future__ import annotations

__all__ = ["ADVICE", "advice"]

ADVICE: dict[str, str] = {
    "binary_missing": "Install the rocky binary on the host that ran the task (worker or triggerer), "
    "or set binary_path on the operator or the rocky connection.",
    "usage": "Fix the task's arguments or the rocky connection named in the message; nothing was run, "
    "and a retry would be refused the same way.",
    "compile": "Fix the model's SQL at the file and line the diagnostics name, then run the task again.",
    "contract": "The model no longer meets its data contract (E010-E013): change the model or the "
    "contract, then run again.",
    "quality_check": "Error-severity checks failed and gated the run: look at the failed checks below; "
    "the data is wrong, not the run.",
    "adapter": "The warehouse refused or failed the work: read the failure kind per table. Transient "
    "failures are retried after the engine's cooldown; auth and rejected queries need a fix first.",
    "state": "The state store was busy or locked by another run (retried), or is damaged: check for a "
    "concurrent run on the same state file, or use a state_namespace per task.",
    "budget": "The run broke its [budget]: raise the limit in rocky.toml or narrow the selection.",
    "governance": "A governance rule refused the run: use a governance override only if the rule allows it.",
    "timeout": "The run hit timeout_seconds or the task's execution_timeout: raise the budget, or split "
    "the selection. The next try runs again.",
    "interrupted": "The run was stopped (the task was killed or marked failed, or a signal reached the "
    "engine); the next try, if any, starts it again.",
    "output": "The engine's output could not be read (or passed max_stdout_bytes): upgrade "
    "airflow-provider-rocky if the engine is newer, or raise max_stdout_bytes.",
    "partial": "Some tables failed and fail_on_partial is on: the landed tables are listed below; fix "
    "the failed ones (see each error) and run again, or resume the engine's run.",
    "engine": "The engine reported an error it did not classify: read the stderr tail below.",
    "engine_version": "Upgrade rocky on the host that ran the task to the version the message names.",
    "health": "rocky doctor found a critical check: follow its suggestions below.",
    "test": "Model tests failed: fix the models (or the tests) named below.",
    "freshness": "Sources or models are older than their error_after: wait for the data (retries with a "
    "retry_delay), or look at why the upstream sync is late.",
}


def advice(category: object) -> str | None:
    """The next step for ``category``; ``None`` for no failure or a category this release does not know."""
    return ADVICE.get(category) if isinstance(category, str) else None
