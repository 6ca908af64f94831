"""Relative links in README.md, CHANGELOG.md, docs/*.md (and e2e/, benchmarks/ READMEs) resolve.

``make docs`` runs it beside ``mkdocs build --strict``. mkdocs checks the links between the docs/
pages as the site renders them, but it never reads README.md or CHANGELOG.md, and a link that leaves
docs/ is outside its reach. These files are also read on the repository's web view, which names a
heading's anchor its own way (GitHub's rule: lower case, punctuation dropped, each space a hyphen,
a repeated heading suffixed ``-1``, ``-2``...), so every anchor is checked under that rule here, and
under mkdocs' own rule by mkdocs. Exits 1 naming each broken link.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "e2e" / "README.md",
    ROOT / "benchmarks" / "README.md",
]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it (the markup is dropped first, as it renders)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower().replace("`", ""))
    return text.replace(" ", "-")


def prose(path: Path) -> list[str]:
    """The file's lines outside fenced code blocks (a ``# comment`` in a code block is no heading)."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose(path):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken(path: Path) -> list[str]:
    problems = []
    for line in prose(path):
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.relative_to(ROOT)}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{path.relative_to(ROOT)}: {target}: no heading '#{anchor}'")
            elif not str(linked).startswith(str(ROOT)):
                problems.append(f"{path.relative_to(ROOT)}: {target}: outside the repository")
    return problems


def main() -> int:
    problems = [problem for path in FILES if path.exists() for problem in broken(path)]
    for problem in problems:
        print(problem)
    checked = sum(len(LINK.findall("\n".join(prose(p)))) for p in FILES if p.exists())
    print(f"check_links: {checked} links in {len(FILES)} files, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
