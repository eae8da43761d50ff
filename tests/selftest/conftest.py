"""The harness's own tests run whole commands (a quick `make bench`, a
handout graded end to end, a sanitized build): 30-40 s each on an idle
2-core machine, three times that on a loaded one. pytest.ini's 90 s is a
guard against a hang of one chapter test; these get 600 s."""

from __future__ import annotations

import pytest

SELFTEST_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "selftest" in item.path.parts and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SELFTEST_TIMEOUT))
