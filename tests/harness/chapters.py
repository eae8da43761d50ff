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
class Contract:
    """The argument contract a program shares with the others (the notes
    state it once per chapter): tests/chapters/test_contracts.py makes the
    tests test_<prefix>_usage, _bad_port, _bind_fails and _refused from it."""
    prefix: str                     # test names: test_<prefix>_usage, ...
    too_many: tuple[str, ...]       # arguments one too many (usage)
    port: str = ""                  # "server" (argv[1] is a port), "client" (argv[2]), ""
    bind_fails: bool = False        # a server whose port is taken must say `bind`
    refused_stdin: bytes | None = None  # a client: nothing listening (stdin to give it)
    # arguments after the port (a server) or after the address and port (a
    # client) in every run the contract tests make, e.g. a file to serve;
    # `files` are made in the test folder first, so that such a name is real
    extra: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    udp: bool = False               # UDP: the port is held (and watched) with UDP sockets


SERVER = dict(port="server", bind_fails=True)
UDP_SERVER = dict(port="server", bind_fails=True, udp=True)
UDP_CLIENT = dict(port="client", udp=True)


@dataclass(frozen=True)
class Exercise:
    chapter: str          # folder name, e.g. "04_iterative_echo"
    name: str             # program or unit name, e.g. "echo_server"
    kind: str             # "posix" | "windows" | "check" | "review"
    role: str             # which tests apply: tests are marked with a role
    sources: tuple[str, ...]
    task: str             # one line: what to do, for "next up"
    contract: Contract | None = None  # its argument contract (None: no arguments)
    listens: bool = False             # a server: make try/run start it first
    partner: str = ""                 # a client: the role of the server it talks to
    needs: tuple[str, ...] = ()       # outside tools its tests use (harness/deps.py)
    libs: tuple[str, ...] = ()        # linker options after the sources, e.g. ("-pthread",)

    @property
    def key(self) -> str:
        return f"{self.chapter}/{self.name}"

    @property
    def slowness(self) -> float:
        """How much longer a start takes than a native program's: a Windows
        program starts Wine (and its own wineserver) first. Tests scale
        their waits by it, and run fewer variants of a test that starts the
        program many times."""
        return 3.0 if self.kind == "windows" else 1.0

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
        sources: tuple[str, ...] | None = None, **more) -> Exercise:
    if sources is None:
        sources = () if kind == "review" else (f"{name}.c",)
    return Exercise(chapter, name, kind, role or name, sources, task, **more)


