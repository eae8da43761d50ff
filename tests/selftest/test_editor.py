"""Editor support: compile_commands.json (make editor), .clang-format, .editorconfig."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import editor
from harness.build import CC, WIN_CC
from harness.chapters import CHECK_SUITES, ROOT

COMPILE_TIMEOUT = 60


def _generate(tmp_path: Path) -> list[dict]:
    out = tmp_path / "compile_commands.json"
    assert editor.main(["--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_compile_commands_list_every_c_file(tmp_path):
    items = _generate(tmp_path)
    wanted = {p for tree in editor.TREES for p in (ROOT / tree).glob("*/*.c")}
    wanted.update(ROOT / suite for suite in CHECK_SUITES.values())
    listed = [Path(e["file"]) for e in items]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == wanted
    for e in items:
        assert set(e) == {"directory", "file", "arguments"}
        assert Path(e["directory"]).is_absolute() and Path(e["file"]).is_absolute()
        assert e["arguments"][-1] == e["file"] and "-c" in e["arguments"]


def test_compile_commands_use_the_graders_compilers_and_flags(tmp_path):
    for e in _generate(tmp_path):
        args, path = e["arguments"], Path(e["file"])
        if path.parent.name == "04_windows_echo":
            assert args[0] == WIN_CC and "-D_POSIX_C_SOURCE=200809L" not in args
        else:
            assert args[0] == CC and "-D_POSIX_C_SOURCE=200809L" in args
        assert {"-std=c11", "-Wall", "-Wextra", "-Wpedantic"} <= set(args)
        if path.name == "test_wire.c":
            assert f"-I{ROOT / 'chapters' / '00_layered_model'}" in args
        elif path.name == "test_addr.c":
            assert f"-I{ROOT / 'chapters' / '03_addresses'}" in args
        else:
            assert f"-I{path.parent}" in args


def _syntax_check(entry: dict) -> tuple[str, int, str]:
    # -Werror: the references build warning-free
    args = list(entry["arguments"]) + ["-fsyntax-only", "-Werror"]
    try:
        proc = subprocess.run(args, cwd=entry["directory"], capture_output=True, text=True,
                              errors="replace", timeout=COMPILE_TIMEOUT)
    except FileNotFoundError:
        return entry["file"], 127, f"{args[0]} not found"
    return entry["file"], proc.returncode, proc.stderr


def test_every_compile_command_compiles(tmp_path):
    """The references' and the Check suite's commands compile. A starter's
    command is the same as its reference's but for the folder (and the
    self-test compiles every starter with these flags already)."""
    items = _generate(tmp_path)
    by_file = {Path(e["file"]): e for e in items}
    for path, e in by_file.items():
        if path.parts[-3] == "chapters":
            twin = by_file.get(ROOT / "solutions" / path.parent.name / path.name)
            if twin is not None:
                mine = [a.replace(str(path.parent), "<dir>") for a in e["arguments"]]
                ref = [a.replace(str(twin["file"]).rsplit("/", 1)[0], "<dir>")
                       for a in twin["arguments"]]
                assert mine == ref, (mine, ref)
    wanted = [e for p, e in by_file.items() if p.parts[-3] != "chapters"]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_syntax_check, wanted))
    assert len(results) >= 10
    bad = [f"{f}: exit {rc}\n{err[:800]}" for f, rc, err in results if rc != 0]
    assert not bad, "\n".join(bad)


@pytest.mark.skipif(shutil.which("clangd") is None, reason="clangd is not installed")
@pytest.mark.parametrize("source", ["solutions/01_hello/hello_server.c",
                                    "solutions/04_windows_echo/echo_server_win.c"])
def test_clangd_resolves_every_include(tmp_path, source):
    # the Winsock file is the hard case: clangd must take the target from
    # the mingw-w64 compiler's name to find <winsock2.h>
    _generate(tmp_path)
    proc = subprocess.run(["clangd", f"--compile-commands-dir={tmp_path}",
                           f"--check={ROOT / source}"], capture_output=True, text=True,
                          errors="replace", timeout=COMPILE_TIMEOUT, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert "Compile command from CDB" in log, log[-3000:]
    assert proc.returncode == 0 and "All checks completed, 0 errors" in log, log[-3000:]


@pytest.mark.skipif(shutil.which("clang-format") is None, reason="clang-format is not installed")
def test_clang_format_describes_the_references():
    """The style file parses, and formats the references with few changes
    (205 of 2074 lines when written, 141 of them only the spacing before a
    trailing comment): a guard against a setting that no longer fits."""
    changed = total = 0
    for source in sorted((ROOT / "solutions").glob("*/*.[ch]")):
        original = source.read_text(encoding="utf-8").splitlines()
        proc = subprocess.run(["clang-format", "--style=file", str(source)],
                              capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        formatted = proc.stdout.splitlines()
        total += len(original)
        changed += len(set(original) - set(formatted))
    assert total and changed / total < 0.15, f"{changed} of {total} lines would change"


def test_editorconfig_keeps_makefile_tabs_and_patches_intact():
    cfg = configparser.ConfigParser()
    # the lines before the first section (root = true) need a section of their own
    cfg.read_string("[preamble]\n" + (ROOT / ".editorconfig").read_text(encoding="utf-8"))
    assert cfg["{Makefile,*.mk}"]["indent_style"] == "tab"
    assert cfg["*.patch"]["trim_trailing_whitespace"] == "false"
    assert cfg["*.{c,h}"]["indent_size"] == "4"


def test_make_editor_runs_this_module():
    proc = subprocess.run(["make", "-s", "-n", "editor"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")})
    assert proc.returncode == 0 and "-m harness.editor" in proc.stdout, proc.stdout + proc.stderr
