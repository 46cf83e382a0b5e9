"""Reader and writer for the Aiken format: single-choice questions as plain text.

    What is the capital of France?
    A. Berlin
    B) Paris
    ANSWER: B

The question text comes first and may run over several lines. Each choice is a line of its
own: a capital letter, `.` or `)`, a space, the text. `ANSWER:` and the letter of the key
close the question. Blank lines separate questions. Choice ids are the letters.

Aiken carries the question text, the choices and the key, nothing else: `dump` drops
titles, ids, subjects, tags, explanations and feedback. It raises ValueError for a question
that would not read back as the same question: one that is not single choice, gives partial
or negative credit or several keys, has more than 26 choices, a choice with a line break, or
a question text with a blank line or a line that reads as a choice or as `ANSWER:`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Sequence

from pydantic import ValidationError

from certplatform.content.contracts import Choice, QuestionContent, QuestionDraft, QuestionType
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult
from certplatform.kernel.errors import N_

_CHOICE = re.compile(r"([A-Z])[.)][ \t]+(.*)")
_ANSWER = re.compile(r"ANSWER:(.*)")

Line = tuple[int, str]


class _AikenError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


# Reading


def parse(data: bytes) -> ParseResult:
    """Read Aiken questions; items that are not valid questions become `result.errors`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            N_("The file is not UTF-8 text (undecodable byte at offset %(offset)s)."),
            offset=exc.start,
        ) from None
    result = ParseResult()
    for item in _items(text.replace("\r\n", "\n").replace("\r", "\n")):
        start = f"line {item[0][0]}"
        try:
            content = _content(item)
        except _AikenError as exc:
            result.errors.append(ItemError(f"line {exc.line}", str(exc)))
        except ValidationError as exc:
            messages = (str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            result.errors.append(ItemError(start, "; ".join(messages)))
        else:
            result.drafts.append(QuestionDraft(content=content, location=start))
    return result


def _items(text: str) -> Iterator[list[Line]]:
    """Runs of non-blank lines; an `ANSWER:` line also ends its question."""
    item: list[Line] = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            item.append((number, line))
        if item and (not line.strip() or _ANSWER.match(line.strip())):
            yield item
            item = []
    if item:
        yield item


def _content(item: list[Line]) -> QuestionContent:
    stem: list[str] = []
    choices: list[tuple[str, str]] = []
    for number, line in item:
        stripped = line.strip()
        answer = _ANSWER.match(stripped)
        choice = _CHOICE.fullmatch(stripped)
        if answer:
            if not stem:
                raise _AikenError(number, "an ANSWER: line without a question before it")
            if not choices:
                raise _AikenError(number, "the question has no choices ('A. text') before ANSWER:")
            return _question("\n".join(stem).strip(), choices, answer.group(1).strip(), number)
        if choice:
            if not stem:
                raise _AikenError(number, "a choice comes before the question text")
            choices.append((choice.group(1), choice.group(2).strip()))
        elif choices:
            raise _AikenError(
                number, f"expected a choice ('A. text') or 'ANSWER: <letter>', found {stripped!r}"
            )
        else:
            stem.append(line)
    raise _AikenError(item[0][0], "the question has no 'ANSWER: <letter>' line")


def _question(stem: str, choices: list[tuple[str, str]], key: str, line: int) -> QuestionContent:
    letters = [letter for letter, _ in choices]
    if key.upper() not in letters:
        raise _AikenError(
            line, f"ANSWER: {key!r} is not one of the choice letters {', '.join(letters)}"
        )
    return QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem=stem,
        choices=tuple(
            Choice(id=letter, text=text, weight=1.0 if letter == key.upper() else 0.0)
            for letter, text in choices
        ),
    )


# Writing


def dump(drafts: Sequence[QuestionDraft]) -> bytes:
    """Write single-choice drafts as Aiken; raises ValueError naming a draft it cannot write."""
    blocks = []
    for number, draft in enumerate(drafts, 1):
        try:
            blocks.append(_write(draft.content))
        except ValueError as exc:
            name = draft.external_id or draft.title or f"number {number}"
            raise ValueError(f"Aiken cannot write question {name}: {exc}") from None
    return "\n".join(blocks).encode()


def _write(content: QuestionContent) -> str:
    if content.type is not QuestionType.SINGLE_CHOICE:
        raise ValueError(f"it is {content.type.value}; Aiken holds single-choice questions only")
    if len(content.choices) > len(string.ascii_uppercase):
        raise ValueError("it has more than 26 choices")
    weights = sorted(choice.weight for choice in content.choices)
    if weights[-1] != 1.0 or any(weight != 0.0 for weight in weights[:-1]):
        raise ValueError("Aiken has one key and no partial or negative credit")
    stem = content.stem.replace("\r\n", "\n").replace("\r", "\n")
    for line in stem.split("\n"):
        if not line.strip() or _CHOICE.fullmatch(line.strip()) or _ANSWER.match(line.strip()):
            raise ValueError(f"the question text line {line!r} would not read back as text")
    lines = [stem]
    key = ""
    for letter, choice in zip(string.ascii_uppercase, content.choices, strict=False):
        if "\n" in choice.text or "\r" in choice.text:
            raise ValueError(f"the choice {choice.text!r} has a line break")
        lines.append(f"{letter}. {choice.text}")
        if choice.weight == 1.0:
            key = letter
    lines.append(f"ANSWER: {key}")
    return "\n".join(lines) + "\n"
