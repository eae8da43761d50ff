"""The Korean key terms: each chapter's "Key terms (용어)" table, and
docs/glossary.md, which must agree with every one of them."""

from __future__ import annotations

import re
from pathlib import Path

from harness.chapters import CHAPTERS, ROOT
from harness.docs import BEGIN

HEADING = "## Key terms (용어)"
GLOSSARY = ROOT / "docs" / "glossary.md"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _rows(lines: list[str]) -> list[list[str]]:
    """The body rows of the first Markdown table in lines."""
    rows: list[list[str]] = []
    for line in lines:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
    return rows[2:]  # without the header and the --- line


def key_terms(chapter: str) -> list[tuple[str, str]]:
    text = (ROOT / "chapters" / chapter / "README.md").read_text(encoding="utf-8")
    at = text.find(HEADING)
    assert at >= 0, f"chapters/{chapter}/README.md has no `{HEADING}` section"
    marker = text.find(BEGIN)
    assert marker < 0 or at < marker, (
        f"chapters/{chapter}/README.md: the key terms must come before {BEGIN} "
        "(the generated review section)")
    section = text[at:marker if marker > at else len(text)].splitlines()
    rows = _rows(section[1:])
    assert all(len(r) == 2 for r in rows), f"{chapter}: rows need 2 cells (English, 한국어)"
    return [(r[0], r[1]) for r in rows]


def glossary() -> dict[str, tuple[str, str, set[str]]]:
    rows = _rows(GLOSSARY.read_text(encoding="utf-8").splitlines())
    out: dict[str, tuple[str, str, set[str]]] = {}
    for r in rows:
        assert len(r) == 4, f"glossary row needs 4 cells: {r}"
        english, korean, meaning, chapters = r
        assert english not in out, f"glossary lists {english!r} twice"
        out[english] = (korean, meaning, set(re.findall(r"`([^`]+)`", chapters)))
    return out


def test_every_chapter_has_a_key_terms_table():
    for chapter in CHAPTERS:
        terms = key_terms(chapter)
        assert len(terms) >= 5, f"{chapter}: only {len(terms)} key terms"
        for english, korean in terms:
            assert english and HANGUL.search(korean), (chapter, english, korean)


def test_every_key_term_is_in_the_glossary_with_the_same_korean():
    entries = glossary()
    for chapter in CHAPTERS:
        for english, korean in key_terms(chapter):
            assert english in entries, f"{chapter}: {english!r} is not in docs/glossary.md"
            assert entries[english][0] == korean, (
                f"{english!r}: {chapter} says {korean!r}, the glossary {entries[english][0]!r}")
            assert chapter in entries[english][2], (
                f"{english!r}: the glossary does not list chapter {chapter}")


def test_the_glossary_names_only_chapters_whose_table_has_the_term():
    tables = {chapter: {e for e, _ in key_terms(chapter)} for chapter in CHAPTERS}
    for english, (korean, meaning, chapters) in glossary().items():
        assert HANGUL.search(korean) and meaning, english
        assert chapters, f"{english!r}: no chapter"
        for chapter in chapters:
            assert chapter in tables, f"{english!r}: no chapter {chapter}"
            assert english in tables[chapter], (
                f"{english!r}: the glossary names {chapter}, whose key terms lack it")
