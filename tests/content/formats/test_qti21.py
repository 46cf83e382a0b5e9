"""IMS QTI 2.1: the specification's sample items, assessment tests, packages, writing back."""

from __future__ import annotations

import io
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
from certplatform.content.formats import qti21
from certplatform.content.formats.base import ImportFormatError, ParseResult

SAMPLES = (
    Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))
    / "qti21-samples"
)
IMS = SAMPLES / "ims"
TESTS = SAMPLES / "testimplementation"

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


# --- the IMS specification examples --------------------------------------------------------

SC, MR, TF = QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE, QuestionType.TRUE_FALSE
SHORT, NUMERIC = QuestionType.SHORT_ANSWER, QuestionType.NUMERIC
MATCHING, ESSAY = QuestionType.MATCHING, QuestionType.ESSAY
TWO_INTERACTIONS = "unsupported interaction: 2 interactions in one item"
TEMPLATE = "unsupported interaction textEntryInteraction in a template item"
NO_KEY = "RESPONSE declares no correctResponse or mapping, so the key is unknown"

# Each sample: the question type it becomes, or the start of the message that refuses it.
IMS_EXPECTED: dict[str, QuestionType | str] = {
    "adaptive.xml": TWO_INTERACTIONS,
    "adaptive_template.xml": TWO_INTERACTIONS,
    "associate.xml": MATCHING,
    "choice.xml": SC,
    "choice_fixed.xml": SC,
    "choice_multiple.xml": MR,
    "choice_multiple_chocolade.xml": "MR01 declares no correctResponse or mapping",
    "drawing.xml": "unsupported interaction drawingInteraction",
    "extended_text.xml": ESSAY,
    "feedback.xml": SC,
    "feedback_adaptive.xml": SC,
    "gap_match.xml": "unsupported interaction gapMatchInteraction",
    "graphic_associate.xml": "unsupported interaction graphicAssociateInteraction",
    "graphic_gap_match.xml": "unsupported interaction graphicGapMatchInteraction",
    "graphic_order.xml": "unsupported interaction graphicOrderInteraction",
    "hint.xml": SC,  # its endAttemptInteraction is a "show hint" button, not an answer
    "hotspot.xml": "unsupported interaction hotspotInteraction",
    "hottext.xml": "unsupported interaction hottextInteraction",
    "inline_choice.xml": SC,
    "likert.xml": NO_KEY,
    "match.xml": MATCHING,
    "math.xml": SC,
    "nested_object.xml": ESSAY,
    "order.xml": "unsupported interaction orderInteraction",
    "order_partial_scoring.xml": "unsupported interaction orderInteraction",
    "position_object.xml": "unsupported interaction positionObjectInteraction",
    "select_point.xml": "unsupported interaction selectPointInteraction",
    "shufflechoice.xml": SC,
    "shufflegap_match.xml": "unsupported interaction gapMatchInteraction",
    "shuffleinline_choice.xml": SC,
    "slider.xml": "unsupported interaction sliderInteraction",
    "template.xml": TEMPLATE,
    "template_image.xml": TEMPLATE,
    "text_entry.xml": SHORT,
    "text_entry1.xml": SHORT,
    "text_entry2.xml": SHORT,
    "towns.xml": "matchInteraction declares no correctResponse pairs",
    "upload.xml": "unsupported interaction uploadInteraction",
    "upload_composite.xml": TWO_INTERACTIONS,
}


def test_every_ims_sample_has_an_expectation() -> None:
    assert sorted(p.name for p in IMS.glob("*.xml")) == sorted(IMS_EXPECTED)


@pytest.mark.parametrize("name", sorted(IMS_EXPECTED))
@pytest.mark.parametrize("with_base_dir", [False, True], ids=["plain", "base_dir"])
def test_ims_sample(name: str, with_base_dir: bool) -> None:
    path = IMS / name
    result = qti21.parse(path.read_bytes(), base_dir=IMS if with_base_dir else None)
    expected = IMS_EXPECTED[name]
    if isinstance(expected, QuestionType):
        assert result.errors == []
        (draft,) = result.drafts
        assert draft.content.type is expected
        assert draft.location == f"item {draft.external_id}"
    else:
        assert result.drafts == []
        (error,) = result.errors
        assert error.location.startswith("item ")
        assert error.message.startswith(expected)


