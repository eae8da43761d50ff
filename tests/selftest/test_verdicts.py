"""What `make test` prints: the verdict line always, each proof with VERBOSE=1."""

from __future__ import annotations

import time

from harness.selftest import Verdicts


def test_verbose_lists_every_proof_and_the_last_line_counts_them(capsys):
    quiet, loud = Verdicts(), Verdicts(verbose=True)
    for v in (quiet, loud):
        v.record("reference 01_hello/hello_server compiles with -Werror", True)
        v.record("starter 01_hello/hello_server fails its tests", False, "none failed")
    assert quiet.finish(time.monotonic()) == 1
    out = capsys.readouterr().out
    assert "ok   reference" not in out and "FAIL starter" in out
    assert out.strip().endswith("selftest: 1 passed, 1 failed")
    loud.finish(time.monotonic())
    out = capsys.readouterr().out
    assert "reference 01_hello/hello_server compiles with -Werror" in out.splitlines()[0]
