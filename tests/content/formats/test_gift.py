"""GIFT reader and writer: the GIFT-grammar-PEG.js conformance suite, mapping, round trips."""

from __future__ import annotations

import contextlib
import json
import os
import string
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    MatchPair,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats import gift, moodle_grades
from certplatform.content.formats.base import ImportFormatError, ParseResult

# ../shared/data beside the checkout (CI lays a copy of shared/ next to its clone).
SHARED_DATA = Path(
    os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[4] / "shared" / "data")
)
CONFORMANCE = SHARED_DATA / "gift-conformance" / "tests" / "questions"
# Every case in the suite passes: none is out of scope.
CASES = sorted(CONFORMANCE.glob("*.gift"))


def read(text: str) -> ParseResult:
    return gift.parse(text.encode())


def only(text: str) -> QuestionDraft:
    result = read(text)
    assert result.errors == []
    assert len(result.drafts) == 1
    return result.drafts[0]


# Conformance


def test_the_conformance_suite_is_there() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_conformance_syntax_tree(path: Path) -> None:
    # Decimal keeps weights like 33.33333 exact; ints in the JSON compare equal to Decimals.
    expected = json.loads(path.with_suffix(".json").read_text("utf-8"), parse_float=Decimal)
    assert gift.parse_raw(path.read_text("utf-8")) == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_conformance_files_import_without_errors(path: Path) -> None:
    raw = gift.parse_raw(path.read_text("utf-8"))
    result = gift.parse(path.read_bytes())
    assert result.errors == []
    questions = [item for item in raw if item["type"] not in ("Category", "Description")]
    assert len(result.drafts) == len(questions)


# Mapping onto the model


def test_single_choice_keeps_partial_credit_and_feedback() -> None:
    draft = only(
        "::Hard::Difficult question.{\n"
        "  ~wrong answer #comment on wrong answer\n"
        "  ~%50%half credit answer #comment on answer\n"
        "  =full credit answer #well done!\n"
        "  ####Because.\n"
        "}\n"
    )
    content = draft.content
    assert draft.title == "Hard"
    assert content.type is QuestionType.SINGLE_CHOICE
    assert content.choices == (
        Choice(id="A", text="wrong answer", weight=0.0, feedback="comment on wrong answer"),
        Choice(id="B", text="half credit answer", weight=0.5, feedback="comment on answer"),
        Choice(id="C", text="full credit answer", weight=1.0, feedback="well done!"),
    )
    assert content.explanation == "Because."


def test_weights_without_a_key_make_multiple_response() -> None:
    content = only(
        "Continents?{~%33.33333%Africa ~%33.33333%Asia ~%-100%China ~%33.33333%Antarctica}"
    ).content
    assert content.type is QuestionType.MULTIPLE_RESPONSE
    assert [c.weight for c in content.choices] == [0.3333333, 0.3333333, -1.0, 0.3333333]
    assert [c.id for c in content.choices] == ["A", "B", "C", "D"]


def test_true_false_takes_general_feedback_or_the_wrong_answer_feedback() -> None:
    plain = only("Grant is buried in Grant's tomb.{F}").content
    assert plain.type is QuestionType.TRUE_FALSE
    assert plain.true_false_answer is False
    assert plain.explanation == ""
    feedback = only("42 is the answer.{FALSE#It is the Ultimate Answer.#Right.}").content
    assert feedback.explanation == "It is the Ultimate Answer."
    general = only("The sun rises in the east.{TRUE#no#yes####It does.}").content
    assert general.true_false_answer is True
    assert general.explanation == "It does."


def test_short_answer_weights_and_embedded_blank() -> None:
    content = only(
        "::Hometown:: Jesus Christ was from {\n"
        "     =Nazareth#Yes!\n"
        "     =%75%Nazereth#Misspelled.\n"
        "     =%25%Bethlehem\n"
        "}.\n"
    ).content
    assert content.type is QuestionType.SHORT_ANSWER
    assert content.stem == "Jesus Christ was from _____ ."
    assert content.accepted_answers == (
        AcceptedAnswer(text="Nazareth", weight=1.0, feedback="Yes!"),
        AcceptedAnswer(text="Nazereth", weight=0.75, feedback="Misspelled."),
        AcceptedAnswer(text="Bethlehem", weight=0.25),
    )
    assert only("Write the number 1 in words. {One}").content.accepted_answers == (
        AcceptedAnswer(text="One"),
    )


