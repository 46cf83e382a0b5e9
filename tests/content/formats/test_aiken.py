"""Aiken reader and writer."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certplatform.content.contracts import (
    Choice,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats import aiken
from certplatform.content.formats.base import ImportFormatError, ParseResult

SAMPLE = """\
What is the correct answer to this question?
A. Is it this one?
B. Maybe this answer?
C. Possibly this one?
D. Must be this one!
ANSWER: D

Which LMS has the most quiz import formats?
A) Moodle
B) ATutor
C) Claroline
D) Blackboard
E) WebCT
F) Ilias
ANSWER: A
"""


def read(text: str) -> ParseResult:
    return aiken.parse(text.encode())


def single_choice(stem: str, *texts: str, key: int = 0) -> QuestionContent:
    return QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem=stem,
        choices=tuple(
            Choice(id=string.ascii_uppercase[i], text=text, weight=1.0 if i == key else 0.0)
            for i, text in enumerate(texts)
        ),
    )


def test_reads_both_separators() -> None:
    result = read(SAMPLE)
    assert result.errors == []
    first, second = result.drafts
    assert first.content == single_choice(
        "What is the correct answer to this question?",
        "Is it this one?",
        "Maybe this answer?",
        "Possibly this one?",
        "Must be this one!",
        key=3,
    )
    assert first.location == "line 1"
    assert second.location == "line 8"
    assert [c.id for c in second.content.choices] == list("ABCDEF")
    assert second.content.choices[0].weight == 1.0


def test_questions_need_no_blank_line_and_text_may_span_lines() -> None:
    result = read(
        "\ufeffFirst line\r\n  second line\r\nA. yes\r\nB. no\r\nANSWER: a\r\n"
        "Next?\nA. one\nB. two\nANSWER: B\n"
    )
    assert result.errors == []
    first, second = result.drafts
    assert first.content.stem == "First line\n  second line"
    assert first.content.choices[0].weight == 1.0
    assert second.content.stem == "Next?"
    assert second.location == "line 6"


@pytest.mark.parametrize(
    ("item", "line", "message"),
    [
        ("Q?\nA. a\nB. b", 5, "no 'ANSWER: <letter>' line"),
        ("Q?\nA. a\nB. b\nANSWER: C", 8, "'C' is not one of the choice letters A, B"),
        ("A. a\nB. b\nANSWER: A", 5, "a choice comes before the question text"),
        ("ANSWER: A", 5, "an ANSWER: line without a question"),
        ("Q?\nANSWER: A", 6, "no choices"),
        ("Q?\nA. a\nsomething else\nANSWER: A", 7, "found 'something else'"),
        ("Q?\nA. only\nANSWER: A", 5, "at least 2 choices"),
        ("Q?\nA. a\nA. b\nANSWER: A", 5, "choice ids must be unique"),
    ],
)
def test_bad_items_name_their_line(item: str, line: int, message: str) -> None:
    result = read(f"Good?\nA. x\nB. y\nANSWER: A\n{item}\n\nLast?\nA. x\nB. y\nANSWER: B\n")
    assert [d.content.stem for d in result.drafts] == ["Good?", "Last?"]
    [error] = result.errors
    assert error.location == f"line {line}"
    assert message in error.message


def test_undecodable_bytes_are_a_format_error() -> None:
    with pytest.raises(ImportFormatError, match="UTF-8"):
        aiken.parse(b"Q?\nA. \xc3\x28\nB. b\nANSWER: A\n")


def test_dump_writes_the_classic_layout() -> None:
    draft = QuestionDraft(
        content=single_choice("2 + 2 = ?", "4", "5", key=0).model_copy(
            update={"explanation": "dropped"}
        ),
        title="dropped too",
    )
    assert aiken.dump([draft, draft]).decode() == (
        "2 + 2 = ?\nA. 4\nB. 5\nANSWER: A\n\n2 + 2 = ?\nA. 4\nB. 5\nANSWER: A\n"
    )


def test_round_trip() -> None:
    drafts = [QuestionDraft(content=single_choice("Multi\n  line?", "a", "b", "c", key=2))]
    assert [d.content for d in aiken.parse(aiken.dump(drafts)).drafts] == [drafts[0].content]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            QuestionContent(type=QuestionType.TRUE_FALSE, stem="T?", true_false_answer=True),
            "it is true_false; Aiken holds single-choice questions only",
        ),
        (
            QuestionContent(
                type=QuestionType.SINGLE_CHOICE,
                stem="Partial?",
                choices=(
                    Choice(id="A", text="a", weight=1.0),
                    Choice(id="B", text="b", weight=0.5),
                ),
            ),
            "no partial or negative credit",
        ),
        (single_choice("Q?", "a\nb", "c"), "has a line break"),
        (single_choice("Q?\nA. looks like a choice", "a", "b"), "would not read back"),
        (single_choice("Q?\n\nmore", "a", "b"), "would not read back"),
        (single_choice("ANSWER: A", "a", "b"), "would not read back"),
        (
            QuestionContent(
                type=QuestionType.SINGLE_CHOICE,
                stem="Many?",
                choices=tuple(
                    Choice(id=str(i), text=str(i), weight=1.0 if i == 0 else 0.0) for i in range(27)
                ),
            ),
            "more than 26 choices",
        ),
    ],
)
def test_dump_refuses_what_aiken_cannot_hold(content: QuestionContent, message: str) -> None:
    with pytest.raises(ValueError, match="question X-9: ") as raised:
        aiken.dump([QuestionDraft(content=content, external_id="X-9")])
    assert message in str(raised.value)


# Generated single-choice questions round-trip (only what Aiken carries is generated).

_CHARS = st.characters(exclude_categories=("Cs", "Cc"))
line = st.text(_CHARS, min_size=1, max_size=20).map(str.strip).filter(bool)
# A question line must not read as a choice or as the ANSWER: line.
stem_line = line.filter(
    lambda t: not re.fullmatch(r"[A-Z][.)][ \t]+.*", t) and not t.startswith("ANSWER:")
)


@st.composite
def contents(draw: st.DrawFn) -> QuestionContent:
    stem = "\n".join(draw(st.lists(stem_line, min_size=1, max_size=3)))
    texts = draw(st.lists(line, min_size=2, max_size=8))
    return single_choice(stem, *texts, key=draw(st.integers(0, len(texts) - 1)))


@settings(deadline=None)
@given(st.lists(contents(), min_size=1, max_size=4))
def test_generated_questions_round_trip(written: list[QuestionContent]) -> None:
    result = aiken.parse(aiken.dump([QuestionDraft(content=c) for c in written]))
    assert result.errors == []
    assert [d.content for d in result.drafts] == written


# Whatever comes in, the reader answers with a result or ImportFormatError.

_PIECES = st.sampled_from(
    ["A. ", "B) ", "C.", "ANSWER: ", "ANSWER:A", "A", "b", "\n", "\n\n", " ", "\r", "\ufeff", "Q?"]
)
aiken_like = st.lists(_PIECES | st.text(max_size=3), max_size=40).map("".join)


def read_anything(data: bytes) -> None:
    try:
        result = aiken.parse(data)
    except ImportFormatError:
        return
    for draft in result.drafts:
        assert draft.content.type is QuestionType.SINGLE_CHOICE
    for error in result.errors:
        assert error.location.startswith("line ")
        assert error.message


@settings(deadline=None)
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    read_anything(data)


@settings(deadline=None)
@given(st.text())
def test_any_text(text: str) -> None:
    read_anything(text.encode())


@settings(max_examples=500, deadline=None)
@given(aiken_like)
def test_aiken_like_text(text: str) -> None:
    read_anything(text.encode())