EXERCISES: tuple[Exercise, ...] = (
    _ex("00_layered_model", "wire", "check",
        "write the byte-order, checksum, header and pcap functions in wire.c"),
    _ex("00_layered_model", "tcp_conversation", "posix",
        "build the ten frames of a whole TCP conversation into a pcap file",
        sources=("tcp_conversation.c", "wire.c"),
        contract=Contract("conversation", ("out.pcap", "1", "2", "hi", "ho", "extra")),
        needs=("tshark",)),
    _ex("00_layered_model", "review", "review", "answer the review questions"),
    _ex("01_hello", "hello_server", "posix",
        "accept one client and send it exactly the 12 bytes Hello World!",
        contract=Contract("hello_server", ("9190", "extra"), **SERVER), listens=True),
    _ex("01_hello", "hello_client", "posix",
        "connect, read until the server closes, print what it sent",
        contract=Contract("hello_client", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b""), partner="hello_server"),
    _ex("01_hello", "review", "review", "answer the review questions"),
    _ex("02_socket_types", "tcp_client", "posix",
        "read one byte per read() until the server closes, and count the reads",
        contract=Contract("tcp_client", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b"")),
    _ex("02_socket_types", "one_read_client", "posix",
        "wait (no sleep) until the server has closed, then read once and count",
        contract=Contract("one_read_client", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b"")),
    _ex("02_socket_types", "sock_type", "posix",
        "print the SO_TYPE and SO_PROTOCOL of TCP and UDP sockets"),
    _ex("02_socket_types", "review", "review", "answer the review questions"),
    _ex("03_addresses", "addr", "check",
        "write the byte-order conversions, the IPv4 parser and formatter, fill_sockaddr"),
    _ex("03_addresses", "addr_show", "posix",
        "print the bytes and fields of the struct sockaddr_in for an address and a port",
        sources=("addr_show.c", "addr.c"),
        contract=Contract("addr_show", ("127.0.0.1", "9190", "extra"), port="client")),
    _ex("03_addresses", "review", "review", "answer the review questions"),
    _ex("04_iterative_echo", "echo_server", "posix",
        "serve five clients one after another, echoing every byte",
        contract=Contract("echo_server", ("9190", "extra"), **SERVER), listens=True),
    _ex("04_iterative_echo", "echo_client", "posix",
        "send each input line and read back exactly as many bytes",
        contract=Contract("echo_client", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b"hello\nQ\n"), partner="echo_server"),
    _ex("04_iterative_echo", "hello_server_iterative", "posix",
        "greet clients one after another until SIGTERM or SIGINT",
        contract=Contract("hello_iterative", ("9190", "extra"), port="server"), listens=True),
    _ex("04_iterative_echo", "review", "review", "answer the review questions"),
    _ex("04_windows_echo", "echo_server_win", "windows",
        "the echo server again, with Winsock", role="echo_server", listens=True),
    _ex("04_windows_echo", "echo_client_win", "windows",
        "the echo client again, with Winsock", role="echo_client", partner="echo_server"),
    _ex("04_windows_echo", "review", "review", "answer the review questions"),
    _ex("05_app_protocol", "op_server", "posix",
        "answer five calculator requests (binary, network byte order), one client at a time",
        contract=Contract("op_server", ("9190", "extra"), **SERVER), listens=True),
    _ex("05_app_protocol", "op_client", "posix",
        "read a calculation from stdin, send it as one binary request, print the result",
        contract=Contract("op_client", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b"1\n5\n+\n"), partner="op_server"),
    _ex("05_app_protocol", "review", "review", "answer the review questions"),
    _ex("06_udp", "uecho_server", "posix",
        "echo every UDP datagram, whole, to whoever sent it, until SIGINT or SIGTERM",
        contract=Contract("uecho_server", ("9190", "extra"), **UDP_SERVER), listens=True),
    _ex("06_udp", "uecho_client", "posix",
        "send each line as a datagram, wait a second for its echo, send again up to 3 times",
        contract=Contract("uecho_client", ("127.0.0.1", "9190", "extra"), **UDP_CLIENT),
        partner="uecho_server", needs=("nft",)),
    _ex("06_udp", "bound_host1", "posix",
        "receive three datagrams with three recvfrom() calls and print each one's size",
        contract=Contract("bound_host1", ("9190", "extra"), **UDP_SERVER), listens=True),
    _ex("06_udp", "bound_host2", "posix",
        "send three datagrams of different sizes from one unbound socket",
        contract=Contract("bound_host2", ("127.0.0.1", "9190", "extra"), **UDP_CLIENT),
        partner="bound_host1"),
    _ex("06_udp", "uecho_con_client", "posix",
        "the echo client again with a connected UDP socket: connect, write, read",
        contract=Contract("uecho_con_client", ("127.0.0.1", "9190", "extra"), **UDP_CLIENT),
        partner="uecho_server"),
    _ex("06_udp", "review", "review", "answer the review questions"),
    _ex("07_half_close", "file_server", "posix",
        "send a whole file, shutdown(SHUT_WR), then print the client's reply",
        contract=Contract("file_server", ("9190", "served.txt", "extra"), extra=("served.txt",),
                          files=("served.txt",), **SERVER), listens=True),
    _ex("07_half_close", "file_client", "posix",
        "store the file until the end of stream, then send exactly Thank you",
        contract=Contract("file_client", ("127.0.0.1", "9190", "received.bin", "extra"),
                          port="client", refused_stdin=b"", extra=("received.bin",)),
        partner="file_server"),
    _ex("07_half_close", "review", "review", "answer the review questions"),
    _ex("10_multiprocess", "echo_mpserv", "posix",
        "echo for many clients at once: fork() a child per client, reap every child",
        contract=Contract("echo_mpserv", ("9190", "extra"), **SERVER), listens=True),
    _ex("10_multiprocess", "echo_mpclient", "posix",
        "split the echo client in two processes: one sends stdin, one prints the echo",
        contract=Contract("echo_mpclient", ("127.0.0.1", "9190", "extra"), port="client",
                          refused_stdin=b"hello\nq\n"), partner="echo_mpserv"),
    _ex("10_multiprocess", "review", "review", "answer the review questions"),
    _ex("12_select", "echo_selectserv", "posix",
        "echo for many clients at once in one process, one thread: select()",
        contract=Contract("echo_selectserv", ("9190", "extra"), **SERVER), listens=True),
    _ex("12_select", "review", "review", "answer the review questions"),
    _ex("17_epoll", "echo_epltserv", "posix",
        "echo with level-triggered epoll, 4 bytes per event, a line per epoll_wait()",
        contract=Contract("echo_epltserv", ("9190", "extra"), **SERVER), listens=True),
    _ex("17_epoll", "echo_epollserv", "posix",
        "edge-triggered epoll: non-blocking, drain until EAGAIN, bounded buffers, 10,000 clients",
        contract=Contract("echo_epollserv", ("9190", "extra"), **SERVER), listens=True),
    _ex("17_epoll", "review", "review", "answer the review questions"),
    _ex("18_threads", "chat_server", "posix",
        "relay every whole line to every client: a thread per client, the list under a mutex",
        contract=Contract("chat_server", ("9190", "extra"), **SERVER), listens=True,
        libs=("-pthread",)),
    _ex("18_threads", "chat_client", "posix",
        "send each stdin line as [name] line in one thread, print what arrives in another",
        contract=Contract("chat_client", ("127.0.0.1", "9190", "alice", "extra"),
                          port="client", refused_stdin=b"hello\nq\n", extra=("alice",)),
        partner="chat_server", libs=("-pthread",)),
    _ex("18_threads", "echo_thrserv", "posix",
        "the echo server with a detached thread per client",
        contract=Contract("echo_thrserv", ("9190", "extra"), **SERVER), listens=True,
        libs=("-pthread",)),
    _ex("18_threads", "review", "review", "answer the review questions"),
)