def test_numeric_forms() -> None:
    assert only("Year?{#1822:5}").content.numeric_answers == (
        NumericAnswer(value=1822, tolerance=5),
    )
    assert only("Pi?{#3.141..3.142}").content.numeric_answers == (
        NumericAnswer(min=3.141, max=3.142),
    )
    assert only("Minus one?{#-1}").content.numeric_answers == (NumericAnswer(value=-1),)
    content = only(
        "Year? {#\n  =1822:0 #Right\n  =%50%1822:2 #Close\n  ~#Completely wrong\n}"
    ).content
    # The catch-all '~#...' earns nothing and has no number: it is dropped.
    assert content.numeric_answers == (
        NumericAnswer(value=1822, tolerance=0, weight=1.0, feedback="Right"),
        NumericAnswer(value=1822, tolerance=2, weight=0.5, feedback="Close"),
    )


def test_matching_pairs_and_distractor() -> None:
    content = only(
        "[html]Match the <b>activity</b>.{\n"
        "  =[plain]Asynchronous discussions -> Forum\n"
        "  =Multiple responses -> Choice\n"
        "  = -> Chat\n"
        "}"
    ).content
    assert content.type is QuestionType.MATCHING
    assert content.stem == "Match the <b>activity</b>."
    assert content.pairs == (
        MatchPair(left="Asynchronous discussions", right="Forum"),
        MatchPair(left="Multiple responses", right="Choice"),
        MatchPair(left="", right="Chat"),
    )


def test_essay_and_descriptions() -> None:
    result = read(
        "::Intro::Use pencil and paper for these questions.\n\n"
        "Write a short biography of Dag Hammarskjöld. {####Mention the UN.}\n"
    )
    assert result.errors == []
    [essay] = result.drafts
    assert essay.content.type is QuestionType.ESSAY
    assert essay.content.explanation == "Mention the UN."
    assert essay.location == "line 3"


def test_html_stems_are_kept_as_written() -> None:
    stem = only("[html]<p>Line one</p>\n<pre>  code \\{ \\}</pre>\n{}").content.stem
    assert stem == "<p>Line one</p>\n<pre>  code { }</pre>"


def test_id_tags_and_categories() -> None:
    result = read(
        "$CATEGORY: $course$/top/Physics/Optics/Lenses\n\n"
        "// [id:PHY-1] [tag:light] [tag:exam 2024]\n"
        "::Focus::A lens focuses light.{T}\n\n"
        "$CATEGORY: Chemistry\n\n"
        "Water is H2O.{T}\n\n"
        "$CATEGORY: $course$/Default for LING//373\n\n"
        "Essay?{}\n"
    )
    assert result.errors == []
    first, second, third = result.drafts
    assert (first.external_id, first.title, first.tags) == (
        "PHY-1",
        "Focus",
        ("light", "exam 2024"),
    )
    assert (first.subject, first.subject_name, first.topic, first.topic_name) == (
        "Physics",
        "Physics",
        "Optics",
        "Optics",
    )
    assert (second.subject, second.topic, second.external_id) == ("Chemistry", None, None)
    assert (third.subject, third.topic) == ("Default for LING/373", None)


def test_bom_crlf_and_comments() -> None:
    data = "\ufeff// a comment\r\nWho's buried in Grant's tomb?{~Grant ~Jefferson =no one}\r\n"
    result = gift.parse(data.encode())
    assert result.errors == []
    assert result.drafts[0].location == "line 2"
    assert result.drafts[0].content.choices[2].weight == 1.0