def _one(name: str, base_dir: Path | None = None) -> QuestionDraft:
    result = qti21.parse((IMS / name).read_bytes(), base_dir=base_dir)
    assert result.errors == []
    (draft,) = result.drafts
    return draft


def test_choice_stem_is_plain_text_with_figure_and_prompt() -> None:
    draft = _one("choice.xml", base_dir=IMS)
    assert (draft.external_id, draft.title) == ("choice", "Unattended Luggage")
    assert draft.content.stem == (
        "Look at the text in the picture.\n\n"
        "![NEVER LEAVE LUGGAGE UNATTENDED](media:sign.png)\n\n"
        "What does it say?"
    )
    assert [(c.id, c.weight) for c in draft.content.choices] == [
        ("ChoiceA", 1.0),
        ("ChoiceB", 0.0),
        ("ChoiceC", 0.0),
    ]
    assert draft.content.shuffle_choices is False
    (figure,) = draft.media
    assert figure.filename == "sign.png"
    assert figure.content_type == "image/png"
    assert figure.data == (IMS / "images" / "sign.png").read_bytes()


def test_choice_without_base_dir_names_the_figure_but_has_no_media() -> None:
    draft = _one("choice.xml")
    assert "![NEVER LEAVE LUGGAGE UNATTENDED](media:sign.png)" in draft.content.stem
    assert draft.media == ()


def test_multiple_response_mapping_is_scaled_so_correct_choices_add_up_to_one() -> None:
    # H and O map to 1, Cl to -1; unmapped choices get the mapping's default of -2.
    choices = _one("choice_multiple.xml").content.choices
    assert {c.id: c.weight for c in choices} == {
        "H": 0.5,
        "He": -1.0,
        "C": -1.0,
        "O": 0.5,
        "N": -1.0,
        "Cl": -0.5,
    }


def test_choice_feedback_inline_and_modal_feedback_as_explanation() -> None:
    content = _one("feedback.xml").content
    assert content.choices[0].feedback == "No, he is the President of the USA."
    assert content.choices[2] == Choice(id="MGH001C", text="Vicente Fox", weight=1, feedback="Yes.")
    assert content.explanation == (
        "Yes, that is correct.\n\nNo, the correct answer is Vicente Fox."
    )


def test_inline_choice_leaves_a_gap_in_the_stem() -> None:
    content = _one("inline_choice.xml").content
    assert content.stem == (
        "Identify the missing word in this famous quote from Shakespeare's Richard III.\n\n"
        "Now is the winter of our discontent\n"
        "Made glorious summer by this sun of ____;\n"
        "And all the clouds that lour'd upon our house\n"
        "In the deep bosom of the ocean buried."
    )
    assert [c.text for c in content.choices if c.correct] == ["York"]


def test_text_entry_mapping_gives_weighted_case_sensitive_answers() -> None:
    content = _one("text_entry.xml").content
    assert "sun of ____;" in content.stem
    assert content.accepted_answers == (
        AcceptedAnswer(text="York", weight=1.0),
        AcceptedAnswer(text="york", weight=0.5),
    )
    assert content.case_sensitive is True


def test_match_and_associate_become_pairs() -> None:
    assert _one("match.xml").content.pairs == (
        MatchPair(left="Capulet", right="Romeo and Juliet"),
        MatchPair(left="Demetrius", right="A Midsummer-Night's Dream"),
        MatchPair(left="Lysander", right="A Midsummer-Night's Dream"),
        MatchPair(left="Prospero", right="TheTempest"),
    )
    assert _one("associate.xml").content.pairs == (
        MatchPair(left="Antonio", right="Prospero"),
        MatchPair(left="Capulet", right="Montague"),
        MatchPair(left="Demetrius", right="Lysander"),
    )


def test_essay_keeps_the_figure_of_the_innermost_usable_object() -> None:
    draft = _one("nested_object.xml", base_dir=IMS)
    assert draft.content.stem == (
        "Read this postcard from your English pen-friend, Sam.\n\n"
        "![](media:postcard.png)\n\n"
        "Write Sam a postcard. Answer the questions. Write 25-35 words."
    )
    assert [m.filename for m in draft.media] == ["postcard.png"]


