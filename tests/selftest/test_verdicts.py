"""What `make test` prints: the verdict line always, each proof with VERBOSE=1."""

from __future__ import annotations

import time

from harness.selftest import Verdicts


def _run(verdicts: Verdicts) -> int:
    verdicts.record("reference 01_hello/hello_server compiles with -Werror", True)
    verdicts.record("starter 01_hello/hello_server fails its tests", False, "none failed")
    return verdicts.finish(time.monotonic())


def test_verbose_lists_every_proof_and_the_last_line_counts_them(capsys):
    assert _run(Verdicts()) == 1
    out = capsys.readouterr().out
    assert "compiles with -Werror" not in out and "FAIL starter" in out
    assert out.strip().endswith("selftest: 1 passed, 1 failed")
    assert _run(Verdicts(verbose=True)) == 1
    out = capsys.readouterr().out
    assert "reference 01_hello/hello_server compiles with -Werror" in out.splitlines()[0]
    assert out.strip().endswith("selftest: 1 passed, 1 failed")