def test_undecodable_bytes_are_a_format_error() -> None:
    with pytest.raises(ImportFormatError, match="UTF-8"):
        gift.parse(b"Question?{T}\n\xff\xfe")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Open block?{=a ~b", "never closed"),
        ("Stray } brace{T}", "before any '{'"),
        ("::Title without end{T}", "no closing '::'"),
        ("Two blocks{T} and {F}", "one answer block"),
        ("Year?{#about 1800}", "'about 1800' is not a number"),
        ("Range?{#5..1}", "above max"),
        ("Weight?{=%150%a ~b}", "outside -100%..100%"),
        ("No key?{~a ~b}", "no answer earns credit"),
        ("One choice?{=a ~}", "choice is empty"),
        ("Match?{=a -> 1 =b}", "matching pair 2 has no '->'"),
        ("Match?{=a -> 1 =b -> 2#nice}", "pairs take no feedback"),
        ("Lead?{x =a ~b}", "unexpected text 'x'"),
        ("Feedbacks?{T#a#b#c}", "at most two"),
        ("{T}", "question text"),
    ],
)
def test_bad_items_are_reported_with_their_line(text: str, message: str) -> None:
    result = read(f"First?{{T}}\n\n// comment\n{text}\n\nLast?{{F}}\n")
    assert [d.content.stem for d in result.drafts] == ["First?", "Last?"]
    [error] = result.errors
    assert error.location == "line 4"
    assert message in error.message


def test_a_weight_moodle_does_not_allow_refuses_the_question_by_name() -> None:
    result = read(
        "First?{T}\n\n// [id:GAS-1]\n::Gases::Which are noble?{=Neon ~%35%Nitrogen ~Oxygen}\n"
    )
    assert [d.content.stem for d in result.drafts] == ["First?"]
    [error] = result.errors
    assert error.location == "line 4 (id GAS-1 / title Gases)"
    assert error.message.startswith("answer 2: the grade 35% is not one Moodle allows")


@pytest.mark.parametrize(
    "text",
    [
        "Short?{=ohm =%45%Ohm}",
        "Year?{#=1822 =%45%1820:2}",
        "Pick?{~%50%a ~%50%b ~%-45%c}",
        # Moodle matches within 0.00001 of a grade: 33.3% is 0.0000333 away from 33.33333%.
        "Pick?{~%33.3%a ~%33.3%b ~%33.4%c}",
    ],
)
def test_every_graded_type_checks_its_weights(text: str) -> None:
    [error] = read(f"::Q::{text}").errors
    assert error.location == "line 1 (title Q)"
    assert "is not one Moodle allows" in error.message


def test_multiple_response_weights_must_add_up_to_100() -> None:
    [error] = read("::Gases::Which?{~%30%He ~%30%Ne ~%30%Ar ~%-100%N}").errors
    assert error.location == "line 1 (title Gases)"
    assert error.message == "the positive grades add up to 90%, not 100%"
    [error] = read("Which?{~%100%He ~%100%Ne ~N}").errors
    assert error.message == "the positive grades add up to 200%, not 100%"


@pytest.mark.parametrize(
    ("block", "weights"),
    [
        ("{~%33.33333%a ~%33.33333%b ~%33.33333%c ~%-25%d}", [0.3333333] * 3 + [-0.25]),
        ("{~%50%a ~%50%b ~%-100%c}", [0.5, 0.5, -1.0]),
        ("{=%100%a ~%50%b ~%-25%c}", [1.0, 0.5, -0.25]),
        # Within Moodle's tolerance: read as the grade Moodle stores.
        ("{~%33.333%a ~%66.667%b ~c}", [0.3333333, 0.6666667, 0.0]),
    ],
)
def test_allowed_weights_import_as_moodle_stores_them(block: str, weights: list[float]) -> None:
    assert [c.weight for c in only("Pick?" + block).content.choices] == weights


def test_parse_raw_stops_at_a_bad_item() -> None:
    with pytest.raises(ImportFormatError, match=r"line 3: .*never closed"):
        gift.parse_raw("Good?{T}\n\nBad?{=a\n")


# Writing


def draft(content: QuestionContent, **meta: object) -> QuestionDraft:
    return QuestionDraft.model_validate({"content": content, **meta})