def test_mathml_is_read_as_its_text() -> None:
    assert _one("math.xml").content.stem == (
        "Which famous scientist is popularly associated with the equation E = m c 2 ?"
    )


# --- assessment tests ----------------------------------------------------------------------


def _read_test(path: Path, base_dir: Path | None) -> ParseResult:
    return qti21.parse(path.read_bytes(), base_dir=base_dir)


def test_french_test_files_items_under_sections() -> None:
    folder = TESTS / "GrahamSmith-French-01"
    result = _read_test(folder / "ghfrenchtest01a.xml", folder)
    assert [d.external_id for d in result.drafts] == [
        "ghfrench-01-erpt",
        "ghfrench-01-rept",
        "ghfrench-01-irpt",
        "ghfrench-01-vaux",
        "ghfrench-01-vauxpt1",
        "ghfrench-01-vauxpt2",
    ]
    assert {d.content.type for d in result.drafts} == {MR}
    first = result.drafts[0]
    assert (first.subject, first.subject_name) == (
        "sectionB",
        "Section B:Conjugation of French Verbs",
    )
    assert (first.topic, first.topic_name) == ("sectionB1", "Section B1: -ER verbs")
    assert [d.topic for d in result.drafts] == [
        "sectionB1",
        "sectionB2",
        "sectionB3",
        "sectionB4",
        "sectionB4",
        "sectionB4",
    ]
    assert len(result.errors) == 14
    assert result.errors[0].location == "item ghfrench-01-01"
    assert result.errors[0].message == "unsupported interaction orderInteraction"
    assert all(
        e.message.startswith("unsupported interaction: 6 interactions in one item")
        for e in result.errors[1:]
    )


def test_test_without_base_dir_gives_an_item_error_per_reference() -> None:
    test = (TESTS / "GrahamSmith-French-01" / "ghfrenchtest01a.xml").read_bytes()
    with watch_access() as accessed:
        result = qti21.parse(test)
    assert accessed == []
    assert result.drafts == []
    assert len(result.errors) == 20
    assert result.errors[0].location == "item ghfrench-01-01"
    assert all(e.message.startswith("item file not available") for e in result.errors)


def test_web_developer_test_reads_figures_next_to_the_items() -> None:
    folder = TESTS / "WebDeveloperTest1"
    result = _read_test(folder / "template_test1.xml", folder)
    assert len(result.drafts) == 8
    assert {(d.subject, d.subject_name) for d in result.drafts} == {
        ("sectionquestion1", "Electronics and Computer Science")
    }
    (with_figure,) = [d for d in result.drafts if d.media]
    assert "![File Directory](media:directory.jpg)" in with_figure.content.stem
    assert with_figure.media[0].content_type == "image/jpeg"
    assert with_figure.media[0].data == (folder / "directory.jpg").read_bytes()
    (error,) = result.errors
    assert error.location == "item inlineChoice"
    assert error.message.startswith("unsupported interaction: 2 interactions in one item")


def test_an_item_referred_to_many_times_is_one_question() -> None:
    folder = TESTS / "dave"
    result = _read_test(folder / "test-linear-individual.xml", folder)
    assert result.errors == []
    feedback, plain = result.drafts
    assert (feedback.external_id, feedback.topic, feedback.topic_name) == (
        "addition-feedback",
        "S01f",
        "Feedback Examples",
    )
    assert (plain.external_id, plain.topic) == ("addition-no-feedback", "S01nf")
    assert feedback.content == QuestionContent(
        type=SHORT,
        stem="Please calculate the following:\n\n1+1=____",
        accepted_answers=(AcceptedAnswer(text="2"),),
        case_sensitive=True,
        explanation="Yes, that is correct.\n\nNo, that is wrong.",
    )


def test_invisible_sections_file_nothing() -> None:
    test = TESTS / "dave" / "unrefactored" / "test-nested-sections.xml"
    (draft,) = _read_test(test, TESTS / "dave").drafts
    assert (draft.subject, draft.subject_name, draft.topic) == ("S01", "Section 1", None)


