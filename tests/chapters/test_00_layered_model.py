"""Chapter 00: the layered model. wire.c is graded by Check unit tests
(tests/check/test_wire.c); tcp_conversation's pcap file is read by tshark, a
real dissector (contract: chapters/00_layered_model/README.md)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from harness import checksuite, pcapcheck
from harness.feedback import describe_exit, fail, show
from harness.net import random_text
from harness.scenarios import ends_with_status_1


# -- wire.c: Check unit tests, one pytest test per Check test (harness/checksuite.py)

cases = checksuite.cases


@pytest.mark.role("wire")
def test_wire(prog):
    checksuite.judge(prog)


# -- tcp_conversation: the pcap, read by tshark ------------------------------------

# The four tests below judge four sides of one conversation. tshark takes a
# fifth of a second of CPU to start, which is most of this chapter's cost when
# a whole class is graded, so each program's file is made and read once per
# test session (per worker), and the tests share it, or share its failure.
_CONVERSATIONS: dict[tuple, object] = {}


def _conversation(prog, procs, tmp_path: Path):
    """What tshark read from the file the program wrote for random numbers
    and messages, and the inputs: made once per program (see above)."""
    key = (prog.sub.name, prog.ex.key, prog.built.digest if prog.built else "")
    if key not in _CONVERSATIONS:
        try:
            _CONVERSATIONS[key] = _make_conversation(prog, procs, tmp_path)
        except pytest.fail.Exception as exc:
            _CONVERSATIONS[key] = exc
    got = _CONVERSATIONS[key]
    if isinstance(got, BaseException):
        raise got
    return got


def _make_conversation(prog, procs, tmp_path: Path):
    client_isn = secrets.randbelow(1 << 32)
    server_isn = (1 << 32) - 1 - secrets.randbelow(3)  # sequence numbers wrap around
    if secrets.randbelow(2):
        client_isn, server_isn = server_isn, client_isn
    request = random_text(1 + secrets.randbelow(120)).strip() or b"GET"
    reply = random_text(1 + secrets.randbelow(150)).strip() or b"OK"
    pcap = tmp_path / "conversation.pcap"
    args = [str(pcap), str(client_isn), str(server_isn), request.decode(), reply.decode()]
    proc = prog.start(procs, *args, limit=20)
    rc = proc.wait_exit(15)
    did = (f"ran `tcp_conversation out.pcap {client_isn} {server_isn} "
           f"{request.decode()!r} {reply.decode()!r}`")
    if rc != 0 or not pcap.exists():
        fail(did=did, expected="exit status 0 and the pcap file written",
             got=("no file, " if not pcap.exists() else "") + describe_exit(proc), procs=[proc])
    try:
        frames = pcapcheck.read_frames(pcap)
    except pcapcheck.PcapReadError as exc:  # tshark's own words on why it cannot read it
        fail(did=did + " and read the file with tshark",
             expected="a pcap file tshark can read", got=str(exc), procs=[proc],
             hint="Check pcap_write_header: magic 0xa1b2c3d4, version 2.4, link type 1.")
    return frames, (client_isn, server_isn, request, reply), did


def _judge(did: str, what: str, problems: list[str], frames) -> None:
    if problems:
        fail(did=did + " and read the file with tshark", expected=what,
             got="\n  " + "\n  ".join(problems[:8])
             + f"\nThe frames as tshark sees them:\n{pcapcheck.describe(frames)}")


@pytest.mark.role("tcp_conversation")
def test_conversation_bad_isn(prog, procs, tmp_path):
    # "+7" and " 7": strtoul() with an end pointer takes both, the notes do not
    for bad in ("abc", "-1", "4294967296", "12x", "", "+7", " 7"):
        for args in ([bad, "7"], ["7", bad]):
            out = tmp_path / "out.pcap"
            why = f"invalid ISN {bad!r}: not a decimal number 0-4294967295"
            proc = ends_with_status_1(prog, procs, [str(out), *args, "hi", "ho"], why)
            if out.exists():
                fail(did=f"ran `tcp_conversation out.pcap {args[0]!r} {args[1]!r} hi ho` "
                         f"({why})", expected="exit status 1 and no file written",
                     got=f"exit status 1, but out.pcap was created ({out.stat().st_size} "
                         "bytes)", procs=[proc],
                     hint="Check both ISNs (and the messages) before fopen(): a run that "
                          "fails must leave no file behind.")


def _long_message(n: int) -> str:
    return (random_text(n).replace(b" ", b"_") + b"x" * n)[:n].decode()


@pytest.mark.role("tcp_conversation")
def test_conversation_message_length(prog, procs, tmp_path):
    out = str(tmp_path / "out.pcap")
    too_long = _long_message(1461)
    for request, reply, what in (("", "ho", "an empty request"), ("hi", "", "an empty reply"),
                                 (too_long, "ho", "a 1461-byte request"),
                                 ("hi", too_long, "a 1461-byte reply")):
        ends_with_status_1(prog, procs, [out, "1", "2", request, reply],
                           f"{what}: each message must be 1 to 1460 bytes, one segment")
    # 1460 bytes is the most one segment carries, and must be accepted
    longest = _long_message(1460)
    pcap = tmp_path / "longest.pcap"
    proc = prog.start(procs, str(pcap), "1", "2", longest, longest, limit=20)
    rc = proc.wait_exit(15)
    if rc != 0 or not pcap.exists():
        fail(did="ran `tcp_conversation longest.pcap 1 2 <request> <reply>` with a "
                 "request and a reply of 1460 bytes each",
             expected="exit status 0 and the file written: 1460 bytes fit in one segment "
                      "(1500 - 20 - 20)",
             got=("no file, " if not pcap.exists() else "") + describe_exit(proc),
             procs=[proc], hint="The limit is TCP_MAX_PAYLOAD inclusive: refuse only "
                                "lengths 0 and above 1460.")


@pytest.mark.role("tcp_conversation")
def test_conversation_cannot_open(prog, procs, tmp_path):
    ends_with_status_1(prog, procs, [str(tmp_path / "no-such-folder" / "out.pcap"),
                                     "1", "2", "hi", "ho"],
                       "the output file's folder does not exist, so it cannot be opened",
                       expect_in_stderr="fopen")


@pytest.mark.role("tcp_conversation")
def test_conversation_flags(prog, procs, tmp_path):
    frames, _, did = _conversation(prog, procs, tmp_path)
    _judge(did, "10 frames: SYN, SYN+ACK, ACK, PSH+ACK, PSH+ACK, ACK, FIN+ACK, ACK, "
                "FIN+ACK, ACK", pcapcheck.check_flags(frames), frames)


@pytest.mark.role("tcp_conversation")
def test_conversation_numbers(prog, procs, tmp_path):
    frames, (cisn, sisn, req, rep), did = _conversation(prog, procs, tmp_path)
    _judge(did, "sequence and acknowledgement numbers that follow from the ISNs",
           pcapcheck.check_numbers(frames, cisn, sisn, req, rep), frames)


@pytest.mark.role("tcp_conversation")
def test_conversation_checksums(prog, procs, tmp_path):
    frames, _, did = _conversation(prog, procs, tmp_path)
    _judge(did, "valid IPv4 and TCP checksums in every frame",
           pcapcheck.check_checksums(frames), frames)


@pytest.mark.role("tcp_conversation")
def test_conversation_payloads(prog, procs, tmp_path):
    frames, (_, _, req, rep), did = _conversation(prog, procs, tmp_path)
    _judge(did, f"the request {show(req)} in frame 4 and the reply {show(rep)} in frame 5",
           pcapcheck.check_payloads(frames, req, rep), frames)