EXAMPLES = [
    QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem="Which is *right*?\n\nPick one: {a} = b # c ~ d : e \\ f [html]",
        choices=(
            Choice(id="A", text="=100% sure", weight=0.0, feedback="no: #1"),
            Choice(id="B", text="[html]<b>this</b>", weight=1.0, feedback="[plain]yes"),
            Choice(id="C", text="%50% off", weight=0.5),
            Choice(id="D", text="also right", weight=1.0),
        ),
        explanation="Because.\n- point one\n- point two",
    ),
    QuestionContent(
        type=QuestionType.MULTIPLE_RESPONSE,
        stem="Pick the continents.",
        choices=(
            Choice(id="A", text="Africa", weight=0.3333333),
            Choice(id="B", text="Asia", weight=0.3333333),
            Choice(id="C", text="China -> no", weight=-1.0),
            Choice(id="D", text="Antarctica", weight=0.3333333),
        ),
    ),
    QuestionContent(type=QuestionType.TRUE_FALSE, stem="TRUE?", true_false_answer=True),
    QuestionContent(
        type=QuestionType.TRUE_FALSE,
        stem="F",
        true_false_answer=False,
        explanation="#### not general",
    ),
    QuestionContent(
        type=QuestionType.SHORT_ANSWER,
        stem="Who's buried in Grant's tomb?",
        accepted_answers=(
            AcceptedAnswer(text="T"),
            AcceptedAnswer(text="nobody", weight=0.9, feedback="close"),
            AcceptedAnswer(text="%", weight=0.0),
        ),
    ),
    QuestionContent(
        type=QuestionType.NUMERIC,
        stem="Numbers",
        numeric_answers=(
            NumericAnswer(value=1822.0, tolerance=0.5, feedback="ok"),
            NumericAnswer(min=-3.142, max=-3.141, weight=0.25),
            NumericAnswer(value=1e300, weight=0.0),
            NumericAnswer(value=-0.0),
        ),
    ),
    QuestionContent(
        type=QuestionType.MATCHING,
        stem="Match",
        pairs=(
            MatchPair(left="Canada", right="Ottawa -> Ontario"),
            MatchPair(left="a = b", right="x # y"),
            MatchPair(left="", right="Chat"),
        ),
    ),
    QuestionContent(type=QuestionType.ESSAY, stem="Essay _____ here", explanation="{braces}"),
]


def test_three_correct_choices_are_written_as_moodle_writes_them_and_read_back() -> None:
    content = QuestionContent(
        type=QuestionType.MULTIPLE_RESPONSE,
        stem="Pick the primes.",
        choices=(
            Choice(id="A", text="2", weight=1 / 3),
            Choice(id="B", text="3", weight=1 / 3),
            Choice(id="C", text="5", weight=1 / 3),
            Choice(id="D", text="4", weight=-0.5),
        ),
    )
    written = gift.dump([draft(content, external_id="MR-3")]).decode()
    assert written.count("~%33.33333%") == 3
    assert "~%-50%4" in written
    weights = [c.weight for c in only(written).content.choices]
    assert weights == [0.3333333, 0.3333333, 0.3333333, -0.5]


def test_dump_refuses_a_weight_moodle_would_refuse() -> None:
    content = QuestionContent(
        type=QuestionType.SHORT_ANSWER,
        stem="Unit?",
        accepted_answers=(AcceptedAnswer(text="ohm"), AcceptedAnswer(text="Ohm", weight=0.35)),
    )
    with pytest.raises(ValueError, match="question Q-35: the grade 35% is not one Moodle allows"):
        gift.dump([draft(content, external_id="Q-35")])


def same(left: QuestionDraft, right: QuestionDraft) -> bool:
    return (
        left.content == right.content
        and left.title == right.title
        and left.external_id == right.external_id
        and left.tags == right.tags
        and left.subject == right.subject
        and left.topic == right.topic
    )


def test_every_type_round_trips() -> None:
    drafts = [
        draft(
            EXAMPLES[0], title="Colons :: and {braces}", external_id="Q[1]", tags=("a b", "c\\d")
        ),
        draft(EXAMPLES[1], subject="Geo/graphy", topic="World"),
        draft(EXAMPLES[2], subject="Geo/graphy", topic="World"),
        draft(EXAMPLES[3], subject="top"),
        *(draft(content) for content in EXAMPLES[4:]),
    ]
    result = gift.parse(gift.dump(drafts))
    assert result.errors == []
    assert len(result.drafts) == len(drafts)
    for written, read_back in zip(drafts, result.drafts, strict=True):
        assert same(written, read_back), (written, read_back)


