"""Answer keys: the plain key (solutions/<ch>/answers.txt) and the hashed key
a student's handout carries instead (tests/keys/<ch>.json).

The hashed key holds, per question, salted SHA-256 digests of every
accepted answer in a canonical form (a word lower-cased and trimmed; a
number in decimal; a set's names sorted and joined with commas; a sequence's
names joined in order; a key's `a|b` alternatives expanded into every
combination). Grading a student's answer canonicalises it the same way and
looks its digest up, so `make check` in the handout grades the review
questions without shipping the answers in plain text, with the same verdicts
and messages as the plain key (tests/selftest/test_keys.py proves it).

This is for self-checking, not secrecy: one letter of four, or a number,
is found by trying every candidate in a moment. The instructor grades with
the plain key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from .answers import (FORMAT, Question, Verdict, _alternatives, _items, grade,
                      parse_sheet)

KEY_FORMAT = 1
MAX_COMBINATIONS = 20000   # accepted forms of one answer (a key's alternatives multiply)


class KeyFileError(ValueError):
    """A key that cannot be hashed or read."""


def digest(salt: str, qid: str, canonical: str) -> str:
    return hashlib.sha256(f"{salt}\n{qid}\n{canonical}".encode()).hexdigest()


def _combinations(items: list[set[str] | frozenset[str]], limit: int) -> list[tuple[str, ...]] | None:
    count = 1
    for alts in items:
        count *= max(1, len(alts))
    if count > limit:
        return None
    return list(itertools.product(*[sorted(a) for a in items]))


def _choice_letter(given: str) -> str | None:
    m = re.fullmatch(r"\(?\s*([a-z])\s*\)?\.?", given.strip().lower())
    return m.group(1) if m else None


# -- the key, hashed ------------------------------------------------------------------------

def hash_answer(q: Question, key: str, salt: str) -> dict:
    """The hashed entry of one question, from its plain key."""
    h = lambda canon: digest(salt, q.id, canon)  # noqa: E731
    if q.kind in ("choice", "word"):
        return {"accepted": sorted(h(a) for a in _alternatives(key))}
    if q.kind == "number":
        return {"accepted": sorted(h(str(int(a))) for a in _alternatives(key))}
    want = [_alternatives(k) for k in key.split(",")]
    combos = _combinations(want, MAX_COMBINATIONS)
    if combos is None:
        raise KeyFileError(f"{q.id}: the key's alternatives make over {MAX_COMBINATIONS} "
                        "accepted answers; list fewer")
    entry = {"items": len(want),
             "accepted": sorted({h(",".join(sorted(c) if q.kind == "set" else c))
                                 for c in combos})}
    if q.kind == "set":
        entry["names"] = sorted({h("item:" + a) for w in want for a in w})
    else:
        entry["unordered"] = sorted({h(",".join(sorted(c))) for c in combos})
    return entry


def make_hashed_key(chapter: str, questions: list[Question], key_file: Path,
                    salt: str | None = None) -> dict:
    """The content of tests/keys/<chapter>.json."""
    salt = salt or secrets.token_hex(16)
    sheet = parse_sheet(key_file, [q.id for q in questions])
    if sheet.missing:
        raise KeyFileError(f"{key_file}: {sheet.problems[0]}")
    out = {}
    for q in questions:
        if q.id not in sheet.answers:
            raise KeyFileError(f"{key_file}: no key for {q.id}")
        out[q.id] = hash_answer(q, sheet.answers[q.id][0], salt)
    return {
        "format": KEY_FORMAT,
        "chapter": chapter,
        "about": ("Salted SHA-256 digests of the accepted answers to the review questions, "
                  "so that `make check` can check them. For self-checking only: a short "
                  "answer is quickly found by trying every candidate."),
        "salt": salt,
        "questions": out,
    }


# -- grading with either key ------------------------------------------------------------------

@dataclass(frozen=True)
class PlainKey:
    """solutions/<chapter>/answers.txt."""
    answers: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "PlainKey":
        sheet = parse_sheet(path)
        return cls({qid: text for qid, (text, _) in sheet.answers.items()})

    def has(self, qid: str) -> bool:
        return qid in self.answers

    def grade(self, q: Question, given: str) -> Verdict:
        return grade(q, given, self.answers[q.id])


@dataclass(frozen=True)
class HashedKey:
    """tests/keys/<chapter>.json."""
    salt: str
    questions: dict[str, dict]

    @classmethod
    def load(cls, path: Path) -> "HashedKey":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != KEY_FORMAT:
                raise KeyFileError(f"{path}: format {data.get('format')!r}, expected {KEY_FORMAT}")
            return cls(str(data["salt"]), dict(data["questions"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"{path} cannot be read: {exc}") from exc

    def has(self, qid: str) -> bool:
        return qid in self.questions

    def grade(self, q: Question, given: str) -> Verdict:
        """The same verdicts and messages as answers.grade with the plain key."""
        entry = self.questions[q.id]
        accepted = set(entry["accepted"])
        h = lambda canon: digest(self.salt, q.id, canon)  # noqa: E731
        if not given.strip():
            return Verdict(False, f"{q.id} has no answer yet ({FORMAT[q.kind]}).")
        wrong = f"{q.id}: `{given.strip()}` is not right. Hint: {q.hint}"
        if q.kind == "choice":
            letter = _choice_letter(given)
            letters = [chr(97 + i) for i in range(len(q.choices))]
            if letter is None or letter not in letters:
                return Verdict(False, f"{q.id}: answer with one letter, {letters[0]} to "
                                      f"{letters[-1]} (got `{given.strip()}`).")
            return Verdict(h(letter) in accepted, wrong)
        if q.kind == "number":
            try:
                values = {int(v.strip().rstrip("."), 10) for v in given.split("|")}
            except ValueError:
                return Verdict(False, f"{q.id}: answer with a whole number in decimal "
                                      f"(got `{given.strip()}`).")
            return Verdict(all(h(str(v)) in accepted for v in values), wrong)
        if q.kind == "word":
            alts = _alternatives(given)
            return Verdict(bool(alts) and all(h(a) in accepted for a in alts), wrong)
        got = _items(given)
        want = int(entry["items"])
        combos = _combinations(got, MAX_COMBINATIONS) if got else None
        if q.kind == "set":
            ok = (combos is not None and len(got) == want
                  and all(h(",".join(sorted(c))) in accepted for c in combos))
            if ok:
                return Verdict(True, "")
            names = set(entry["names"])
            hits = sum(1 for g in got if all(h("item:" + a) in names for a in g))
            return Verdict(False, f"{wrong} ({hits} of your {len(got)} are right; "
                                  f"the answer has {want}.)")
        # sequence
        if (combos is not None and len(got) == want
                and all(h(",".join(c)) in accepted for c in combos)):
            return Verdict(True, "")
        unordered = set(entry["unordered"])
        if (combos is not None and len(got) == want
                and all(h(",".join(sorted(c))) in unordered for c in combos)):
            return Verdict(False, f"{wrong} (the right names, not in the right order.)")
        return Verdict(False, f"{wrong} ({len(got)} given, {want} expected.)")


def load_key(root: Path, chapter: str) -> PlainKey | HashedKey | None:
    """The plain key when solutions/ is there (the instructor's copy), else
    the hashed key of a handout, else None."""
    plain = root / "solutions" / chapter / "answers.txt"
    if plain.exists():
        return PlainKey.load(plain)
    hashed = root / "tests" / "keys" / f"{chapter}.json"
    if hashed.exists():
        return HashedKey.load(hashed)
    return None
