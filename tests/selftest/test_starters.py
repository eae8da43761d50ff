"""The committed starters (harness/starters.py): what the self-test grades
as "the starter" is the last commit's file, never the working tree's edited
one, even when git distrusts the checkout (root reading a clone another
user owns); a folder that is not a checkout is said, not silently used."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import starters


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "workbook"
    (root / "chapters" / "01_hello").mkdir(parents=True)
    (root / "chapters" / "01_hello" / "hello_server.c").write_text("/* TODO: the starter */\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "starters"]):
        subprocess.run(["git", *cmd], cwd=root, check=True, env=env, capture_output=True)
    # a student (or a maintainer) edits the starter without committing
    (root / "chapters" / "01_hello" / "hello_server.c").write_text("int main(void) {}\n")
    return root


def test_the_committed_starter_is_read_not_the_edited_one(tmp_path):
    root = _repo(tmp_path)
    tree = starters.starter_tree(tmp_path / "out", root=root)
    assert (tree / "01_hello" / "hello_server.c").read_text() == "/* TODO: the starter */\n"
    assert starters.committed_file("chapters/01_hello/hello_server.c", root) == \
        b"/* TODO: the starter */\n"


def test_a_clone_owned_by_another_user_is_read_as_committed(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the clone to another user")
    root = _repo(tmp_path)
    subprocess.run(["chown", "-R", "1000:1000", str(root)], check=True)
    plain = subprocess.run(["git", "show", "HEAD:chapters/01_hello/hello_server.c"], cwd=root,
                           capture_output=True, text=True)
    if plain.returncode == 0:
        pytest.skip("this git does not distrust other users' checkouts")
    assert "dubious ownership" in plain.stderr
    tree = starters.starter_tree(tmp_path / "out", root=root)
    assert (tree / "01_hello" / "hello_server.c").read_text() == "/* TODO: the starter */\n"


def test_a_folder_that_is_not_a_checkout_is_said(tmp_path, monkeypatch):
    root = _repo(tmp_path)
    shutil.rmtree(root / ".git")
    monkeypatch.delenv(starters.FROM_TREE_ENV, raising=False)
    with pytest.raises(starters.StarterError, match="not a git checkout"):
        starters.starter_tree(tmp_path / "out", root=root)
    monkeypatch.setenv(starters.FROM_TREE_ENV, "1")
    tree = starters.starter_tree(tmp_path / "out", root=root)
    assert (tree / "01_hello" / "hello_server.c").read_text() == "int main(void) {}\n"
