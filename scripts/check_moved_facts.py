"""Every fact of an older README is still in README.md + docs/*.md (issue 22: move it, don't lose it).

    .venv/bin/python scripts/check_moved_facts.py [REF]     # REF: the git ref of the old README (main)

The old README (``git show REF:README.md``) is cut into units: each sentence of a paragraph or list
item, each table row, each line of a code block, each heading. A unit is *kept* when its normalized
text (links reduced to their text, list markers and whitespace folded) occurs in the normalized text
of the new README and docs pages. A unit that does not occur must be listed in ``REWRITTEN`` below
with where its fact went; any other is *lost*, and the script exits 1 naming it. Run it once more
after a merge that edits the old README (the lead's port of a section into docs/).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[([^\[\]\n]*)\]\([^)\s]*\)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(\[\"])")
LIST_MARKER = re.compile(r"^(?:[*-]|\d+\.)\s+")
HEADING = re.compile(r"^#{1,6}\s+(.*)$")

#: Units of the old README that are not in the new text word for word: the start of each (enough to
#: be unique), and where its fact went.
REWRITTEN: dict[str, str] = {
    "And, for the end-to-end proof on a real deployment": "README, The two commands: 'Beside them, for "
    "the inner loop, the docs, and the end-to-end proof on a real deployment (CI runs it after the "
    "tests):', now above make test-fast and make docs too",
    "Warehouse credentials belong in the connection's secret_env (next section).": "README, Quickstart: "
    "the same sentence, '(next section)' now a link to docs/connection.md",
    "Assets.": "the heading 'Assets' is docs/assets.md's title, 'Assets and lineage'",
    "Nothing else is refused: the engine constrains": "docs/task-group.md, A manifest is engine output: "
    "the same sentence, 'docs/engine-fidelity.md' now a link to that page",
    "The reasoning (what Airflow and the reaper guarantee": "docs/deferrable.md: the same sentence, the "
    "path now a link to docs/triggerer-handoff.md ('A deferred try handed from one triggerer to another')",
    "Each such behaviour names its upstream source": "docs/standin.md: the same sentence, the path now a "
    "link to docs/engine-fidelity.md",
    "Everything in this README holds on any executor": "docs/executors.md: 'Everything in these docs "
    "holds on any executor; ...' (the section is a page of docs/ now)",
    "An adopted RockyRunTrigger starts its command again": "docs/executors.md, Triggerer HA: the same "
    "sentence, 'docs/engine-fidelity.md' now a link to that page",
    "So an adopted run is not a resumed one": "docs/executors.md, Triggerer HA: the same sentence, the "
    "path now a link to docs/triggerer-handoff.md ('the hand-off in depth')",
    "The lowest pair is Airflow 3.1.8": "docs/testing.md: the same sentence, '(Compatibility)' now "
    "'(Compatibility, in README.md)', where that table stays",
    "Before this release they read as engine.": "docs/results.md, Failures: 'Before 0.2.0 they read as "
    "engine.' ('this release' named, now that the text outlives it); docs/upgrading.md, Retries",
    "This holds with emit_assets=False too": "docs/assets.md: the same sentence, 'before this release' "
    "now 'before 0.2.0'; docs/upgrading.md, What the task log, XCom and asset events hold",
    "On main the hub had 249,001 edges": "docs/task-group.md, Linear size, with joins: 'Before the "
    "joins, the hub had ...' (the same figures; 'main' meant the code before the joins)",
    "Upgrades, in both orders: a trigger row written by a newer release": "docs/deferrable.md: 'its "
    "kwargs the running release does not know are ignored ...'; docs/upgrading.md, the order",
    "The other way round needs an order once": "docs/deferrable.md: the same sentence, 'rows of this "
    "release' now 'rows of 0.2.0'; docs/upgrading.md, Before you upgrade",
    "From this release on, either order works.": "docs/deferrable.md: 'From 0.2.0 on, either order "
    "works.', with a link to docs/upgrading.md",
    "Upgrade note. Release 0.1.0 and the releases before this one": "docs/security.md, Upgrade note: "
    "'Release 0.1.0 registered every env/env_vars value ...' (0.1.0 was the first release); "
    "docs/upgrading.md, Only secrets are masked",
    "Rows written before (XCom, trigger rows) keep what they stored": "docs/security.md, Upgrade note: "
    "'a deferred trigger row of 0.1.0' for 'of the previous release'; docs/upgrading.md",
    "Run arguments mirror rocky_sdk.RockyClient.run()": "docs/operators.md, RockyOperator: the same "
    "sentence with the parity test's path corrected (tests/unit/ is now tests/engine/test_command.py)",
    "docs/architecture.md explains the choices": "docs/architecture.md, Layout (the README's Layout, "
    "moved there): 'The sections after this one explain the choices behind the shape.'",
}


def normalize(text: str) -> str:
    """What a reader sees, wherever the line breaks fall: links as their text, no bold or code marks.

    A heading reads as a sentence (``## Triggerer HA`` as ``Triggerer HA.``), so a paragraph's bold
    lead-in (``**Triggerer HA.** Run two...``) that became a heading above it is the same text.
    """
    lines = []
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            title = heading.group(1).strip()
            line = title if title[-1:] in ".?!:" else title + "."
        lines.append(line)
    text = LINK.sub(r"\1", "\n".join(lines)).replace("**", "").replace("`", "")
    return " ".join(text.split())


def units(markdown: str) -> list[str]:
    """Sentences of paragraphs and list items, table rows, code lines and headings, in order."""
    found: list[str] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        text = " ".join(paragraph)
        found.extend(normalize(s) for s in SENTENCE_END.split(" ".join(text.split())) if s)
        paragraph.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            fenced = not fenced
        elif fenced or stripped.startswith("|") or stripped.startswith("#"):
            flush()
            if stripped and not re.fullmatch(r"\|[-|\s:]*\|", stripped):
                found.append(normalize(stripped))
        elif not stripped or LIST_MARKER.match(stripped):
            flush()
            if stripped:
                paragraph.append(LIST_MARKER.sub("", stripped))
        else:
            paragraph.append(stripped)
    flush()
    return [u for u in found if u]


def new_text() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return normalize("\n".join(page.read_text() for page in pages))


def main(ref: str = "main") -> int:
    old = subprocess.run(
        ["git", "show", f"{ref}:README.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    corpus = new_text()
    old_units = units(old)
    missing = [u for u in old_units if u not in corpus]
    rewritten = {u: where for u in missing for start, where in REWRITTEN.items() if u.startswith(start)}
    lost = [u for u in missing if u not in rewritten]
    stale = [start for start in REWRITTEN if not any(u.startswith(start) for u in missing)]
    print(f"old README ({ref}): {len(old.splitlines())} lines, {len(old_units)} units")
    print(f"kept verbatim: {len(old_units) - len(missing)}")
    print(f"rewritten: {len(rewritten)}")
    for unit, where in rewritten.items():
        print(f"  - {unit[:100]}{'...' if len(unit) > 100 else ''}\n    -> {where}")
    print(f"lost: {len(lost)}")
    for unit in lost:
        print(f"  ! {unit}")
    for start in stale:
        print(f"  (REWRITTEN entry matches nothing missing: {start[:80]})")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
