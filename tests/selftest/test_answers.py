"""The review-question grader: tolerant where meaning allows, never crashing."""

from pathlib import Path

import pytest

from harness.answers import Question, grade, load_questions, parse_sheet, QuestionError

WORD = Question("q1", "word", "Which call?", "Think about the queue.")
CHOICE = Question("q2", "choice", "Pick one", "Read again.", ("x", "y", "z"))
NUMBER = Question("q3", "number", "How many?", "Count.")
SET = Question("q4", "set", "Which flags?", "Look at the second segment.")
SEQ = Question("q5", "sequence", "In order?", "Server side.")


@pytest.mark.parametrize("given", ["listen", "LISTEN", " listen() ", "`listen`", "listen."])
def test_word_forgives_case_spacing_and_parentheses(given):
    assert grade(WORD, given, "listen").ok


@pytest.mark.parametrize("given", ["accept", "listen accept", "lis ten", "listen|accept"])
def test_word_rejects_wrong_answers_and_guesses(given):
    verdict = grade(WORD, given, "listen")
    assert not verdict.ok
    assert "listen" not in verdict.message.replace(f"`{given.strip()}`", "")


def test_choice_letters():
    assert grade(CHOICE, "(b)", "b").ok and grade(CHOICE, "B", "b").ok
    assert not grade(CHOICE, "a", "b").ok
    bad = grade(CHOICE, "d", "b")
    assert not bad.ok and "a to c" in bad.message


def test_number():
    assert grade(NUMBER, " 12 ", "12").ok
    assert not grade(NUMBER, "13", "12").ok
    assert "whole number" in grade(NUMBER, "twelve", "12").message


def test_set_any_order_exact_members():
    assert grade(SET, "ack, SYN", "syn, ack").ok
    assert not grade(SET, "syn", "syn, ack").ok
    assert not grade(SET, "syn, ack, fin", "syn, ack").ok


def test_sequence_order_matters_and_alternatives():
    key = "socket, bind, listen, accept|accept(), close"
    assert grade(SEQ, "socket(), bind, listen -> accept, close", key).ok
    verdict = grade(SEQ, "socket, listen, bind, accept, close", key)
    assert not verdict.ok and "order" in verdict.message


def test_blank_answer_says_so():
    assert "no answer yet" in grade(WORD, "", "listen").message


def test_sheet_reports_bad_lines_by_number(tmp_path: Path):
    f = tmp_path / "answers.txt"
    f.write_text("# comment\nq1: listen\nlisten\nq9: x\nq1: accept\nQ2 : b\n")
    sheet = parse_sheet(f, ["q1", "q2"])
    assert sheet.answers == {"q1": ("listen", 2), "q2": ("b", 6)}
    text = "\n".join(sheet.problems)
    assert "line 3" in text and "line 4" in text and "line 5" in text


def test_missing_and_binary_sheets_do_not_crash(tmp_path: Path):
    assert parse_sheet(tmp_path / "nope.txt").missing
    f = tmp_path / "answers.txt"
    f.write_bytes(b"\xff\xfe\x00garbage\nq1: listen\n")
    assert parse_sheet(f, ["q1"]).answers["q1"][0] == "listen"


def test_malformed_questions_file_is_a_clear_error(tmp_path: Path):
    f = tmp_path / "questions.toml"
    f.write_text('[[question]]\nid = "q2"\nkind = "word"\ntext = "t"\nhint = "h"\n')
    with pytest.raises(QuestionError, match="expected 'q1'"):
        load_questions(f)
