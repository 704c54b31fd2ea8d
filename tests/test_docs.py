"""The README and docs/ stay short, speak of the product, and link only to what exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PROSE = [README, ROOT / "CHANGELOG.md", *DOCS]

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
HISTORY = re.compile(r"\bsessions?\b|\bissues?\s*#?\d+|(?<![\w&/])#\d+\b", re.I)


def prose(path: Path) -> str:
    """The file's text without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file."""
    out = set()
    for title in re.findall(r"^#{1,6} (.+)$", prose(path), re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_readme_is_at_most_300_lines() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"README.md has {lines} lines; move detail to docs/"


@pytest.mark.parametrize("path", PROSE, ids=lambda p: p.name)
def test_text_speaks_of_the_product_not_its_history(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [
        f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for m in HISTORY.finditer(text)
    ]
    assert not found, f"{path.name}: development history wording at {found}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for match in LINK.finditer(prose(path)):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked (no network in tests)
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


def test_history_pattern_catches_history_and_spares_the_product() -> None:
    assert HISTORY.search("figures of session 12")
    assert HISTORY.search("first piece of issue 6")
    assert HISTORY.search("fixed in #42")
    assert not HISTORY.search("the segment 'recent, frequent' and [link](#two-commands)")
    assert not HISTORY.search("colour &#10003; and a/#1 path")