def test_dump_output_is_plain_gift() -> None:
    data = gift.dump(
        [
            draft(
                QuestionContent(
                    type=QuestionType.SINGLE_CHOICE,
                    stem="2 + 2 = ?",
                    choices=(
                        Choice(id="A", text="4", weight=1.0, feedback="Yes"),
                        Choice(id="B", text="5"),
                    ),
                    explanation="Arithmetic.",
                ),
                title="Sum",
                external_id="M-1",
                tags=("math",),
                subject="Math",
                topic="Sums",
            )
        ]
    )
    assert data.decode() == (
        "$CATEGORY: $course$/top/Math/Sums\n\n"
        "// [id:M-1] [tag:math]\n"
        "::Sum::[markdown]2 + 2 \\= ?{\n"
        "    =4#Yes\n"
        "    ~5\n"
        "    ####Arithmetic.\n"
        "}\n"
    )


def test_dump_refuses_what_gift_cannot_say() -> None:
    content = QuestionContent(
        type=QuestionType.SHORT_ANSWER,
        stem="Arrow?",
        accepted_answers=(AcceptedAnswer(text="a -> b"),),
    )
    with pytest.raises(ValueError, match="question Q7: the short answer 'a -> b' contains '->'"):
        gift.dump([draft(content, external_id="Q7")])


# Generated drafts round-trip. What GIFT cannot carry is kept at its defaults here:
# shuffle on, case-insensitive, texts without whitespace at either end and no '\r'.

_SPECIAL = st.sampled_from([*"{}~=#:\\[]%-> /\n\t_*$", "->", "[html]", "####", "::", "\\n"])
_CHARS = st.characters(exclude_categories=("Cs", "Cc"))
texts = (
    st.lists(_SPECIAL | _CHARS, min_size=1, max_size=12)
    .map(lambda parts: "".join(parts).strip())
    .filter(bool)
)
no_arrow = texts.filter(lambda t: "->" not in t)
labels = st.text(_CHARS, min_size=1, max_size=10).map(str.strip).filter(bool)
segments = labels.filter(lambda t: "/" not in t)
feedbacks = st.none() | texts
explanations = st.just("") | texts
# Weights a GIFT file can carry: Moodle's grades.
grades = st.sampled_from([float(g) for g in moodle_grades.GRADES])
fractions = st.sampled_from([float(g) for g in moodle_grades.GRADES if g >= 0])
penalties = st.sampled_from([float(g) for g in moodle_grades.GRADES if g <= 0])
# Moodle's grade for a share of 1/n, n = 1..5.
SHARES = {1: 1.0, 2: 0.5, 3: 0.3333333, 4: 0.25, 5: 0.2}
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def choice_contents(draw: st.DrawFn, kind: QuestionType) -> QuestionContent:
    count = draw(st.integers(min_value=2, max_value=5))
    if kind is QuestionType.SINGLE_CHOICE:
        weights = [1.0] + [draw(grades) for _ in range(count - 1)]
    else:
        correct = draw(st.integers(min_value=1, max_value=count))
        weights = [SHARES[correct]] * correct
        weights += [draw(penalties) for _ in range(count - correct)]
    weights = draw(st.permutations(weights))
    choices = tuple(
        Choice(id=string.ascii_uppercase[i], text=draw(texts), weight=w, feedback=draw(feedbacks))
        for i, w in enumerate(weights)
    )
    return QuestionContent(
        type=kind, stem=draw(texts), choices=choices, explanation=draw(explanations)
    )


@st.composite
def numeric_answers(draw: st.DrawFn) -> NumericAnswer:
    weight, feedback = draw(fractions), draw(feedbacks)
    if draw(st.booleans()):
        low, high = sorted((draw(finite), draw(finite)))
        return NumericAnswer(min=low, max=high, weight=weight, feedback=feedback)
    tolerance = draw(st.floats(min_value=0, allow_infinity=False))
    return NumericAnswer(value=draw(finite), tolerance=tolerance, weight=weight, feedback=feedback)