@pytest.mark.parametrize(
    ("name", "drafts"),
    [
        ("simple-linear-individual.xml", 3),
        ("simple-two-testParts.xml", 2),
        ("degenerate-multiple-testParts.xml", 1),
        ("test-testFeedback.xml", 1),
        ("validation-nonlinear-individual.xml", 1),
    ],
)
def test_dave_tests(name: str, drafts: int) -> None:
    result = _read_test(TESTS / "dave" / name, TESTS / "dave")
    assert result.errors == []
    assert len(result.drafts) == drafts


def _test_referring_to(*hrefs: str) -> bytes:
    refs = "".join(
        f'<assessmentItemRef identifier="R{n}" href="{href}"/>' for n, href in enumerate(hrefs)
    )
    return f"""<assessmentTest xmlns="{qti21.QTI_NS}" identifier="T" title="T">
      <testPart identifier="P" navigationMode="linear" submissionMode="individual">
        <assessmentSection identifier="S" title="Section" visible="true">{refs}
        </assessmentSection>
      </testPart>
    </assessmentTest>""".encode()


def test_item_paths_that_leave_the_base_directory_are_refused_unread(tmp_path: Path) -> None:
    base = tmp_path / "test"
    base.mkdir()
    secret = tmp_path / "secret.xml"
    secret.write_bytes((IMS / "choice.xml").read_bytes())
    (base / "link.xml").symlink_to(secret)
    doc = _test_referring_to(
        "../secret.xml",
        "%2E%2E/secret.xml",
        "/etc/passwd",
        "file:///etc/passwd",
        "http://example.invalid/item.xml",
        "link.xml",
        "sub/../../secret.xml",
    )
    with watch_access() as accessed:
        result = qti21.parse(doc, base_dir=base)
    assert result.drafts == []
    assert [e.location for e in result.errors] == [f"item R{n}" for n in range(7)]
    assert all("leaves" in e.message or "not a relative path" in e.message for e in result.errors)
    assert not any("secret" in entry or "passwd" in entry for entry in accessed)


def test_a_missing_item_file_is_an_item_error(tmp_path: Path) -> None:
    result = qti21.parse(_test_referring_to("missing.xml"), base_dir=tmp_path)
    assert result.errors[0].message == (
        "item file not available: cannot read missing.xml: No such file or directory"
    )


# --- hostile XML ---------------------------------------------------------------------------

BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE assessmentItem [
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
<assessmentItem xmlns="{qti21.QTI_NS}" identifier="x" title="&lol9;"/>
""".encode()

EXTERNAL_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE assessmentItem [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<assessmentItem xmlns="{qti21.QTI_NS}" identifier="x" title="x">
  <itemBody><p>&secret;</p><extendedTextInteraction responseIdentifier="R"/></itemBody>
</assessmentItem>
""".encode()


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_dtds_and_entities_are_refused_and_nothing_is_read(doc: bytes, tmp_path: Path) -> None:
    started = time.monotonic()
    with watch_access() as accessed, pytest.raises(ImportFormatError, match="DTD"):
        qti21.parse(doc, base_dir=tmp_path)
    assert accessed == []
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_hostile_item_files_of_a_test_are_item_errors(doc: bytes, tmp_path: Path) -> None:
    (tmp_path / "item.xml").write_bytes(doc)
    with watch_access() as accessed:
        result = qti21.parse(_test_referring_to("item.xml"), base_dir=tmp_path)
    assert result.drafts == []
    (error,) = result.errors
    assert "DTDs, entities and external references are not allowed" in error.message
    assert not any("passwd" in entry for entry in accessed)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"", "not well-formed XML at line 1, column 1"),
        (b"<quiz/>", "not a QTI 2.1 assessmentItem or assessmentTest"),
        (b"PK\x03\x04 not really a zip", "not a readable ZIP package"),
    ],
)
def test_whole_file_problems_raise_import_format_error(doc: bytes, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        qti21.parse(doc)


# --- content packages ----------------------------------------------------------------------


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _manifest(*resources: tuple[str, str, list[str]]) -> bytes:
    body = "".join(
        f'<resource identifier="R{n}" type="{kind}" href="{href}">'
        + "".join(f'<file href="{f}"/>' for f in files)
        + "</resource>"
        for n, (kind, href, files) in enumerate(resources)
    )
    return (
        '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M">'
        f"<organizations/><resources>{body}</resources></manifest>"
    ).encode()


def test_package_of_items_without_a_test() -> None:
    package = _zip(
        {
            "imsmanifest.xml": _manifest(
                ("imsqti_item_xmlv2p1", "choice.xml", ["choice.xml", "images/sign.png"]),
                ("imsqti_item_xmlv2p1", "hotspot.xml", ["hotspot.xml"]),
                ("imsqti_item_xmlv2p1", "text_entry.xml", ["text_entry.xml"]),
            ),
            "choice.xml": (IMS / "choice.xml").read_bytes(),
            "images/sign.png": (IMS / "images" / "sign.png").read_bytes(),
            "hotspot.xml": (IMS / "hotspot.xml").read_bytes(),
            "text_entry.xml": (IMS / "text_entry.xml").read_bytes(),
        }
    )
    result = qti21.parse(package)
    assert [d.external_id for d in result.drafts] == ["choice", "textEntry"]
    assert [m.filename for m in result.drafts[0].media] == ["sign.png"]
    assert [e.location for e in result.errors] == ["item hotspot"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"readme.txt": b"hello"}, "not an IMS content package: imsmanifest.xml is not in"),
        ({"imsmanifest.xml": b"<manifest"}, "imsmanifest.xml: not well-formed XML"),
        ({"imsmanifest.xml": _manifest()}, "lists no QTI items or tests"),
        ({"imsmanifest.xml": _manifest(), "../evil.xml": b"x"}, "leaves the package"),
        ({"imsmanifest.xml": _manifest(), "/etc/evil.xml": b"x"}, "leaves the package"),
        ({"imsmanifest.xml": _manifest(), "a\\..\\..\\evil": b"x"}, "leaves the package"),
        (
            {"imsmanifest.xml": _manifest(("imsqti_test_xmlv2p1", "t.xml", []))},
            "t.xml: t.xml is not in the package",
        ),
    ],
)
def test_broken_packages_raise_import_format_error(files: dict[str, bytes], message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("\\", "\\\\")):
        qti21.parse(_zip(files))


def test_package_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    item = (IMS / "choice.xml").read_bytes()
    package = _zip(
        {
            "imsmanifest.xml": _manifest(("imsqti_item_xmlv2p1", "choice.xml", [])),
            "choice.xml": item,
        }
    )
    monkeypatch.setattr(qti21.reader, "MAX_FILE_BYTES", len(item) - 1)
    (error,) = qti21.parse(package).errors
    assert (
        error.message == f"item file not available: choice.xml is larger than {len(item) - 1} bytes"
    )
    monkeypatch.setattr(qti21.reader, "MAX_PACKAGE_BYTES", len(item))
    with pytest.raises(ImportFormatError, match="unpacks to more than"):
        qti21.parse(package)


def test_hostile_item_in_a_package_is_an_item_error() -> None:
    package = _zip(
        {
            "imsmanifest.xml": _manifest(("imsqti_item_xmlv2p1", "x.xml", [])),
            "x.xml": EXTERNAL_ENTITY,
        }
    )
    with watch_access() as accessed:
        (error,) = qti21.parse(package).errors
    assert "DTDs, entities and external references are not allowed" in error.message
    assert accessed == []


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
)


def assert_same_questions(read: list[QuestionDraft], written: list[QuestionDraft]) -> None:
    assert len(read) == len(written)
    for got, want in zip(read, written, strict=True):
        for name in FIELDS:
            assert getattr(got, name) == getattr(want, name), name
        assert {m.filename: m for m in got.media} == {m.filename: m for m in want.media}


