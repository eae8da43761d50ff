"""The one reader (and the names) of the outcome files a pytest session of
the harness writes (harness/plugin.py): results.json when the session
ended, and beside it, while it runs, results.partial.jsonl, one line per
finished test. A session that was killed (a time limit, a crash) leaves the
partial file, and every test that finished still counts."""

from __future__ import annotations

import json
from pathlib import Path


def partial_path(results: Path) -> Path:
    return Path(results).with_suffix(".partial.jsonl")


def read_results(results: Path) -> dict | None:
    """{"tests": [...], ...} from results.json, or from the partial file of
    a session that did not finish ("partial": True); None if neither."""
    try:
        return json.loads(Path(results).read_text())
    except (OSError, ValueError):
        pass
    try:
        lines = partial_path(results).read_text().splitlines()
    except OSError:
        return None
    tests = []
    for line in lines:
        try:
            tests.append(json.loads(line))
        except ValueError:
            break  # the line being written when the session died
    return {"tests": tests, "partial": True}
