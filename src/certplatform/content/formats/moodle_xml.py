"""Moodle XML quiz files.

A `<question type="category">` sets the category of the questions after it: the path
`$course$/top/Subject/Topic` gives the subject and topic (a category's `<idnumber>` is used as
its code, otherwise the name is). Texts are kept exactly as Moodle stores them, usually HTML.
Answer grades are checked as Moodle's importer checks them (`moodle_grades`): a question with
a grade Moodle does not allow, or a multiple-response question whose positive grades do not
add up to 100%, is refused; `dump` raises ValueError rather than write one.

What Moodle cannot hold comes back changed: choice ids are read as A, B, C...; a numeric range
is written as midpoint ± half its width; a subject or topic without a name gets its code as
name; a topic is kept only under a subject; a matching pair with an empty left side is read as
a distractor and dropped.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Sequence
from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, indent

from pydantic import ValidationError

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
from certplatform.content.formats import moodle_grades
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult
from certplatform.content.formats.xmlsafe import parse_xml, to_bytes
from certplatform.kernel.errors import N_

_SKIPPED_TYPES = {"description"}
# The types whose answers carry grades that Moodle's importer checks (true/false has none).
_GRADED_TYPES = {"multichoice", "shortanswer", "numerical"}
_HTML_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
# A single "/" separates category names; Moodle writes a "/" inside a name as "//".
_PATH_SEPARATOR = re.compile(r"(?<!/)/(?!/)")


class _BadItemError(Exception):
    """Why one question cannot be imported."""


# --- reading -----------------------------------------------------------------------------


def parse(data: bytes) -> ParseResult:
    """Read a Moodle XML `<quiz>`: one draft per question, one ItemError per refused question."""
    root = parse_xml(data)
    if root.tag != "quiz":
        raise ImportFormatError(
            N_("not a Moodle XML quiz: the root element is <%(tag)s>"), tag=root.tag
        )
    result = ParseResult()
    category: tuple[str, ...] = ()
    codes: dict[tuple[str, ...], str] = {}
    number = 0
    for question in root.findall("question"):
        qtype = question.get("type", "")
        if qtype == "category":
            category = _category_path(_text(question.find("category")))
            idnumber = _plain(question.find("idnumber")).strip()
            if idnumber:
                codes[category] = idnumber
            else:
                codes.pop(category, None)
            continue
        number += 1
        if qtype in _SKIPPED_TYPES:
            continue
        location = _location(number, question)
        try:
            draft = _read_question(question, qtype, location)
        except _BadItemError as exc:
            result.errors.append(ItemError(location, str(exc)))
            continue
        except ValidationError as exc:
            result.errors.append(ItemError(location, _describe(exc)))
            continue
        result.drafts.append(_file_under(draft, category, codes))
    return result


def _location(number: int, question: Element) -> str:
    names = []
    idnumber = _plain(question.find("idnumber")).strip()
    name = _text(question.find("name")).strip()
    if idnumber:
        names.append(f"idnumber {idnumber}")
    if name:
        names.append(f"name {name}")
    return f"question {number} ({' / '.join(names)})" if names else f"question {number}"


def _category_path(path: str) -> tuple[str, ...]:
    segments = [s.replace("//", "/").strip() for s in _PATH_SEPARATOR.split(path.strip())]
    segments = [s for s in segments if s]
    if segments and segments[0].startswith("$") and segments[0].endswith("$"):
        segments = segments[1:]
    if segments and segments[0] == "top":
        segments = segments[1:]
    return tuple(segments)


def _file_under(
    draft: QuestionDraft, category: tuple[str, ...], codes: dict[tuple[str, ...], str]
) -> QuestionDraft:
    if not category:
        return draft
    update: dict[str, str] = {
        "subject": codes.get(category[:1], category[0]),
        "subject_name": category[0],
    }
    if len(category) > 1:
        update["topic"] = codes.get(category[:2], category[1])
        update["topic_name"] = category[1]
    return draft.model_copy(update=update)


def _read_question(question: Element, qtype: str, location: str) -> QuestionDraft:
    if not qtype:
        raise _BadItemError("the question has no type attribute")
    if qtype in _GRADED_TYPES:
        # Like Moodle, every answer's grade counts here, an empty answer's too.
        for number, answer in enumerate(question.findall("answer"), 1):
            _grade(answer, number)
    common = {
        "stem": _text(question.find("questiontext")),
        "explanation": _text(question.find("generalfeedback")),
        "shuffle_choices": _flag(question.find("shuffleanswers"), default=True),
    }
    if qtype == "multichoice":
        content = _multichoice(question, common)
    elif qtype == "truefalse":
        content = _truefalse(question, common)
    elif qtype == "shortanswer":
        content = _shortanswer(question, common)
    elif qtype == "numerical":
        content = _numerical(question, common)
    elif qtype == "matching":
        content = _matching(question, common)
    elif qtype == "essay":
        content = QuestionContent.model_validate({"type": QuestionType.ESSAY, **common})
    else:
        raise _BadItemError(f"unsupported question type {qtype}")
    name = _text(question.find("name"))
    tags = (_text(tag).strip() for tag in question.findall("tags/tag"))
    return QuestionDraft(
        content=content,
        external_id=_plain(question.find("idnumber")).strip() or None,
        title=name if name.strip() else None,
        tags=tuple(tag for tag in tags if tag),
        media=_media(question),
        location=location,
    )


def _multichoice(question: Element, common: dict[str, object]) -> QuestionContent:
    single = _flag(question.find("single"), default=True)
    choices = tuple(
        Choice(
            id=_choice_id(index),
            text=_text(answer),
            weight=_grade(answer, number),
            feedback=_optional_text(answer.find("feedback")),
        )
        for index, (number, answer) in enumerate(_answers(question))
    )
    if not single:
        try:
            moodle_grades.check_multiple_response(c.weight for c in choices)
        except moodle_grades.GradeError as exc:
            raise _BadItemError(str(exc)) from None
    kind = QuestionType.SINGLE_CHOICE if single else QuestionType.MULTIPLE_RESPONSE
    return QuestionContent.model_validate({"type": kind, "choices": choices, **common})


def _truefalse(question: Element, common: dict[str, object]) -> QuestionContent:
    for number, answer in _answers(question):
        if _fraction(answer, number) == 1:
            word = _text(answer).strip().lower()
            if word not in ("true", "false"):
                raise _BadItemError(f"the true/false answer is {word!r}, not 'true' or 'false'")
            return QuestionContent.model_validate(
                {"type": QuestionType.TRUE_FALSE, "true_false_answer": word == "true", **common}
            )
    raise _BadItemError("no answer of the true/false question is worth 100%")


def _shortanswer(question: Element, common: dict[str, object]) -> QuestionContent:
    answers = tuple(
        AcceptedAnswer(
            text=_text(answer),
            weight=_grade(answer, number),
            feedback=_optional_text(answer.find("feedback")),
        )
        for number, answer in _answers(question)
    )
    return QuestionContent.model_validate(
        {
            "type": QuestionType.SHORT_ANSWER,
            "accepted_answers": answers,
            "case_sensitive": _flag(question.find("usecase"), default=False),
            **common,
        }
    )


def _numerical(question: Element, common: dict[str, object]) -> QuestionContent:
    answers = []
    for number, answer in _answers(question):
        value = _text(answer).strip()
        if value == "*":  # Moodle's "any other answer", which carries only feedback
            continue
        answers.append(
            NumericAnswer(
                value=_number(value, f"answer {number}"),
                tolerance=_number(
                    _plain(answer.find("tolerance")) or "0", f"answer {number} tolerance"
                ),
                weight=_grade(answer, number),
                feedback=_optional_text(answer.find("feedback")),
            )
        )
    return QuestionContent.model_validate(
        {"type": QuestionType.NUMERIC, "numeric_answers": tuple(answers), **common}
    )


def _matching(question: Element, common: dict[str, object]) -> QuestionContent:
    # A subquestion without text only adds a wrong answer to pick from; pairs cannot hold it.
    pairs = tuple(
        MatchPair(left=_text(sub), right=_text(sub.find("answer")))
        for sub in question.findall("subquestion")
        if _text(sub).strip()
    )
    return QuestionContent.model_validate({"type": QuestionType.MATCHING, "pairs": pairs, **common})


def _answers(question: Element) -> list[tuple[int, Element]]:
    """The answers that have text, each with its place among all the question's answers."""
    return [
        (number, answer)
        for number, answer in enumerate(question.findall("answer"), 1)
        if _text(answer).strip()
    ]