ROUND_TRIP = [
    QuestionDraft(
        content=QuestionContent(
            type=SC,
            stem="Look at the sign:\n\n![a sign](media:sign 1.png)\nWhat does it say?",
            choices=(
                Choice(id="A", text="Stay", weight=1.0, feedback="Yes"),
                Choice(id="B", text="Go\n\naway", weight=0.5),
                Choice(id="C", text="Wait & see", feedback="No.\n\nRead it again."),
            ),
            explanation="Signs say\nwhat they mean.",
            shuffle_choices=False,
        ),
        external_id="SC-1",
        title="Sign",
        subject="LAW",
        subject_name="Radio law",
        topic="LIC",
        topic_name="Licences",
        tags=("law", "two words"),
        media=(
            Media(filename="sign 1.png", content_type="image/png", data=b"\x89PNG"),
            Media(filename="extra.pdf", content_type="application/pdf", data=b"%PDF"),
        ),
    ),
    QuestionDraft(
        content=QuestionContent(
            type=MR,
            stem="Pick the primes.",
            choices=(
                Choice(id="A", text="2", weight=1 / 3),
                Choice(id="B", text="3", weight=1 / 3),
                Choice(id="C", text="5", weight=1 / 3),
                Choice(id="D", text="4", weight=-1.0, feedback="4 = 2 × 2"),
            ),
        ),
        external_id="MR-1",
        subject="LAW",
        subject_name="Radio law",
    ),
    QuestionDraft(
        content=QuestionContent(type=TF, stem="Is it?", true_false_answer=False),
        external_id="TF-1",
        subject="LAW",
        subject_name="Radio law",
        topic="T2",
    ),
    QuestionDraft(
        content=QuestionContent(
            type=SHORT,
            stem="The capital of France is ____.",
            accepted_answers=(
                AcceptedAnswer(text="Paris", feedback="Oui"),
                AcceptedAnswer(text="paris", weight=0.5),
                AcceptedAnswer(text="Lyon", weight=0.0, feedback="Not\n\nquite"),
            ),
            case_sensitive=True,
        ),
        external_id="SA-1",
    ),
    QuestionDraft(
        content=QuestionContent(
            type=SHORT,
            stem="Name a noble gas.",
            accepted_answers=(AcceptedAnswer(text="neon"), AcceptedAnswer(text="argon")),
        ),
        external_id="SA-2",
        topic="GASES",
        topic_name="Gases",
    ),
    QuestionDraft(
        content=QuestionContent(
            type=NUMERIC,
            stem="Pi?",
            numeric_answers=(
                NumericAnswer(value=3.14159, tolerance=0.001, feedback="Good"),
                NumericAnswer(min=3.0, max=3.3, weight=0.5),
                NumericAnswer(value=22 / 7, weight=0.1, feedback="Close"),
            ),
            explanation="About 3.14159.",
        ),
        external_id="NUM-1",
    ),
    QuestionDraft(
        content=QuestionContent(
            type=MATCHING,
            stem="Match units.",
            pairs=(
                MatchPair(left="ohm", right="resistance"),
                MatchPair(left="siemens", right="conductance"),
                MatchPair(left="mho", right="conductance"),
            ),
            shuffle_choices=False,
        ),
        external_id="MA-1",
        subject="EL",
    ),
    QuestionDraft(
        content=QuestionContent(type=ESSAY, stem="Discuss.", explanation="Model\n\nanswer."),
        external_id="ES-1",
        subject="EL",
        tags=("essay",),
    ),
]


def test_every_type_reads_back_equal_through_a_package() -> None:
    package = qti21.dump(ROUND_TRIP)
    assert package.startswith(b"PK")
    result = qti21.parse(package)
    assert result.errors == []
    assert_same_questions(result.drafts, ROUND_TRIP)


def test_package_layout_and_reproducibility() -> None:
    package = qti21.dump(ROUND_TRIP)
    assert qti21.dump(ROUND_TRIP) == package
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert names[:3] == ["imsmanifest.xml", "assessmentTest.xml", "items/0001/item.xml"]
    assert "items/0001/media/sign 1.png" in names


def test_written_items_are_plain_qti_readable_one_by_one() -> None:
    archive = zipfile.ZipFile(io.BytesIO(qti21.dump(ROUND_TRIP)))
    for number, draft in enumerate(ROUND_TRIP, start=1):
        (read,) = qti21.parse(archive.read(f"items/{number:04d}/item.xml")).drafts
        assert read.content == draft.content


def test_draft_without_external_id_gets_a_numbered_identifier() -> None:
    draft = QuestionDraft(content=QuestionContent(type=ESSAY, stem="Why?"))
    (read,) = qti21.parse(qti21.dump([draft, draft])).drafts[1:]
    assert read.external_id == "Q0002"


