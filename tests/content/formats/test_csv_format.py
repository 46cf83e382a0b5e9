"""CSV reader and writer: every question type, encodings, delimiters, --map, round trips."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    LawReference,
    MatchPair,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats import csv_format, fcc_json
from certplatform.content.formats.base import ImportFormatError, ParseResult

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
POOLS = Path(os.environ.get("SHARED_DATA", SHARED_DATA)) / "fcc-ham-pools"
FCC_CSV = POOLS / "technician-2026-2030" / "technician-2026-2030.csv"
FCC_MAP = "code=id,answer=correct:0-based,choices=a|b|c|d"


def read(text: str, mapping: str | None = None) -> ParseResult:
    return csv_format.parse(text.encode(), mapping=mapping)


def only(text: str, mapping: str | None = None) -> QuestionDraft:
    result = read(text, mapping)
    assert result.errors == []
    assert len(result.drafts) == 1
    return result.drafts[0]


def errors(text: str, mapping: str | None = None) -> list[str]:
    return [str(e) for e in read(text, mapping).errors]


def format_error(text: str, mapping: str | None = None) -> str:
    with pytest.raises(ImportFormatError) as caught:
        read(text, mapping)
    return str(caught.value)


def same(a: QuestionDraft, b: QuestionDraft) -> bool:
    return a.model_dump(exclude={"location"}) == b.model_dump(exclude={"location"})


def round_trip(drafts: list[QuestionDraft]) -> list[QuestionDraft]:
    result = csv_format.parse(csv_format.dump(drafts))
    assert result.errors == []
    return result.drafts


def draft(content: QuestionContent, **fields: Any) -> QuestionDraft:
    return QuestionDraft(content=content, **fields)


def choices(*weights: float) -> tuple[Choice, ...]:
    return tuple(
        Choice(id=letter, text=f'보기 {letter}, "quoted"\nline two', weight=weight)
        for letter, weight in zip(string.ascii_uppercase, weights, strict=False)
    )


# Reading the default layout


HEADER = "code,type,question,choice_a,choice_b,choice_c,choice_d,answer\n"


def test_single_choice_with_every_column() -> None:
    text = (
        "code,type,subject,subject_name,topic,topic_name,question,choice_a,choice_b,choice_c,"
        "answer,explanation,tags,law_refs,source,title,shuffle,case_sensitive\n"
        'LAW-1,single_choice,S1,법규,S1A,"통행, 우선순위",'
        '"다음 중 ""양보""에 관한 설명으로 옳은 것은?\n(2개 줄)",가,나,다,B,'
        "해설입니다,법규|기출,도로교통법#제12조|47 CFR#97.1,2024 기출,양보,no,no\n"
    )
    d = only(text)
    assert d.external_id == "LAW-1"
    assert (d.subject, d.subject_name, d.topic, d.topic_name) == (
        "S1",
        "법규",
        "S1A",
        "통행, 우선순위",
    )
    assert d.content.stem == '다음 중 "양보"에 관한 설명으로 옳은 것은?\n(2개 줄)'
    assert [(c.id, c.text, c.weight) for c in d.content.choices] == [
        ("A", "가", 0.0),
        ("B", "나", 1.0),
        ("C", "다", 0.0),
    ]
    assert d.content.explanation == "해설입니다"
    assert d.content.shuffle_choices is False
    assert d.tags == ("법규", "기출")
    assert d.law_refs == (
        LawReference(law="도로교통법", article="제12조"),
        LawReference(law="47 CFR", article="97.1"),
    )
    assert (d.source, d.title, d.location) == ("2024 기출", "양보", "line 2")


def test_type_defaults_to_single_choice_and_blank_choices_are_absent() -> None:
    d = only("question,choice_a,choice_b,choice_c,answer\nWhich?,yes,,no,c\n")
    assert d.content.type is QuestionType.SINGLE_CHOICE
    assert [c.id for c in d.content.choices] == ["A", "C"]
    assert d.content.choices[1].correct
    assert d.content.shuffle_choices is True
    assert d.external_id is None
    assert d.subject is None


def test_headers_are_matched_without_case_or_spaces() -> None:
    d = only(" Question , Choice_A,CHOICE_B , Answer\nWhich?,x,y,A\n")
    assert d.content.choices[0].correct


@pytest.mark.parametrize(
    ("answer", "weights"),
    [
        ("A|C", [0.5, 0.0, 0.5, 0.0]),
        ("a:0.5 | c:0.5", [0.5, 0.0, 0.5, 0.0]),
        ("A|C|D:-0.5", [0.5, 0.0, 0.5, -0.5]),
        ("A:0.6|B|C", [0.6, 0.2, 0.2, 0.0]),
        ("A|B|C", [1 / 3, 1 / 3, 1 / 3, 0.0]),
        ("D", [0.0, 0.0, 0.0, 1.0]),
    ],
)
def test_multiple_response_answers(answer: str, weights: list[float]) -> None:
    d = only(HEADER + f"M1,multiple_response,Which?,w,x,y,z,{answer}\n")
    assert [c.weight for c in d.content.choices] == pytest.approx(weights)


def test_single_choice_with_partial_credit() -> None:
    d = only(HEADER + "S1,single_choice,Which?,w,x,y,z,B|C:0.5|D:-0.25\n")
    assert [c.weight for c in d.content.choices] == [0.0, 1.0, 0.5, -0.25]


@pytest.mark.parametrize(("answer", "expected"), [("true", True), ("False", False), ("O", True)])
def test_true_false(answer: str, expected: bool) -> None:
    d = only(f"type,question,answer\ntrue_false,The sky is blue.,{answer}\n")
    assert d.content.true_false_answer is expected


def test_short_answer_with_weights_and_escapes() -> None:
    d = only(
        "type,question,answer,case_sensitive\n"
        r"short_answer,Capital?,서울|Seoul:0.5|10\:30|a\|b,yes" + "\n"
    )
    assert d.content.accepted_answers == (
        AcceptedAnswer(text="서울"),
        AcceptedAnswer(text="Seoul", weight=0.5),
        AcceptedAnswer(text="10:30"),
        AcceptedAnswer(text="a|b"),
    )
    assert d.content.case_sensitive is True


def test_numeric_answers() -> None:
    d = only("type,question,answer\nnumeric,Pi?,3.14±0.01|3.1+-0.1:0.5|-1..2.5:0.25|42\n")
    assert d.content.numeric_answers == (
        NumericAnswer(value=3.14, tolerance=0.01),
        NumericAnswer(value=3.1, tolerance=0.1, weight=0.5),
        NumericAnswer(min=-1, max=2.5, weight=0.25),
        NumericAnswer(value=42),
    )


def test_matching_pairs() -> None:
    d = only("type,question,answer\nmatching,Match.,서울=>한국|Paris => France|a\\=>b=>c=>d\n")
    assert d.content.pairs == (
        MatchPair(left="서울", right="한국"),
        MatchPair(left="Paris", right="France"),
        MatchPair(left="a=>b", right="c=>d"),
    )


def test_essay_has_no_answer() -> None:
    d = only("type,question,answer,explanation\nessay,Discuss.,,A model answer.\n")
    assert d.content.type is QuestionType.ESSAY
    assert d.content.explanation == "A model answer."


# Item errors


def test_item_errors_name_the_line_and_the_problem() -> None:
    text = (
        HEADER
        + "Q1,,Fine?,a,b,c,d,A\n"
        + 'Q2,,"Two\nlines",a,b,c,d,B\n'
        + "Q3,,Wrong?,a,b,c,d,E\n"
        + "\n"
        + "Q4,,Also fine?,a,b,c,d,D\n"
        + "Q5,,Empty?,a,b,c,d,\n"
    )
    result = read(text)
    assert [d.location for d in result.drafts] == ["line 2", "line 3", "line 7"]
    assert [str(e) for e in result.errors] == [
        "line 5: answer 'E' does not name a choice (A-D)",
        "line 8: the answer is empty",
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("single_choice,Q?,a,b,c,d,A|B", "a single_choice answer names one choice, not A|B"),
        ("multiple_response,Q?,a,b,c,d,A|A", "the answer names choice A twice"),
        ("multiple_response,Q?,a,b,c,d,A:1|B", "no credit is left for B"),
        ("multiple_response,Q?,a,b,c,d,A:2", "weight 2 of choice A is not between -1 and 1"),
        ("multiple_response,Q?,a,b,c,d,A:0.3|B:0.3", "add up to 0.60, not 1.00"),
        ("single_choice,Q?,a,b,c,d,A:half", "weight 'half' in 'A:half' is not a number"),
        ("single_choice,Q?,a,,,,A", "needs at least 2 choices"),
        ("true_false,Q?,a,b,,,true", "a true_false question has no choices, but choice A"),
        ("true_false,Q?,,,,,maybe", "answer 'maybe' is neither true nor false"),
        ("numeric,Q?,,,,,about 3", "answer 'about 3' is not a number"),
        ("numeric,Q?,,,,,3..1", "numeric range min 3.0 is above max 1.0"),
        ("numeric,Q?,,,,,nan", "numeric answers must be finite numbers"),
        ("short_answer,Q?,,,,,10:30", "weight 30 of accepted answer '10' is not between 0 and 1"),
        ("short_answer,Q?,,,,,a:0.5", "needs an accepted answer worth full credit"),
        ("matching,Q?,,,,,a=>b|c", "pair 'c' is not left=>right"),
        ("matching,Q?,,,,,a=>b", "needs at least 2 pairs"),
        ("essay,Q?,,,,,yes", "an essay question has no answer"),
        ("quiz,Q?,a,b,,,A", "type 'quiz' is not one of single_choice"),
        ("single_choice, ,a,b,,,A", "stem: String should have at least 1 character"),
    ],
)
def test_item_errors(row: str, message: str) -> None:
    (error,) = errors("type,question,choice_a,choice_b,choice_c,choice_d,answer\n" + row + "\n")
    assert error.startswith("line 2: ")
    assert message in error


def test_law_reference_without_law_is_an_item_error() -> None:
    assert errors("question,choice_a,choice_b,answer,law_refs\nQ?,a,b,A,#12\n") == [
        "line 2: law reference '#12' names no law (write law#article)"
    ]


def test_shuffle_flag_must_be_yes_or_no() -> None:
    assert errors("question,choice_a,choice_b,answer,shuffle\nQ?,a,b,A,maybe\n") == [
        "line 2: shuffle 'maybe' is neither true nor false"
    ]


def test_a_row_longer_than_the_header_is_an_item_error() -> None:
    assert errors("question,choice_a,choice_b,answer\nOne, two?,a,b,A\nQ?,a,b,A,,\n") == [
        "line 2: the row has 5 cells but the header has 4 "
        "(is there a comma in a cell without quotes?)"
    ]


def test_a_code_used_twice_is_an_item_error() -> None:
    text = "code,question,choice_a,choice_b,answer\nQ1,a?,a,b,A\nQ1,b?,a,b,B\n"
    result = read(text)
    assert len(result.drafts) == 1
    assert [str(e) for e in result.errors] == ["line 3: code 'Q1' is already used on line 2"]


# File errors, encodings, delimiters


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n , \n", "the file is empty"),
        ("question,answer,notes\n", "unknown columns 'notes'"),
        ("choice_a,answer\n", "the header has no 'question' column"),
        ("question,choice_a\n", "the header has no 'answer' column"),
        ("question,answer,Question\n", "column 'question' appears 2 times"),
    ],
)
def test_file_errors(text: str, message: str) -> None:
    assert message in format_error(text)


def test_bytes_that_are_no_known_encoding_are_a_format_error() -> None:
    with pytest.raises(ImportFormatError, match="neither UTF-8 nor CP949"):
        csv_format.parse(b"question,answer\n\xff\xff,A\n")


def test_korean_excel_export_in_cp949() -> None:
    text = (
        "code,question,choice_a,choice_b,choice_c,choice_d,answer,subject_name\r\n"
        '운전-001,"도로교통법상 ""어린이""는 몇 세 미만인가?",12세,13세,14세,15세,B,도로교통법\r\n'
    )
    result = csv_format.parse(text.encode("cp949"))
    assert result.errors == []
    d = result.drafts[0]
    assert d.external_id == "운전-001"
    assert d.content.stem == '도로교통법상 "어린이"는 몇 세 미만인가?'
    assert d.content.choices[1].text == "13세"
    assert d.subject_name == "도로교통법"
    # EUC-KR is a subset of CP949.
    assert csv_format.parse(text.encode("euc-kr")).drafts == result.drafts


def test_utf8_with_bom() -> None:
    d = csv_format.parse(
        "\ufeffquestion,choice_a,choice_b,answer\n문제?,가,나,B\n".encode()
    ).drafts[0]
    assert d.content.stem == "문제?"


@pytest.mark.parametrize(
    "text",
    [
        'question,choice_a,choice_b,answer\n"One, two; three?",a,b,B\n',
        'question;choice_a;choice_b;answer\n"One, two; three?";a;b;B\n',
        "question\tchoice_a\tchoice_b\tanswer\nOne, two; three?\ta\tb\tB\n",
    ],
)
def test_delimiter_is_sniffed_from_the_header(text: str) -> None:
    d = only(text)
    assert d.content.stem == "One, two; three?"
    assert d.content.choices[1].correct


# --map


def test_map_imports_the_fcc_csv() -> None:
    result = csv_format.parse(FCC_CSV.read_bytes(), mapping=FCC_MAP)
    assert result.errors == []
    assert len(result.drafts) == 409
    first = result.drafts[0]
    assert first.external_id == "T1A01"
    assert first.content.choices[2].correct
    # The same keys as the JSON form of the pool.
    pool = fcc_json.parse((FCC_CSV.with_suffix(".json")).read_bytes()).drafts
    assert [d.external_id for d in result.drafts] == [d.external_id for d in pool]
    assert [[c.weight for c in d.content.choices] for d in result.drafts] == [
        [c.weight for c in d.content.choices] for d in pool
    ]


def test_map_with_one_based_answers_and_korean_headers() -> None:
    text = "번호,문제,보기1,보기2,보기3,정답,과목\nK1,문제?,가,나,다,3,법규\n"
    d = only(
        text, "code=번호,question=문제,choices=보기1|보기2|보기3,answer=정답:1-based,subject=과목"
    )
    assert d.external_id == "K1"
    assert d.subject == "법규"
    assert [c.weight for c in d.content.choices] == [0.0, 0.0, 1.0]


def test_map_with_letter_answers_ignores_other_columns() -> None:
    d = only("Q,Ans,X,Y,notes\nWhy?,b,one,two,ignored\n", "question=Q,answer=Ans,choices=X|Y")
    assert d.content.choices[1].correct


def test_map_number_out_of_range_is_an_item_error() -> None:
    text = "Q,Ans,X,Y\nWhy?,2,one,two\nWhy not?,b,one,two\n"
    assert errors(text, "question=Q,answer=Ans:0-based,choices=X|Y") == [
        "line 2: answer '2' is not a choice number (0-1)",
        "line 3: answer 'b' is not a choice number (0-1)",
    ]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("question=Q,anwser=Ans,color=C", "column map has unknown fields 'anwser', 'color'"),
        (
            "question=Q,answer=Missing,choices=X|Nope",
            "columns the file does not have: 'Missing', 'Nope'",
        ),
        ("question", "column map entry 'question' is not field=Header"),
        ("question=Q,question=Ans", "column map names 'question' twice"),
        ("question=Q,answer=Ans,choices=X||Y", "is not Header|Header"),
    ],
)
def test_map_errors_name_the_problem(mapping: str, message: str) -> None:
    assert message in format_error("Q,Ans,X,Y\nWhy?,2,one,two\n", mapping)


# Writing and round trips


def test_dump_writes_utf8_with_bom_crlf_and_as_many_choice_columns_as_needed() -> None:
    drafts = [
        draft(
            QuestionContent(type=QuestionType.SINGLE_CHOICE, stem="Q?", choices=choices(0, 0, 1))
        ),
        draft(QuestionContent(type=QuestionType.TRUE_FALSE, stem="T?", true_false_answer=True)),
    ]
    data = csv_format.dump(drafts)
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").split("\r\n")[0]
    assert header == (
        "code,type,subject,subject_name,topic,topic_name,question,choice_a,choice_b,choice_c,"
        "answer,explanation,tags,law_refs,source,title,shuffle,case_sensitive"
    )


EVERY_TYPE = [
    draft(
        QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem='다음 중 "옳은" 것은?\n둘째 줄, 쉼표',
            choices=choices(0, 1, 0.5, -0.25),
            explanation='해설, "인용"\n끝',
            shuffle_choices=False,
        ),
        external_id="KR-001",
        title="제목",
        subject="S1",
        subject_name="법규",
        topic="S1A",
        topic_name="통행|우선",
        tags=("기출", "a|b", "c\\d", "x:y"),
        law_refs=(
            LawReference(law="도로교통법", article="제12조"),
            LawReference(law="Law # 5", article="Art. 1|2"),
            LawReference(law="47 CFR"),
        ),
        source="2024, 1회",
    ),
    draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE, stem="Pick two", choices=choices(0.5, 0, 0.5)
        )
    ),
    draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE,
            stem="Pick three",
            choices=choices(1 / 3, 1 / 3, 1 / 3, -1),
        )
    ),
    draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE, stem="Weighted", choices=choices(0.7, 0.3, -0.1)
        )
    ),
    draft(QuestionContent(type=QuestionType.TRUE_FALSE, stem="참?", true_false_answer=False)),
    draft(
        QuestionContent(
            type=QuestionType.SHORT_ANSWER,
            stem="Name it",
            accepted_answers=(
                AcceptedAnswer(text="서울"),
                AcceptedAnswer(text="10:30 | a\\b", weight=0.5),
            ),
            case_sensitive=True,
        )
    ),
    draft(
        QuestionContent(
            type=QuestionType.NUMERIC,
            stem="How much?",
            numeric_answers=(
                NumericAnswer(value=3.14, tolerance=0.01),
                NumericAnswer(min=-1e-05, max=2.5, weight=0.5),
                NumericAnswer(value=-0.1),
            ),
        )
    ),
    draft(
        QuestionContent(
            type=QuestionType.MATCHING,
            stem="Match",
            pairs=(MatchPair(left="a=>b|c", right="d=>e"), MatchPair(left="서울", right="")),
        )
    ),
    draft(QuestionContent(type=QuestionType.ESSAY, stem="Discuss", explanation="Model answer")),
]


def test_every_type_round_trips() -> None:
    back = round_trip(EVERY_TYPE)
    assert len(back) == len(EVERY_TYPE)
    for original, parsed in zip(EVERY_TYPE, back, strict=True):
        assert same(original, parsed), original.content.type


def test_choice_ids_that_are_not_letters_become_letters_in_order() -> None:
    content = QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem="Q?",
        choices=(Choice(id="1", text="one"), Choice(id="2", text="two", weight=1.0)),
    )
    (back,) = round_trip([draft(content)])
    assert [(c.id, c.weight) for c in back.content.choices] == [("A", 0.0), ("B", 1.0)]


def test_fcc_pool_round_trips_through_csv() -> None:
    pool = fcc_json.parse(FCC_CSV.with_suffix(".json").read_bytes()).drafts
    back = round_trip(pool)
    assert all(same(a, b) for a, b in zip(pool, back, strict=True))


plain_texts = (
    st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=12)
    | st.sampled_from(['가, "나"\n다', "a|b", "x:y", "back\\", "l#a=>w", "\\|:#=>"])
).map(str.strip)
# Texts a spreadsheet would run as formulas, and texts starting with the quote that guards them.
FORMULA_PREFIXES = ["=", "+", "-", "@", "＝", "＋", "－", "＠", "'", "''", "'=", "'-", "'a"]
texts = plain_texts | st.builds(str.__add__, st.sampled_from(FORMULA_PREFIXES), plain_texts)
filled = texts.filter(bool)
weights = st.floats(-1, 1)


@st.composite
def contents(draw: st.DrawFn) -> QuestionContent:
    kind = draw(st.sampled_from(QuestionType))
    fields: dict[str, Any] = {
        "type": kind,
        "stem": draw(filled),
        "explanation": draw(texts),
        "shuffle_choices": draw(st.booleans()),
        "case_sensitive": draw(st.booleans()),
    }
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        ids = draw(st.lists(st.sampled_from("ABCDEFGH"), min_size=2, max_size=8, unique=True))
        count = len(ids)
        if kind is QuestionType.SINGLE_CHOICE:
            ws = draw(st.lists(weights, min_size=count, max_size=count))
            ws[draw(st.integers(0, count - 1))] = 1.0
        else:
            keys = draw(st.integers(1, count))
            shares = draw(st.lists(st.floats(0.01, 1), min_size=keys, max_size=keys))
            if draw(st.booleans()):
                shares = [1.0] * keys
            wrong = draw(st.lists(st.floats(-1, 0), min_size=count - keys, max_size=count - keys))
            ws = [s / sum(shares) for s in shares] + wrong
        fields["choices"] = tuple(
            Choice(id=i, text=draw(filled), weight=w) for i, w in zip(sorted(ids), ws, strict=True)
        )
    elif kind is QuestionType.TRUE_FALSE:
        fields["true_false_answer"] = draw(st.booleans())
    elif kind is QuestionType.SHORT_ANSWER:
        answers = draw(st.lists(st.tuples(filled, st.floats(0, 1)), min_size=1, max_size=3))
        answers[0] = (answers[0][0], 1.0)
        fields["accepted_answers"] = tuple(AcceptedAnswer(text=t, weight=w) for t, w in answers)
    elif kind is QuestionType.NUMERIC:
        finite = st.floats(allow_nan=False, allow_infinity=False)
        values = st.builds(
            NumericAnswer, value=finite, tolerance=st.floats(0, 1e6), weight=st.floats(0, 1)
        )
        ranges = st.tuples(finite, finite, st.floats(0, 1)).map(
            lambda t: NumericAnswer(min=min(t[:2]), max=max(t[:2]), weight=t[2])
        )
        numbers = draw(st.lists(values | ranges, min_size=1, max_size=3))
        numbers[0] = numbers[0].model_copy(update={"weight": 1.0})
        fields["numeric_answers"] = tuple(numbers)
    elif kind is QuestionType.MATCHING:
        pairs = st.builds(MatchPair, left=texts, right=texts)
        fields["pairs"] = tuple(draw(st.lists(pairs, min_size=2, max_size=4)))
    return QuestionContent(**fields)


drafts = st.builds(
    QuestionDraft,
    content=contents(),
    external_id=st.none() | filled,
    title=st.none() | filled,
    subject=st.none() | filled,
    subject_name=st.none() | filled,
    topic=st.none() | filled,
    topic_name=st.none() | filled,
    tags=st.lists(filled, max_size=3).map(tuple),
    law_refs=st.lists(st.builds(LawReference, law=filled, article=texts), max_size=2).map(tuple),
    source=st.none() | filled,
)


@given(
    st.lists(drafts, max_size=4).filter(
        lambda ds: (
            len({d.external_id for d in ds if d.external_id})
            == len([d for d in ds if d.external_id])
        )
    )
)
def test_any_drafts_round_trip(originals: list[QuestionDraft]) -> None:
    back = round_trip(originals)
    assert len(back) == len(originals)
    for original, parsed in zip(originals, back, strict=True):
        assert same(original, parsed)


# Spreadsheet formulas (OWASP CSV injection)

FORMULAS = ["=1+1", "-5 V", "@SUM(A1)", "+82 10", '=HYPERLINK("http://evil","x")', "\t=1", "＝1"]


def cells(data: bytes) -> dict[str, str]:
    """The one data row of an export, by column name, as a spreadsheet gets it."""
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return dict(zip(header, row, strict=True))


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_exported_as_text_and_reads_back_exactly(
    text: str,
) -> None:
    original = draft(
        QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem=text,
            choices=(Choice(id="A", text=text, weight=1.0), Choice(id="B", text="b")),
            explanation=text,
        ),
        external_id=text,
        title=text,
        source=text,
        subject_name=text,
    )
    row = cells(csv_format.dump([original]))
    for name in ("code", "question", "choice_a", "explanation", "title", "source", "subject_name"):
        assert row[name] == "'" + text, name
    (back,) = round_trip([original])
    assert same(original, back)


def test_numeric_answers_below_zero_and_tags_are_guarded_too() -> None:
    original = draft(
        QuestionContent(
            type=QuestionType.NUMERIC,
            stem="Q?",
            numeric_answers=(NumericAnswer(value=-5.0, tolerance=0.5),),
        ),
        tags=("@home", "=x"),
    )
    row = cells(csv_format.dump([original]))
    assert (row["answer"], row["tags"]) == ("'-5±0.5", "'@home|=x")
    (back,) = round_trip([original])
    assert same(original, back)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("'Tis", "''Tis"),
        ("'=1+1", "''=1+1"),
        ("''", "'''"),
        ("'", "''"),
        ("it's", "it's"),
        ("1+1=2", "1+1=2"),
    ],
)
def test_a_text_that_starts_with_a_quote_keeps_it(text: str, written: str) -> None:
    original = draft(
        QuestionContent(type=QuestionType.TRUE_FALSE, stem=text, true_false_answer=True)
    )
    assert cells(csv_format.dump([original]))["question"] == written
    (back,) = round_trip([original])
    assert back.content.stem == text


def test_a_hand_written_quote_before_plain_text_is_kept() -> None:
    assert (
        only("type,question,answer\ntrue_false,'Tis the season,true\n").content.stem
        == "'Tis the season"
    )
    assert only("type,question,answer\ntrue_false,'=1+1 is?,true\n").content.stem == "=1+1 is?"


@given(st.text())
def test_neutralise_then_restore_gives_back_every_string(text: str) -> None:
    cell = csv_format.neutralise(text)
    assert not cell.startswith(csv_format.FORMULA_STARTS)
    assert csv_format.restore(cell) == text


@given(
    st.builds(
        str.__add__,
        st.sampled_from(["\t", "\n", "'\t", "\t'", *FORMULA_PREFIXES]),
        st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=12),
    )
    .map(str.rstrip)
    .filter(str.strip)
)
def test_any_stem_choice_and_explanation_round_trip(text: str) -> None:
    # The format drops spaces around a cell; a guarded cell keeps the ones after its quote.
    original = draft(
        QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem=text,
            choices=(Choice(id="A", text=text, weight=1.0), Choice(id="B", text="b")),
            explanation=text,
        )
    )
    (back,) = round_trip([original])
    assert same(original, back)


@given(st.binary(max_size=400))
def test_no_bytes_crash_the_reader(data: bytes) -> None:
    with contextlib.suppress(ImportFormatError):
        csv_format.parse(data)


@given(
    st.sampled_from(
        [
            ("code,type,question,choice_a,choice_b,answer,tags,law_refs,shuffle\n", None),
            ("id,correct,question,a,b,c,d\n", FCC_MAP),
            ("Q;A;X;Y\n", "question=Q,answer=A:1-based,choices=X|Y"),
        ]
    ),
    st.text(max_size=300),
)
def test_no_rows_under_a_valid_header_crash_the_reader(
    layout: tuple[str, str | None], body: str
) -> None:
    header, mapping = layout
    result = csv_format.parse((header + body).encode(), mapping=mapping)
    lines = body.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    assert len(result.drafts) + len(result.errors) <= lines