def _media(question: Element) -> tuple[Media, ...]:
    media: dict[str, Media] = {}
    for file in question.iter("file"):
        name = file.get("name", "")
        if not name:
            raise _BadItemError("an embedded <file> has no name")
        try:
            data = base64.b64decode("".join((file.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            raise _BadItemError(f"embedded file {name!r} is not valid base64") from None
        media.setdefault(name, Media(filename=name, content_type=_content_type(name), data=data))
    return tuple(media.values())


def _content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _text(element: Element | None) -> str:
    """The `<text>` of a Moodle text field (questiontext, answer, name...), or ''."""
    if element is None:
        return ""
    return _plain(element.find("text"))


def _plain(element: Element | None) -> str:
    return "" if element is None else element.text or ""


def _optional_text(element: Element | None) -> str | None:
    return _text(element) or None


def _flag(element: Element | None, *, default: bool) -> bool:
    word = _plain(element).strip().lower()
    if word in ("1", "true", "yes"):
        return True
    if word in ("0", "false", "no"):
        return False
    return default


def _fraction(answer: Element, number: int) -> Decimal:
    """The answer's `fraction` attribute, a percentage, as a fraction of the credit."""
    raw = answer.get("fraction", "0")
    try:
        return Decimal(raw.strip()).scaleb(-2)
    except (ArithmeticError, ValueError):
        raise _BadItemError(f"answer {number}: fraction {raw!r} is not a number") from None


def _grade(answer: Element, number: int) -> float:
    """The answer's fraction as a weight: the Moodle grade it matches, as Moodle stores it."""
    try:
        return float(moodle_grades.grade(_fraction(answer, number)))
    except moodle_grades.GradeError as exc:
        raise _BadItemError(f"answer {number}: {exc}") from None


def _number(raw: str, what: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise _BadItemError(f"{what}: {raw.strip()!r} is not a number") from None


def _choice_id(index: int) -> str:
    """A, B, ... Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


# --- writing -----------------------------------------------------------------------------


def dump(drafts: Sequence[QuestionDraft]) -> bytes:
    """Write the drafts as a Moodle XML quiz, with a category entry wherever the subject or
    topic changes; raises ValueError for a question Moodle would refuse."""
    quiz = Element("quiz")
    current: tuple[tuple[str, str], ...] = ()
    for number, draft in enumerate(drafts, 1):
        path = _category_of(draft)
        if path != current:
            _write_category(quiz, path)
            current = path
        try:
            _write_question(quiz, draft)
        except moodle_grades.GradeError as exc:
            name = draft.external_id or draft.title or f"number {number}"
            raise ValueError(f"Moodle XML cannot write question {name}: {exc}") from None
    indent(quiz)
    return to_bytes(quiz)


def _category_of(draft: QuestionDraft) -> tuple[tuple[str, str], ...]:
    """(name, code) per category level: the subject, then the topic."""
    if draft.subject is None:
        return ()
    path = [(draft.subject_name or draft.subject, draft.subject)]
    if draft.topic is not None:
        path.append((draft.topic_name or draft.topic, draft.topic))
    return tuple(path)


def _write_category(quiz: Element, path: tuple[tuple[str, str], ...]) -> None:
    levels = [path[:depth] for depth in range(1, len(path) + 1)] or [()]
    for level in levels:
        question = SubElement(quiz, "question", type="category")
        names = ["$course$", "top", *(name.replace("/", "//") for name, _ in level)]
        _write_text(SubElement(question, "category"), "/".join(names))
        if level and level[-1][1] != level[-1][0]:
            SubElement(question, "idnumber").text = level[-1][1]


def _write_question(quiz: Element, draft: QuestionDraft) -> None:
    content = draft.content
    kind = content.type
    moodle_type = {
        QuestionType.SINGLE_CHOICE: "multichoice",
        QuestionType.MULTIPLE_RESPONSE: "multichoice",
        QuestionType.TRUE_FALSE: "truefalse",
        QuestionType.SHORT_ANSWER: "shortanswer",
        QuestionType.NUMERIC: "numerical",
        QuestionType.MATCHING: "matching",
        QuestionType.ESSAY: "essay",
    }[kind]
    question = SubElement(quiz, "question", type=moodle_type)
    _write_text(SubElement(question, "name"), draft.title or "")
    stem = _write_field(question, "questiontext", content.stem)
    for media in draft.media:
        file = SubElement(stem, "file", name=media.filename, path="/", encoding="base64")
        file.text = base64.b64encode(media.data).decode("ascii")
    _write_field(question, "generalfeedback", content.explanation)
    SubElement(question, "defaultgrade").text = "1"
    SubElement(question, "penalty").text = "0.3333333"
    SubElement(question, "hidden").text = "0"
    SubElement(question, "idnumber").text = draft.external_id or ""
    SubElement(question, "shuffleanswers").text = "true" if content.shuffle_choices else "false"

    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        single = kind is QuestionType.SINGLE_CHOICE
        SubElement(question, "single").text = "true" if single else "false"
        SubElement(question, "answernumbering").text = "abc"
        if not single:
            moodle_grades.check_multiple_response(c.weight for c in content.choices)
        for choice in content.choices:
            _write_answer(question, choice.text, choice.weight, choice.feedback)
    elif kind is QuestionType.TRUE_FALSE:
        for word in ("true", "false"):
            right = (word == "true") == content.true_false_answer
            _write_answer(question, word, 1.0 if right else 0.0, None)
    elif kind is QuestionType.SHORT_ANSWER:
        SubElement(question, "usecase").text = "1" if content.case_sensitive else "0"
        for accepted in content.accepted_answers:
            _write_answer(question, accepted.text, accepted.weight, accepted.feedback)
    elif kind is QuestionType.NUMERIC:
        for number in content.numeric_answers:
            value, tolerance = number.value, number.tolerance
            if number.min is not None and number.max is not None:
                value = (number.min + number.max) / 2
                tolerance = (number.max - number.min) / 2
            answer = _write_answer(question, repr(value), number.weight, number.feedback)
            SubElement(answer, "tolerance").text = repr(tolerance)
    elif kind is QuestionType.MATCHING:
        for pair in content.pairs:
            sub = _write_field(question, "subquestion", pair.left)
            _write_text(SubElement(sub, "answer"), pair.right)
    elif kind is QuestionType.ESSAY:
        SubElement(question, "responseformat").text = "editor"
        SubElement(question, "responsefieldlines").text = "15"
        SubElement(question, "attachments").text = "0"

    if draft.tags:
        tags = SubElement(question, "tags")
        for tag in draft.tags:
            _write_text(SubElement(tags, "tag"), tag)


def _write_answer(question: Element, text: str, weight: float, feedback: str | None) -> Element:
    # The Moodle grade the weight matches, as Moodle writes it: 1/3 is written 33.33333.
    fraction = moodle_grades.percent(moodle_grades.grade_of_weight(weight))
    answer = _write_field(question, "answer", text, fraction=fraction)
    if feedback is not None:
        _write_field(answer, "feedback", feedback)
    return answer


def _write_field(parent: Element, tag: str, text: str, **attrs: str) -> Element:
    field = SubElement(parent, tag, {"format": _format_of(text), **attrs})
    _write_text(field, text)
    return field


def _write_text(parent: Element, text: str) -> None:
    SubElement(parent, "text").text = text


def _format_of(text: str) -> str:
    return "html" if _HTML_TAG.search(text) else "markdown"