def test_dump_of_nothing_reads_back_as_nothing() -> None:
    assert qti21.parse(qti21.dump([])) == ParseResult()


# --- nothing but ImportFormatError escapes -------------------------------------------------


def _parse_or_format_error(data: bytes, base_dir: Path | None = None) -> None:
    try:
        result = qti21.parse(data, base_dir=base_dir)
    except ImportFormatError:
        return
    assert isinstance(result, ParseResult)
    for error in result.errors:
        assert error.location
        assert error.message


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_any_bytes_give_a_result_or_an_import_format_error(data: bytes) -> None:
    _parse_or_format_error(data)
    _parse_or_format_error(b"PK\x03\x04" + data)


TOKENS = [
    b"<",
    b">",
    b"</value>",
    b"<value>",
    b'mappedValue="nan"',
    b'mappedValue="1e999"',
    b'maxChoices="x"',
    b'tolerance="a b"',
    b'toleranceMode="relative"',
    b'baseType="float"',
    b'baseType="integer"',
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"<br/>",
    b'<img src="../../etc/passwd"/>',
    b'<img src="%00"/>',
    b"<simpleChoice>",
    b'<simpleChoice identifier="">',
    b'<simpleMatchSet><simpleAssociableChoice identifier="Z"/></simpleMatchSet>',
    b'<textEntryInteraction responseIdentifier="RESPONSE"/>',
    b'<assessmentItemRef href="../x.xml" identifier="x"/>',
    b'<assessmentSection visible="false">',
    b"<templateProcessing/>",
    b"<!DOCTYPE x>",
    b"\xff\xfe",
]


def _mutate(data: st.DataObject, doc: bytes) -> bytes:
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(doc)))
        end = data.draw(st.integers(start, min(len(doc), start + 30)))
        insert = data.draw(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=12)))
        doc = doc[:start] + insert + doc[end:]
    return doc


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(sorted(IMS_EXPECTED)))
def test_mutated_samples_give_a_result_or_an_import_format_error(
    data: st.DataObject, name: str
) -> None:
    _parse_or_format_error(_mutate(data, (IMS / name).read_bytes()), base_dir=IMS)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_test_documents_give_a_result_or_an_import_format_error(
    data: st.DataObject,
) -> None:
    folder = TESTS / "dave"
    doc = (folder / "test-linear-individual.xml").read_bytes()
    _parse_or_format_error(_mutate(data, doc), base_dir=folder)


_PACKAGE = qti21.dump(ROUND_TRIP)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_packages_give_a_result_or_an_import_format_error(data: st.DataObject) -> None:
    package = bytearray(_PACKAGE)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(package) - 1))
        package[position] = data.draw(st.integers(0, 255))
    _parse_or_format_error(bytes(package))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_packages_with_mutated_documents_give_a_result_or_an_import_format_error(
    data: st.DataObject,
) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_PACKAGE))
    files = {name: archive.read(name) for name in archive.namelist()}
    name = data.draw(st.sampled_from(sorted(files)))
    files[name] = _mutate(data, files[name])
    _parse_or_format_error(_zip(files))


# --- generated round trips -----------------------------------------------------------------

