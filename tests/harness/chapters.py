"""The workbook's chapters and exercises: the one list everything reads.

A maintainer adding a chapter adds its exercises here (and a test module
tests/chapters/test_<chapter>.py, and the folders chapters/<chapter>/ and
solutions/<chapter>/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Exercise:
    chapter: str          # folder name, e.g. "04_iterative_echo"
    name: str             # program or unit name, e.g. "echo_server"
    kind: str             # "posix" | "windows" | "check" | "review"
    role: str             # which tests apply: tests are marked with a role
    sources: tuple[str, ...]
    task: str             # one line: what to do, for "next up"

    @property
    def key(self) -> str:
        return f"{self.chapter}/{self.name}"

    @property
    def main_file(self) -> str:
        """The file the student edits for this exercise."""
        return self.sources[0] if self.sources else "answers.txt"

    @property
    def binary(self) -> str:
        if self.kind == "windows":
            return f"{self.name}.exe"
        if self.kind == "check":
            return f"check_{self.name}"
        return self.name


def _ex(chapter: str, name: str, kind: str, task: str, role: str | None = None,
        sources: tuple[str, ...] | None = None) -> Exercise:
    if sources is None:
        sources = () if kind == "review" else (f"{name}.c",)
    return Exercise(chapter, name, kind, role or name, sources, task)


EXERCISES: tuple[Exercise, ...] = (
    _ex("00_layered_model", "wire", "check",
        "write the byte-order, checksum, header and pcap functions in wire.c"),
    _ex("00_layered_model", "tcp_conversation", "posix",
        "build the ten frames of a whole TCP conversation into a pcap file",
        sources=("tcp_conversation.c", "wire.c")),
    _ex("00_layered_model", "review", "review", "answer the review questions"),
    _ex("01_hello", "hello_server", "posix",
        "accept one client and send it exactly the 12 bytes Hello World!"),
    _ex("01_hello", "hello_client", "posix",
        "connect, read until the server closes, print what it sent"),
    _ex("01_hello", "review", "review", "answer the review questions"),
    _ex("04_iterative_echo", "echo_server", "posix",
        "serve five clients one after another, echoing every byte"),
    _ex("04_iterative_echo", "echo_client", "posix",
        "send each input line and read back exactly as many bytes"),
    _ex("04_iterative_echo", "hello_server_iterative", "posix",
        "greet clients one after another until SIGTERM or SIGINT"),
    _ex("04_iterative_echo", "review", "review", "answer the review questions"),
    _ex("04_windows_echo", "echo_server_win", "windows",
        "the echo server again, with Winsock", role="echo_server"),
    _ex("04_windows_echo", "echo_client_win", "windows",
        "the echo client again, with Winsock", role="echo_client"),
    _ex("04_windows_echo", "review", "review", "answer the review questions"),
)

CHAPTERS: tuple[str, ...] = tuple(dict.fromkeys(e.chapter for e in EXERCISES))
CHECK_SUITES = {"wire": "tests/check/test_wire.c"}


def exercises(chapter: str | None = None) -> list[Exercise]:
    return [e for e in EXERCISES if chapter in (None, e.chapter)]


def find(chapter: str, name: str) -> Exercise:
    for e in EXERCISES:
        if e.chapter == chapter and e.name == name:
            return e
    raise KeyError(f"{chapter}/{name}")
