"""The argument contract every program shares (the general clauses of each
chapter's notes), made from the `contract` of each exercise in
harness/chapters.py: wrong number of arguments -> a `Usage:` line on stderr
and exit status 1; an invalid port -> a message and exit status 1, never a
connection or a bind; a taken port -> a message naming bind(); nothing
listening -> a message naming connect(). One test per clause and role,
named test_<prefix>_<clause> as the mutants and points.toml cite them; a
role's Winsock twin is graded by the same tests."""

from __future__ import annotations

from typing import Callable

import pytest

from harness.chapters import CHAPTERS, EXERCISES, Contract
from harness.scenarios import (check_bad_port_client, check_bad_port_server,
                               check_bind_fails, check_refused, check_usage)

CHAPTERS = CHAPTERS  # noqa: PLW0127 - this module serves every chapter (harness/plugin.py)


def _make_files(c: Contract, procs) -> None:
    """The files the contract's extra arguments name, in the test folder."""
    for name in c.files:
        (procs.cwd / name).write_bytes(b"a file for the argument tests\n")


def _clauses(c: Contract) -> dict[str, Callable]:
    extra = list(c.extra)
    tests: dict[str, Callable] = {
        "usage": lambda prog, procs: check_usage(prog, procs, list(c.too_many))}
    if c.port == "server":
        tests["bad_port"] = lambda prog, procs: check_bad_port_server(prog, procs, extra)
    elif c.port == "client":
        tests["bad_port"] = lambda prog, procs: check_bad_port_client(prog, procs, extra)
    if c.bind_fails:
        tests["bind_fails"] = lambda prog, procs: check_bind_fails(prog, procs, extra)
    if c.refused_stdin is not None:
        stdin = c.refused_stdin
        tests["refused"] = lambda prog, procs: check_refused(prog, procs, extra_stdin=stdin,
                                                             extra=extra)
    return tests


def _make_tests() -> dict[str, Callable]:
    made: dict[str, Callable] = {}
    roles: set[str] = set()
    for ex in EXERCISES:
        if ex.contract is None or ex.role in roles:
            continue  # one set per role: the Winsock twin shares its POSIX role's
        roles.add(ex.role)
        for clause, body in _clauses(ex.contract).items():
            name = f"test_{ex.contract.prefix}_{clause}"

            def test(prog, procs, _body=body, _c=ex.contract):
                _make_files(_c, procs)
                _body(prog, procs)
            test.__name__ = test.__qualname__ = name
            test.__doc__ = f"{ex.role}: the argument contract, {clause.replace('_', ' ')}"
            made[name] = pytest.mark.role(ex.role)(test)
    return made


globals().update(_make_tests())