# Stems and other body text are read back as normalised plain text: single spaces, no blank
# lines inside a paragraph, no "____" gaps or media links except where meant.
_word = st.text(
    st.sampled_from("abcxyzABCXYZ0129äéßΩЖ日本€<>&\"'#%;:,.?-+=*/@{}|~^`$"),
    min_size=1,
    max_size=8,
)
_line = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_paragraph = st.lists(_line, min_size=1, max_size=2).map("\n".join)
_flow = st.lists(_paragraph, min_size=1, max_size=2).map("\n\n".join)
_identifier = st.builds(
    str.__add__,
    st.sampled_from("ABCXYZabcxyz_"),
    st.text(st.sampled_from("ABCXYZabcxyz0189_.-"), max_size=11),
)
_media = st.builds(
    lambda name, ext, data: Media(
        filename=f"{name}.{ext}",
        content_type={"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}[ext],
        data=data,
    ),
    st.text(st.sampled_from("abcxyz019-"), min_size=1, max_size=8),
    st.sampled_from(["png", "jpg", "gif"]),
    st.binary(max_size=64),
)


@st.composite
def _stems(draw: st.DrawFn, media: list[Media]) -> str:
    stem = draw(_flow)
    with_figure = draw(st.booleans())
    if media and with_figure:
        figure = draw(st.sampled_from(media))
        stem += f"\n\n![{draw(_line)}](media:{figure.filename})"
    return stem


@st.composite
def _contents(draw: st.DrawFn, media: list[Media]) -> QuestionContent:
    kind = draw(st.sampled_from(list(QuestionType)))
    common: dict[str, Any] = {
        "type": kind,
        "stem": draw(_stems(media)),
        "explanation": draw(st.one_of(st.just(""), _flow)),
    }
    feedback = st.one_of(st.none(), _flow)
    if kind in (SC, MR):
        count = draw(st.integers(2, 6))
        if kind is SC:
            weights = [1.0] + [
                draw(st.sampled_from([0.0, -0.5, 0.25, 1.0])) for _ in range(1, count)
            ]
        else:
            right = draw(st.integers(1, count))
            weights = [1 / right] * right + [
                draw(st.sampled_from([0.0, -0.5, -1.0])) for _ in range(count - right)
            ]
        ids = draw(
            st.lists(
                _identifier.filter(lambda i: i.lower() not in ("true", "false")),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
        common["choices"] = tuple(
            Choice(id=i, text=draw(_flow), weight=w, feedback=draw(feedback))
            for i, w in zip(ids, weights, strict=True)
        )
    elif kind is TF:
        common["true_false_answer"] = draw(st.booleans())
    elif kind is SHORT:
        weights = [1.0, *draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), max_size=3))]
        texts = draw(st.lists(_line, min_size=len(weights), max_size=len(weights), unique=True))
        common["accepted_answers"] = tuple(
            AcceptedAnswer(text=t, weight=w, feedback=draw(feedback))
            for t, w in zip(texts, weights, strict=True)
        )
        common["case_sensitive"] = draw(st.booleans())
    elif kind is NUMERIC:
        finite = st.floats(allow_nan=False, allow_infinity=False)
        answers = []
        for number in range(draw(st.integers(1, 3))):
            weight, note = draw(st.floats(0, 1)) if number else 1.0, draw(feedback)
            if draw(st.booleans()):
                low, high = sorted((draw(finite), draw(finite)))
                answers.append(NumericAnswer(min=low, max=high, weight=weight, feedback=note))
            else:
                answers.append(
                    NumericAnswer(
                        value=draw(finite),
                        tolerance=draw(st.floats(0, 1e9)),
                        weight=weight,
                        feedback=note,
                    )
                )
        common["numeric_answers"] = tuple(answers)
    elif kind is MATCHING:
        text = st.one_of(st.just(""), _flow)
        common["pairs"] = tuple(
            MatchPair(left=draw(text), right=draw(text)) for _ in range(draw(st.integers(2, 4)))
        )
    if kind in (SC, MR, TF, MATCHING):
        common["shuffle_choices"] = draw(st.booleans())
    return QuestionContent.model_validate(common)


@st.composite
def _drafts(draw: st.DrawFn) -> QuestionDraft:
    media = draw(st.lists(_media, max_size=2, unique_by=lambda m: m.filename))
    optional_name = st.one_of(st.none(), _line)
    return QuestionDraft(
        content=draw(_contents(media)),
        external_id=draw(_identifier),
        title=draw(optional_name),
        subject=draw(st.one_of(st.none(), _identifier)),
        subject_name=draw(optional_name),
        topic=draw(st.one_of(st.none(), _identifier)),
        topic_name=draw(optional_name),
        tags=tuple(draw(st.lists(_line, max_size=3))),
        media=tuple(media),
    )


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_drafts(), max_size=4))
def test_generated_drafts_read_back_equal(drafts: list[QuestionDraft]) -> None:
    # A name without its code is nothing to file under.
    drafts = [
        d.model_copy(
            update={
                "subject_name": d.subject_name if d.subject else None,
                "topic_name": d.topic_name if d.topic else None,
            }
        )
        for d in drafts
    ]
    result = qti21.parse(qti21.dump(drafts))
    assert result.errors == []
    assert_same_questions(result.drafts, drafts)