@st.composite
def other_contents(draw: st.DrawFn) -> QuestionContent:
    kind = draw(
        st.sampled_from(
            [
                QuestionType.TRUE_FALSE,
                QuestionType.SHORT_ANSWER,
                QuestionType.NUMERIC,
                QuestionType.MATCHING,
                QuestionType.ESSAY,
            ]
        )
    )
    fields: dict[str, object] = {
        "type": kind,
        "stem": draw(texts),
        "explanation": draw(explanations),
    }
    if kind is QuestionType.TRUE_FALSE:
        fields["true_false_answer"] = draw(st.booleans())
    elif kind is QuestionType.SHORT_ANSWER:
        others = draw(
            st.lists(
                st.builds(AcceptedAnswer, text=no_arrow, weight=fractions, feedback=feedbacks),
                max_size=3,
            )
        )
        key = AcceptedAnswer(text=draw(no_arrow), feedback=draw(feedbacks))
        fields["accepted_answers"] = (key, *others)
    elif kind is QuestionType.NUMERIC:
        key = draw(numeric_answers()).model_copy(update={"weight": 1.0})
        fields["numeric_answers"] = (key, *draw(st.lists(numeric_answers(), max_size=2)))
    elif kind is QuestionType.MATCHING:
        pair = st.builds(MatchPair, left=st.just("") | no_arrow, right=texts)
        fields["pairs"] = tuple(draw(st.lists(pair, min_size=2, max_size=4)))
    return QuestionContent.model_validate(fields)


contents = (
    choice_contents(QuestionType.SINGLE_CHOICE)
    | choice_contents(QuestionType.MULTIPLE_RESPONSE)
    | other_contents()
)


@st.composite
def drafts(draw: st.DrawFn) -> QuestionDraft:
    subject = draw(st.none() | segments)
    return QuestionDraft(
        content=draw(contents),
        title=draw(st.none() | texts),
        external_id=draw(st.none() | labels),
        tags=tuple(draw(st.lists(labels, max_size=3))),
        subject=subject,
        topic=draw(st.none() | segments) if subject else None,
    )


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(drafts(), min_size=1, max_size=4))
def test_generated_drafts_round_trip(written: list[QuestionDraft]) -> None:
    result = gift.parse(gift.dump(written))
    assert result.errors == []
    assert len(result.drafts) == len(written)
    for before, after in zip(written, result.drafts, strict=True):
        assert same(before, after), (before, after)


# Whatever comes in, the reader answers with a result or ImportFormatError.

_GIFT_PIECES = st.sampled_from(
    [
        "::",
        "{",
        "}",
        "=",
        "~",
        "#",
        "####",
        "%50%",
        "%-100%",
        "%",
        "->",
        "\\",
        "\\n",
        "\n",
        "\n\n",
        "//",
        "// [id:x] [tag:y]\n",
        "[html]",
        "[markdown]",
        "$CATEGORY: $course$/a/b\n",
        "T",
        "TRUE",
        "F",
        "1..5",
        "3:2",
        "-1.5e3",
        ":",
        " ",
        "*",
        "_____",
        "Q",
        "\r\n",
        "\ufeff",
    ]
)
gift_like = st.lists(_GIFT_PIECES | st.text(max_size=3), max_size=40).map("".join)


def check_result(result: ParseResult) -> None:
    for item in result.drafts:
        assert isinstance(item.content, QuestionContent)
        assert item.location.startswith("line ")
    for error in result.errors:
        assert error.location.startswith("line ")
        assert error.message


def read_anything(data: bytes) -> None:
    try:
        result = gift.parse(data)
    except ImportFormatError:
        return
    check_result(result)


@settings(deadline=None)
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    read_anything(data)


@settings(deadline=None)
@given(st.text())
def test_any_text(text: str) -> None:
    read_anything(text.encode())
    with contextlib.suppress(ImportFormatError):
        gift.parse_raw(text)


@settings(max_examples=500, deadline=None)
@given(gift_like)
def test_gift_like_text(text: str) -> None:
    read_anything(text.encode())


@settings(max_examples=300, deadline=None)
@given(gift_like)
def test_what_was_read_writes_and_reads_back_the_same(text: str) -> None:
    first = gift.parse(text.encode()).drafts
    try:
        data = gift.dump(first)
    except ValueError:
        assume(False)
    second = gift.parse(data)
    assert second.errors == []
    assert len(second.drafts) == len(first)
    for before, after in zip(first, second.drafts, strict=True):
        assert same(before, after), (before, after)


def test_choice_ids_continue_past_z() -> None:
    choices = " ".join(["=key"] + [f"~wrong {n}" for n in range(27)])
    ids = [c.id for c in only(f"Many?{{{choices}}}").content.choices]
    assert ids[:3] == ["A", "B", "C"]
    assert ids[-3:] == ["Z", "AA", "AB"]