CHAPTERS: tuple[str, ...] = tuple(dict.fromkeys(e.chapter for e in EXERCISES))
# The order to work in, which `make check`'s "next up" follows. The numbers
# are the textbook's chapters; 00 (the bytes of a TCP conversation, by hand:
# checksums, headers, pcap) is the companion to read alongside the textbook's
# chapter 05 on TCP's internals, once sockets are familiar, so it comes last.
SUGGESTED_ORDER: tuple[str, ...] = ("01_hello", "02_socket_types", "03_addresses",
                                    "04_iterative_echo", "04_windows_echo", "05_app_protocol",
                                    "00_layered_model", "06_udp", "07_half_close",
                                    "10_multiprocess", "12_select", "17_epoll",
                                    "18_threads")
CHECK_SUITES = {"wire": "tests/check/test_wire.c", "addr": "tests/check/test_addr.c"}


def exercises(chapter: str | None = None) -> list[Exercise]:
    return [e for e in EXERCISES if chapter in (None, e.chapter)]


def find(chapter: str, name: str) -> Exercise:
    for e in EXERCISES:
        if e.chapter == chapter and e.name == name:
            return e
    raise KeyError(f"{chapter}/{name}")


def in_suggested_order(exs: list[Exercise]) -> list[Exercise]:
    """The exercises sorted by SUGGESTED_ORDER (a chapter not in it last),
    each chapter's in their own order."""
    rank = {ch: i for i, ch in enumerate(SUGGESTED_ORDER)}
    return sorted(exs, key=lambda e: rank.get(e.chapter, len(rank)))
