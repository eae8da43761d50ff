"""One source per question: the notes and exercises.md must be current."""

from harness.chapters import CHAPTERS, ROOT
from harness.docs import generate


def test_generated_docs_are_current():
    stale = generate(check_only=True)
    assert not stale, f"run `make docs`: stale {stale}"


def test_every_chapter_has_notes_starters_and_solutions():
    from harness.chapters import exercises
    for chapter in CHAPTERS:
        for folder in ("chapters", "solutions"):
            assert (ROOT / folder / chapter / "answers.txt").is_file(), (folder, chapter)
            for ex in exercises(chapter):
                for src in ex.sources:
                    assert (ROOT / folder / chapter / src).is_file(), (folder, chapter, src)
        assert (ROOT / "chapters" / chapter / "README.md").is_file()
        assert (ROOT / "chapters" / chapter / "questions.toml").is_file()
