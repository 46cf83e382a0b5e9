"""Grading of single responses and of whole mock exams."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import assume, given, reject
from hypothesis import strategies as st
from pydantic import ValidationError

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    MatchPair,
    NumericAnswer,
    PassMode,
    PassRule,
    QuestionContent,
    QuestionType,
)
from certplatform.learning.grading import (
    AVERAGE_BELOW_THRESHOLD,
    COUNT_BELOW_THRESHOLD,
    PASSED_AVERAGE,
    PERCENT_BELOW_THRESHOLD,
    SECTION_BELOW_FLOOR,
    InvalidResponse,
    ItemResult,
    Reason,
    Response,
    grade_exam,
    key_of,
    needs_manual_grading,
    normalise_text,
    render_reason,
    score,
    validate_response,
)

T = QuestionType


def choices(*weights: float) -> tuple[Choice, ...]:
    return tuple(
        Choice(id=chr(ord("a") + i), text=f"option {i}", weight=w) for i, w in enumerate(weights)
    )


def single(*weights: float) -> QuestionContent:
    return QuestionContent(type=T.SINGLE_CHOICE, stem="Pick one", choices=choices(*weights))


def multiple(*weights: float) -> QuestionContent:
    return QuestionContent(type=T.MULTIPLE_RESPONSE, stem="Pick all", choices=choices(*weights))


def short(*answers: tuple[str, float], case_sensitive: bool = False) -> QuestionContent:
    return QuestionContent(
        type=T.SHORT_ANSWER,
        stem="Type it",
        accepted_answers=tuple(AcceptedAnswer(text=t, weight=w) for t, w in answers),
        case_sensitive=case_sensitive,
    )


def numeric(*answers: NumericAnswer) -> QuestionContent:
    return QuestionContent(type=T.NUMERIC, stem="How many?", numeric_answers=answers)


def matching(*pairs: tuple[str, str]) -> QuestionContent:
    return QuestionContent(
        type=T.MATCHING, stem="Match", pairs=tuple(MatchPair(left=a, right=b) for a, b in pairs)
    )


TRUE_FALSE = QuestionContent(type=T.TRUE_FALSE, stem="Water is wet", true_false_answer=True)
ESSAY = QuestionContent(type=T.ESSAY, stem="Explain normalisation")
CAPITALS = matching(("France", "Paris"), ("Korea", "Seoul"), ("Japan", "Tokyo"))


def chose(*ids: str) -> Response:
    return Response(choice_ids=ids)


def typed(text: str) -> Response:
    return Response(text=text)


# --------------------------------------------------------------------------------------------
# Response and validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_response_rejects_non_finite_numbers(bad: float) -> None:
    with pytest.raises(ValidationError):
        Response(number=bad)


def test_response_is_frozen_and_closed() -> None:
    with pytest.raises(ValidationError):
        Response.model_validate({"choice": "a"})
    response = chose("a")
    with pytest.raises(ValidationError):
        response.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("response", "blank"),
    [
        (Response(), True),
        (Response(text=""), True),
        (Response(text=" \t\u3000"), True),
        (Response(text=" x "), False),
        (Response(value=False), False),
        (Response(number=0.0), False),
        (chose("a"), False),
        (Response(pairs=(("France", "Paris"),)), False),
    ],
)
def test_is_blank(response: Response, blank: bool) -> None:
    assert response.is_blank() is blank


@pytest.mark.parametrize(
    ("content", "response", "message"),
    [
        (single(1, 0), chose("z"), "unknown choice 'z'"),
        (single(1, 0), chose("a", "b"), "takes one choice, got 2"),
        (multiple(0.5, 0.5, 0), chose("a", "a"), "chosen more than once"),
        (single(1, 0), typed("a"), "answered with chosen options, not text"),
        (TRUE_FALSE, Response(number=1), "answered with a true/false value, not a number"),
        (short(("x", 1)), chose("a"), "not chosen options"),
        (numeric(NumericAnswer(value=1)), typed("1"), "answered with a number, not text"),
        (ESSAY, Response(value=True), "answered with text"),
        (CAPITALS, Response(pairs=(("Spain", "Paris"),)), "unknown matching item 'Spain'"),
        (CAPITALS, Response(pairs=(("France", "Rome"),)), "unknown matching answer 'Rome'"),
        (
            CAPITALS,
            Response(pairs=(("France", "Paris"), ("France", "Seoul"))),
            "'France' is answered more than once",
        ),
        (CAPITALS, typed("Paris"), "answered with matched pairs"),
    ],
)
def test_validate_response_refuses_misfits(
    content: QuestionContent, response: Response, message: str
) -> None:
    with pytest.raises(InvalidResponse, match=message):
        validate_response(content, response)
    with pytest.raises(InvalidResponse):
        score(content, response)


def test_invalid_response_is_a_value_error() -> None:
    assert issubclass(InvalidResponse, ValueError)


ALL_TYPES = [
    single(1, 0),
    multiple(0.5, 0.5, -1),
    TRUE_FALSE,
    short(("x", 1)),
    numeric(NumericAnswer(value=0)),
    CAPITALS,
    ESSAY,
]


@pytest.mark.parametrize("content", ALL_TYPES, ids=lambda c: c.type.value)
def test_blank_is_valid_and_scores_zero(content: QuestionContent) -> None:
    for blank in (Response(), Response(text="   ")):
        validate_response(content, blank)
        assert score(content, blank) == 0.0


def test_empty_fields_of_other_types_are_ignored() -> None:
    # A client may send every key with its empty value.
    response = Response(choice_ids=(), value=None, text="", number=None, pairs=())
    validate_response(single(1, 0), response)
    assert score(TRUE_FALSE, Response(value=True, text="", choice_ids=())) == 1.0


# --------------------------------------------------------------------------------------------
# Scoring per type
# --------------------------------------------------------------------------------------------


def test_single_choice() -> None:
    content = single(0, 1, 0.5, -0.5)
    assert score(content, chose("b")) == 1.0
    assert score(content, chose("a")) == 0.0
    assert score(content, chose("c")) == 0.5  # partial credit
    assert score(content, chose("d")) == 0.0  # a negative weight is clipped at 0


def test_weights_the_contract_calls_full_credit_grade_as_full_credit() -> None:
    nearly = 1 - 1e-12
    assert score(single(nearly, 0), chose("a")) == 1.0
    assert score(short(("x", nearly)), typed("x")) == 1.0
    assert score(numeric(NumericAnswer(value=1, weight=nearly)), Response(number=1)) == 1.0
    assert ItemResult.from_fraction("q", "A", 1, score(single(nearly, 0), chose("a"))).fully_correct


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (("a",), 0.5),
        (("a", "b"), 1.0),
        (("a", "c"), 0.0),
        (("a", "b", "c"), 0.5),
        (("a", "b", "c", "d"), 0.0),
        (("c",), 0.0),  # negatives alone are clipped at 0
        (("a", "b", "e"), 1.0),  # a zero-weight wrong option costs nothing
    ],
)
def test_multiple_response_moodle_semantics(chosen: tuple[str, ...], expected: float) -> None:
    content = multiple(0.5, 0.5, -0.5, -0.5, 0)
    assert score(content, chose(*chosen)) == pytest.approx(expected)


def test_multiple_response_rounded_weights_give_full_credit() -> None:
    # The contract accepts 0.33 × 3 = 0.99 as "adding up to 1".
    content = multiple(0.33, 0.33, 0.33, -1)
    assert score(content, chose("a", "b", "c")) == 1.0
    assert score(content, chose("a")) == pytest.approx(1 / 3)


def test_true_false() -> None:
    assert score(TRUE_FALSE, Response(value=True)) == 1.0
    assert score(TRUE_FALSE, Response(value=False)) == 0.0
    no = QuestionContent(type=T.TRUE_FALSE, stem="Fire is cold", true_false_answer=False)
    assert score(no, Response(value=False)) == 1.0


@pytest.mark.parametrize(
    ("answer", "given", "case_sensitive", "expected"),
    [
        ("Paris", "Paris", False, 1.0),
        ("Paris", "  pARIS ", False, 1.0),
        ("Paris", "paris", True, 0.0),
        ("Paris", "Paris", True, 1.0),
        ("New York", "new    york", False, 1.0),
        ("New York", "NewYork", False, 0.0),
        ("123", "１２３", False, 1.0),  # full-width digits
        ("１２３", "123", False, 1.0),
        ("SQL", "ｓｑｌ", False, 1.0),  # full-width Latin, case-folded
        ("SQL", "ＳＱＬ", True, 1.0),
        ("カタカナ", "ｶﾀｶﾅ", False, 1.0),  # half-width katakana
        ("데이터 베이스", "데이터\u3000베이스", False, 1.0),  # ideographic space
        ("Straße", "STRASSE", False, 1.0),  # case folding, not lower()
        ("a+b", "a+b", False, 1.0),  # regex characters are literal
        ("a+b", "aab", False, 0.0),
        ("x.y", "xzy", False, 0.0),
    ],
)
def test_short_answer_normalisation(
    answer: str, given: str, case_sensitive: bool, expected: float
) -> None:
    content = short((answer, 1), case_sensitive=case_sensitive)
    assert score(content, typed(given)) == expected


@pytest.mark.parametrize(
    ("answer", "given", "expected"),
    [
        ("*cycle", "bicycle", 1.0),
        ("*cycle", "cycle", 1.0),  # the wildcard may match nothing
        ("*cycle", "cycles", 0.0),
        ("colo*r", "colour", 1.0),
        ("colo*r", "COLOR", 1.0),
        ("colo*r", "colours", 0.0),
        ("*", "anything at all", 1.0),
        ("a*b*c", "a--b--c", 1.0),
        ("a*b*c", "a--c--b", 0.0),
        ("New *", "new york", 1.0),
        ("5\\*3", "5*3", 1.0),  # an escaped star is literal
        ("5\\*3", "5x3", 0.0),
        ("5＊3", "5*3", 1.0),  # a full-width star is a literal character too
        ("5＊3", "5x3", 0.0),
    ],
)
def test_short_answer_wildcard(answer: str, given: str, expected: float) -> None:
    content = short((answer, 1), ("never-given-answer", 0.0))
    assert score(content, typed(given)) == expected


def test_short_answer_takes_the_best_matching_weight() -> None:
    content = short(("Pari*", 0.5), ("Paris", 1.0), ("*", 0.1))
    assert score(content, typed("paris")) == 1.0
    assert score(content, typed("Parish")) == 0.5
    assert score(content, typed("London")) == 0.1


def test_normalise_text() -> None:
    assert normalise_text("  Ｈｅｌｌｏ　 Wörld\n") == "hello wörld"
    assert normalise_text("ＡＢ  c", case_sensitive=True) == "AB c"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (10.0, 1.0),
        (10.5, 1.0),  # tolerance edge, inclusive
        (9.5, 1.0),
        (10.500001, 0.0),
        (9.499999, 0.0),
    ],
)
def test_numeric_tolerance_edges(given: float, expected: float) -> None:
    content = numeric(NumericAnswer(value=10, tolerance=0.5))
    assert score(content, Response(number=given)) == expected


@pytest.mark.parametrize(
    ("given", "expected"), [(1.0, 1.0), (2.0, 1.0), (1.5, 1.0), (0.999, 0.0), (2.001, 0.0)]
)
def test_numeric_range_edges(given: float, expected: float) -> None:
    content = numeric(NumericAnswer(min=1, max=2))
    assert score(content, Response(number=given)) == expected


def test_numeric_exact_value_survives_float_arithmetic() -> None:
    content = numeric(NumericAnswer(value=0.3))
    assert score(content, Response(number=0.1 + 0.2)) == 1.0
    assert score(content, Response(number=0.31)) == 0.0


def test_numeric_best_weight() -> None:
    content = numeric(
        NumericAnswer(value=3.14, tolerance=0.005, weight=1.0),
        NumericAnswer(value=3, tolerance=0.2, weight=0.5),
    )
    assert score(content, Response(number=3.141)) == 1.0
    assert score(content, Response(number=3.0)) == 0.5
    assert score(content, Response(number=4.0)) == 0.0


def test_matching_fraction_of_pairs() -> None:
    assert score(CAPITALS, Response(pairs=(("France", "Paris"),))) == pytest.approx(1 / 3)
    assert score(
        CAPITALS, Response(pairs=(("France", "Paris"), ("Korea", "Tokyo"), ("Japan", "Seoul")))
    ) == pytest.approx(1 / 3)
    full = Response(pairs=(("Japan", "Tokyo"), ("France", "Paris"), ("Korea", "Seoul")))
    assert score(CAPITALS, full) == 1.0


def test_matching_with_a_shared_answer() -> None:
    content = matching(("SELECT", "DML"), ("INSERT", "DML"), ("CREATE", "DDL"))
    answer = Response(pairs=(("SELECT", "DML"), ("INSERT", "DML"), ("CREATE", "DML")))
    assert score(content, answer) == pytest.approx(2 / 3)


def test_essay_waits_for_a_person() -> None:
    assert needs_manual_grading(ESSAY)
    assert score(ESSAY, typed("A long and thoughtful answer")) == 0.0
    assert not any(needs_manual_grading(c) for c in ALL_TYPES if c is not ESSAY)


# --------------------------------------------------------------------------------------------
# Answer keys
# --------------------------------------------------------------------------------------------


def test_key_of_every_type_is_json() -> None:
    keys = {c.type.value: key_of(c) for c in ALL_TYPES}
    assert json.loads(json.dumps(keys, ensure_ascii=False)) == keys
    assert keys["single_choice"] == {
        "type": "single_choice",
        "correct_choice_ids": ["a"],
        "weights": {"a": 1.0},
    }
    assert keys["multiple_response"]["correct_choice_ids"] == ["a", "b"]
    assert keys["multiple_response"]["weights"] == {"a": 0.5, "b": 0.5, "c": -1.0}
    assert keys["true_false"] == {"type": "true_false", "answer": True}
    assert keys["short_answer"] == {
        "type": "short_answer",
        "accepted": [{"text": "x", "weight": 1.0}],
        "case_sensitive": False,
    }
    assert keys["matching"]["pairs"] == [
        ["France", "Paris"],
        ["Korea", "Seoul"],
        ["Japan", "Tokyo"],
    ]
    assert keys["essay"] == {"type": "essay", "manual": True}


def test_key_of_numeric_forms() -> None:
    content = numeric(
        NumericAnswer(value=10, tolerance=0.5), NumericAnswer(min=1, max=2, weight=0.5)
    )
    assert key_of(content)["accepted"] == [
        {"value": 10.0, "tolerance": 0.5, "weight": 1.0},
        {"min": 1.0, "max": 2.0, "weight": 0.5},
    ]


# --------------------------------------------------------------------------------------------
# Exams
# --------------------------------------------------------------------------------------------

KOREAN_SUBJECTS = [
    ("S1", "소프트웨어 설계"),
    ("S2", "소프트웨어 개발"),
    ("S3", "데이터베이스 구축"),
    ("S4", "프로그래밍 언어 활용"),
    ("S5", "정보시스템 구축관리"),
]
KOREAN_RULE = PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40)


def korean_exam(*right_per_subject: int) -> list[ItemResult]:
    """20 questions of 5 points per subject; the first `right` of each are correct."""
    items = []
    for (code, _), right in zip(KOREAN_SUBJECTS, right_per_subject, strict=True):
        for n in range(20):
            fraction = 1.0 if n < right else 0.0
            items.append(ItemResult.from_fraction(f"{code}-{n}", code, 5, fraction))
    return items


def test_korean_floor_fails_despite_a_good_average() -> None:
    result = grade_exam(korean_exam(16, 15, 7, 14, 13), KOREAN_SUBJECTS, KOREAN_RULE)
    assert [s.percent for s in result.sections] == [80, 75, 35, 70, 65]
    assert result.section_average == 65
    assert not result.passed
    assert result.messages() == ("데이터베이스 구축 35점 과락 (40점 미만)",)
    assert result.reasons == (
        Reason(
            SECTION_BELOW_FLOOR,
            {"section": "S3", "name": "데이터베이스 구축", "score": 35.0, "floor": 40.0},
        ),
    )
    assert result.messages("en") == ("데이터베이스 구축: 35, below the section minimum of 40",)
    db = result.sections[2]
    assert (db.code, db.below_floor, db.correct_count, db.question_count) == ("S3", True, 7, 20)
    assert (db.points, db.earned) == (100, 35)


def test_korean_pass() -> None:
    result = grade_exam(korean_exam(12, 14, 16, 15, 15), KOREAN_SUBJECTS, KOREAN_RULE)
    assert result.passed
    assert result.section_average == 72
    assert result.messages() == ("합격: 평균 72점, 모든 과목 40점 이상",)
    assert result.messages("en") == ("Passed: average 72, every section at least 40",)
    assert result.reasons[0].code == PASSED_AVERAGE
    assert (result.correct_count, result.question_count) == (72, 100)
    assert (result.total_points, result.earned, result.percent) == (500, 360, 72)


def test_korean_low_average_and_floor_give_every_reason() -> None:
    result = grade_exam(korean_exam(12, 12, 7, 12, 11), KOREAN_SUBJECTS, KOREAN_RULE)
    assert not result.passed
    assert result.messages() == (
        "데이터베이스 구축 35점 과락 (40점 미만)",
        "평균 54점 (60점 미만)",
    )
    assert [r.code for r in result.reasons] == [SECTION_BELOW_FLOOR, AVERAGE_BELOW_THRESHOLD]


def test_korean_edges_are_inclusive() -> None:
    # exactly 40 in a subject and exactly 60 on average pass
    result = grade_exam(korean_exam(8, 13, 13, 13, 13), KOREAN_SUBJECTS, KOREAN_RULE)
    assert result.section_average == 60
    assert result.sections[0].percent == 40
    assert result.passed


def test_average_with_half_points_renders_decimals() -> None:
    assert render_reason(Reason(AVERAGE_BELOW_THRESHOLD, {"score": 58.5, "threshold": 60.0})) == (
        "평균 58.5점 (60점 미만)"
    )
    items = [*korean_exam(12, 12, 12, 12, 11)[:-1], ItemResult("S5-19", "S5", 5, 2.5, False)]
    result = grade_exam(items, KOREAN_SUBJECTS, KOREAN_RULE)
    assert result.messages() == ("평균 59.5점 (60점 미만)",)


FCC_RULE = PassRule(mode=PassMode.COUNT, threshold=26)


def fcc_exam(right: int) -> list[ItemResult]:
    return [ItemResult.from_fraction(f"T{n}", "T", 1, float(n < right)) for n in range(35)]


def test_fcc_26_of_35_passes() -> None:
    result = grade_exam(fcc_exam(26), [("T", "Technician")], FCC_RULE)
    assert result.passed
    assert result.correct_count == 26
    assert result.messages() == ("합격: 정답 26개 (합격 기준 26개)",)
    assert result.messages("en") == ("Passed: 26 correct (26 needed)",)


def test_fcc_25_of_35_fails() -> None:
    result = grade_exam(fcc_exam(25), [("T", "Technician")], FCC_RULE)
    assert not result.passed
    assert result.reasons == (
        Reason(COUNT_BELOW_THRESHOLD, {"correct": 25, "threshold": 26.0, "total": 35}),
    )
    assert result.messages() == ("정답 25개 (합격 기준 26개)",)
    assert result.messages("en") == ("25 correct (26 needed to pass)",)


def test_count_mode_counts_only_full_credit() -> None:
    items = [ItemResult.from_fraction(f"q{n}", "T", 1, 0.99) for n in range(30)]
    result = grade_exam(items, [("T", "T")], FCC_RULE)
    assert result.correct_count == 0
    assert not result.passed


def test_percent_mode() -> None:
    rule = PassRule(mode=PassMode.PERCENT, threshold=70, section_floor=50)
    sections = [("A", "Alpha"), ("B", "Beta")]
    items = [ItemResult("a", "A", 30, 20, False), ItemResult("b", "B", 70, 50, False)]
    result = grade_exam(items, sections, rule)
    assert result.percent == 70
    assert result.passed
    assert result.messages() == ("합격: 총점 70점, 모든 과목 50점 이상",)
    assert result.messages("en") == ("Passed: score 70%, every section at least 50",)
    # the section average (69.05) is not what PERCENT mode looks at
    assert result.section_average == pytest.approx(69.05)

    lower = [ItemResult("a", "A", 30, 20, False), ItemResult("b", "B", 70, 49.5, False)]
    failed = grade_exam(lower, sections, rule)
    assert not failed.passed
    assert failed.reasons[0].code == PERCENT_BELOW_THRESHOLD
    assert failed.messages() == ("총점 69.5점 (70점 미만)",)
    assert failed.messages("en") == ("Score 69.5% (below the pass mark of 70%)",)


def test_decisions_use_exact_values() -> None:
    rule = PassRule(mode=PassMode.PERCENT, threshold=100)
    items = [ItemResult("a", "A", 0.1, 0.1, True), ItemResult("b", "A", 0.2, 0.2, True)]
    result = grade_exam(items, [("A", "A")], rule)
    assert result.percent == 100
    assert result.passed
    assert result.total_points == pytest.approx(0.3)


def test_display_rounds_half_up_but_never_against_the_decision() -> None:
    rule = PassRule(mode=PassMode.PERCENT, threshold=60)
    rounding = grade_exam([ItemResult("a", "A", 200, 24.69, False)], [("A", "A")], rule)
    assert rounding.percent == 12.35  # 12.345 half-up; float rounding would give 12.34
    near = grade_exam([ItemResult("a", "A", 2500, 1499.9, False)], [("A", "A")], rule)
    assert near.percent == 60.0  # 59.996 for display...
    assert not near.passed  # ...but not a pass
    assert near.messages() == ("총점 59.99점 (60점 미만)",)


def test_grade_exam_refuses_malformed_input() -> None:
    rule = PassRule(mode=PassMode.PERCENT, threshold=60)
    item = ItemResult("a", "A", 1, 1, True)
    with pytest.raises(ValueError, match="at least one section"):
        grade_exam([item], [], rule)
    with pytest.raises(ValueError, match="unique"):
        grade_exam([item], [("A", "A"), ("A", "again")], rule)
    with pytest.raises(ValueError, match="unknown section 'A'"):
        grade_exam([item], [("B", "B")], rule)
    with pytest.raises(ValueError, match="no points"):
        grade_exam([item], [("A", "A"), ("B", "Empty")], rule)


@pytest.mark.parametrize(("points", "earned"), [(-1, 0), (1, 2), (1, -0.5), (math.nan, 0)])
def test_item_result_bounds(points: float, earned: float) -> None:
    with pytest.raises(ValueError, match="q1"):
        ItemResult("q1", "A", points, earned, False)


def test_item_result_from_fraction() -> None:
    assert ItemResult.from_fraction("q", "A", 4, 0.5) == ItemResult("q", "A", 4, 2, False)
    assert ItemResult.from_fraction("q", "A", 4, 1.0).fully_correct
    assert ItemResult.from_fraction("q", "A", 4, 1.5) == ItemResult("q", "A", 4, 4, True)


def test_render_reason_languages() -> None:
    reason = Reason(
        SECTION_BELOW_FLOOR, {"section": "S3", "name": "DB", "score": 35.25, "floor": 40}
    )
    assert render_reason(reason) == "DB 35.25점 과락 (40점 미만)"
    assert render_reason(reason, "en") == "DB: 35.25, below the section minimum of 40"
    with pytest.raises(ValueError, match="language"):
        render_reason(reason, "fr")  # type: ignore[arg-type]
    assert render_reason(Reason("custom", {"x": 1.5})) == "custom x=1.5"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

IDS = [chr(ord("a") + i) for i in range(8)]
words = st.text(alphabet="abcAB 12１２*ｶﾀ가나\u3000", min_size=1, max_size=8).filter(
    lambda s: s.strip() != ""
)


@st.composite
def multiple_contents(draw: st.DrawFn) -> QuestionContent:
    n = draw(st.integers(2, 8))
    correct = draw(st.sets(st.integers(0, n - 1), min_size=1))
    raw = [draw(st.floats(0.01, 1.0)) for _ in correct]
    rounded = draw(st.booleans())  # authored weights are often rounded, e.g. 0.33
    total = sum(raw)
    positive = [round(r / total, 2) if rounded else r / total for r in raw]
    assume(all(w > 0 for w in positive))
    weights: list[float] = []
    it = iter(positive)
    for i in range(n):
        weights.append(next(it) if i in correct else draw(st.floats(-1.0, 0.0)))
    try:
        return multiple(*weights)
    except ValidationError:
        reject()


@st.composite
def single_contents(draw: st.DrawFn) -> QuestionContent:
    n = draw(st.integers(2, 6))
    key = draw(st.integers(0, n - 1))
    weights = [1.0 if i == key else draw(st.floats(-1.0, 1.0)) for i in range(n)]
    return single(*weights)


@st.composite
def short_contents(draw: st.DrawFn) -> QuestionContent:
    texts = draw(st.lists(words, min_size=1, max_size=3))
    answers = [(texts[0], 1.0)] + [(t, draw(st.floats(0, 1))) for t in texts[1:]]
    return short(*answers, case_sensitive=draw(st.booleans()))


@st.composite
def numeric_contents(draw: st.DrawFn) -> QuestionContent:
    finite = st.floats(-1e6, 1e6)
    answers = []
    for n in range(draw(st.integers(1, 3))):
        weight = 1.0 if n == 0 else draw(st.floats(0, 1))  # one answer earns full credit
        if draw(st.booleans()):
            tolerance = draw(st.floats(0, 10))
            answers.append(NumericAnswer(value=draw(finite), tolerance=tolerance, weight=weight))
        else:
            low, high = sorted([draw(finite), draw(finite)])
            answers.append(NumericAnswer(min=low, max=high, weight=weight))
    return numeric(*answers)


@st.composite
def matching_contents(draw: st.DrawFn) -> QuestionContent:
    lefts = draw(st.lists(words, min_size=2, max_size=5))
    rights = [draw(words) for _ in lefts]
    return matching(*zip(lefts, rights, strict=True))


contents = st.one_of(
    single_contents(),
    multiple_contents(),
    st.builds(
        QuestionContent,
        type=st.just(T.TRUE_FALSE),
        stem=st.just("?"),
        true_false_answer=st.booleans(),
    ),
    short_contents(),
    numeric_contents(),
    matching_contents(),
    st.just(ESSAY),
)


@st.composite
def responses_for(draw: st.DrawFn, content: QuestionContent) -> Response:
    t = content.type
    if t in (T.SINGLE_CHOICE, T.MULTIPLE_RESPONSE):
        ids = [c.id for c in content.choices]
        most = 1 if t is T.SINGLE_CHOICE else len(ids)
        return chose(*draw(st.lists(st.sampled_from(ids), max_size=most, unique=True)))
    if t is T.TRUE_FALSE:
        return Response(value=draw(st.none() | st.booleans()))
    if t in (T.SHORT_ANSWER, T.ESSAY):
        known = [a.text.replace("*", draw(words)) for a in content.accepted_answers]
        return typed(draw(st.sampled_from(known) | words) if known else draw(words))
    if t is T.NUMERIC:
        return Response(number=draw(st.floats(-1e7, 1e7)))
    lefts = [p.left for p in content.pairs]
    rights = [p.right for p in content.pairs]
    chosen = draw(st.lists(st.sampled_from(range(len(lefts))), unique=True))
    return Response(pairs=tuple((lefts[i], draw(st.sampled_from(rights))) for i in chosen))


@given(st.data())
def test_score_is_a_fraction(data: st.DataObject) -> None:
    content = data.draw(contents)
    response = data.draw(responses_for(content))
    assert 0.0 <= score(content, response) <= 1.0


@given(multiple_contents())
def test_exactly_the_correct_choices_score_one(content: QuestionContent) -> None:
    correct = [c.id for c in content.choices if c.correct]
    assert score(content, chose(*correct)) == 1.0


@given(st.data())
def test_adding_a_wrong_choice_never_helps(data: st.DataObject) -> None:
    content = data.draw(multiple_contents())
    wrong = [c.id for c in content.choices if not c.correct]
    assume(wrong)
    ids = [c.id for c in content.choices]
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True))
    extra = data.draw(st.sampled_from(wrong))
    assume(extra not in chosen)
    assert score(content, chose(*chosen, extra)) <= score(content, chose(*chosen))


@st.composite
def exams(draw: st.DrawFn) -> tuple[list[ItemResult], list[tuple[str, str]], PassRule]:
    n_sections = draw(st.integers(1, 4))
    sections = [(f"S{i}", f"Section {i}") for i in range(n_sections)]
    items = []
    for code, _ in sections:
        for n in range(draw(st.integers(1, 6))):
            points = draw(st.integers(1, 5))
            halves = draw(st.integers(0, 2 * points))
            items.append(ItemResult(f"{code}-{n}", code, points, halves / 2, halves == 2 * points))
    mode = draw(st.sampled_from(PassMode))
    top = len(items) if mode is PassMode.COUNT else 100
    threshold = draw(st.integers(0, top) | st.floats(0, top))
    floor = draw(st.none() | st.integers(0, 100) | st.floats(0, 100))
    return items, sections, PassRule(mode=mode, threshold=threshold, section_floor=floor)


def oracle_passed(items: list[ItemResult], sections: list[tuple[str, str]], rule: PassRule) -> bool:
    def exact(x: float) -> Fraction:
        return Fraction(str(x))

    percents = []
    for code, _ in sections:
        mine = [i for i in items if i.section == code]
        percents.append(
            100 * sum(exact(i.earned) for i in mine) / sum(exact(i.points) for i in mine)
        )
    total = 100 * sum(exact(i.earned) for i in items) / sum(exact(i.points) for i in items)
    if rule.mode is PassMode.PERCENT:
        overall = total >= exact(rule.threshold)
    elif rule.mode is PassMode.SECTION_AVERAGE:
        overall = sum(percents) / len(percents) >= exact(rule.threshold)
    else:
        overall = sum(i.fully_correct for i in items) >= rule.threshold
    floor = rule.section_floor
    return overall and (floor is None or all(p >= exact(floor) for p in percents))


@given(exams())
def test_passed_iff_rule_holds_and_no_section_below_floor(
    exam: tuple[list[ItemResult], list[tuple[str, str]], PassRule],
) -> None:
    items, sections, rule = exam
    result = grade_exam(items, sections, rule)
    assert result.passed is oracle_passed(items, sections, rule)
    assert result.passed is (
        result.reasons[-1].code.startswith("passed") and len(result.reasons) == 1
    )
    below = [s for s in result.sections if s.below_floor]
    assert [r.code for r in result.reasons].count(SECTION_BELOW_FLOOR) == len(below)
    for reason in result.reasons:
        assert render_reason(reason, "ko")
        assert render_reason(reason, "en")


@given(exams(), st.data())
def test_percent_is_monotone_in_earned(
    exam: tuple[list[ItemResult], list[tuple[str, str]], PassRule], data: st.DataObject
) -> None:
    items, sections, rule = exam
    index = data.draw(st.integers(0, len(items) - 1))
    item = items[index]
    more = data.draw(st.floats(item.earned, item.points))
    better = list(items)
    better[index] = ItemResult(item.question_ref, item.section, item.points, more, False)
    before, after = grade_exam(items, sections, rule), grade_exam(better, sections, rule)
    assert after.percent >= before.percent
    assert after.section_average >= before.section_average
    for old, new in zip(before.sections, after.sections, strict=True):
        assert new.percent >= old.percent
