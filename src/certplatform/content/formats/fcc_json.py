"""Reader for the FCC amateur-radio question pools in their JSON form.

The pools (NCVEC public releases, converted to JSON) are a list of objects:
`{id, correct, correct_letter, refs, question, answers, figure}`, where `correct` is the
0-based index of the key, `refs` a bracketed list of 47 CFR sections such as
`[97.119(b)(2), 97.305]` and `figure` the file name of an image the question refers to.
Older pools leave out `correct_letter` and `figure`.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from certplatform.content.contracts import (
    Choice,
    LawReference,
    Media,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult
from certplatform.kernel.errors import N_

LETTERS = "ABCD"

# T1A01: element letter, sub-element digit, group letter, question number.
_ID = re.compile(r"[A-Z][0-9][A-Z][0-9]{2}")

# Answers that point at the other answers only make sense in their printed position.
_POSITIONAL = re.compile(
    r"(?i:\b(?:these|those) choices\b"
    r"|\b(?:all|none|both|neither) of (?:the above|these|those)\b"
    r"|\bthe above\b)"
    r"|\b[A-D] and [A-D]\b"
)

# A section of 47 CFR as the pools write it: 97.119(b)(2), 97.5a, 1.1307(b).
_CFR_SECTION = re.compile(r"[0-9]+\.[0-9]+[a-z]?")

_POOLS = {"T": "Technician", "G": "General", "E": "Amateur Extra"}


class _BadItemError(Exception):
    """An item cannot be read; the message says why."""


def parse(data: bytes, *, media_dir: Path | None = None) -> ParseResult:
    """Read an FCC pool; figures are attached from `media_dir` when it is given."""
    try:
        items = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ImportFormatError(N_("not a JSON document: %(problem)s"), problem=str(exc)) from exc
    if not isinstance(items, list):
        raise ImportFormatError("an FCC pool is a JSON list of questions")

    result = ParseResult()
    seen: set[str] = set()
    figures: dict[str, Media] = {}
    for number, item in enumerate(items, start=1):
        item_id = item.get("id") if isinstance(item, dict) else None
        location = f"id {item_id}" if isinstance(item_id, str) and item_id else f"item {number}"
        try:
            if not isinstance(item, dict):
                raise _BadItemError("a question is a JSON object")
            draft = _draft(item, location, media_dir, figures)
            if draft.external_id in seen:
                raise _BadItemError(f"id {draft.external_id} appears more than once")
            seen.add(item["id"])
        except _BadItemError as exc:
            result.errors.append(ItemError(location, str(exc)))
        except ValidationError as exc:
            result.errors.append(ItemError(location, _validation_message(exc)))
        else:
            result.drafts.append(draft)
    return result


def _draft(
    item: dict[str, Any], location: str, media_dir: Path | None, figures: dict[str, Media]
) -> QuestionDraft:
    qid = item.get("id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid):
        raise _BadItemError(f"id {qid!r} is not a pool question id like T1A01")
    stem = item.get("question")
    if not isinstance(stem, str) or not stem.strip():
        raise _BadItemError("the question text is missing")
    answers = item.get("answers")
    if (
        not isinstance(answers, list)
        or len(answers) != len(LETTERS)
        or not all(isinstance(a, str) for a in answers)
    ):
        raise _BadItemError(f"answers must be a list of {len(LETTERS)} texts")

    key = _key(item.get("correct"), item.get("correct_letter"))
    choices = tuple(
        Choice(id=letter, text=text, weight=1.0 if index == key else 0.0)
        for index, (letter, text) in enumerate(zip(LETTERS, answers, strict=True))
    )

    media: tuple[Media, ...] = ()
    figure = item.get("figure") or ""
    if not isinstance(figure, str):
        raise _BadItemError("figure must be a file name")
    if figure:
        # A figure is a plain file name; anything else could read outside media_dir.
        if Path(figure).name != figure or figure in (".", ".."):
            raise _BadItemError(f"figure {figure!r} is not a plain file name")
        stem = f"{stem}\n\n![Figure {Path(figure).stem.upper()}](media:{figure})"
        if media_dir is not None:
            media = (_figure(figure, media_dir, figures),)

    refs = item.get("refs") or ""
    if not isinstance(refs, str):
        raise _BadItemError("refs must be a text like [97.1]")

    content = QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem=stem,
        choices=choices,
        shuffle_choices=not any(_POSITIONAL.search(a) for a in answers),
    )
    return QuestionDraft(
        content=content,
        external_id=qid,
        subject=qid[:2],
        topic=qid[:3],
        law_refs=parse_refs(refs),
        source=f"NCVEC {_POOLS[qid[0]]} question pool" if qid[0] in _POOLS else None,
        media=media,
        location=location,
    )


def _key(correct: object, letter: object) -> int:
    """The key's index from `correct` and `correct_letter`, which must agree when both exist."""
    index: int | None = None
    if correct is not None:
        if isinstance(correct, bool) or not isinstance(correct, int):
            raise _BadItemError(f"correct {correct!r} is not an answer index")
        if not 0 <= correct < len(LETTERS):
            raise _BadItemError(f"correct {correct} is not an answer index (0-3)")
        index = correct
    if letter is not None and letter != "":
        if not isinstance(letter, str) or letter not in LETTERS or len(letter) != 1:
            raise _BadItemError(f"correct_letter {letter!r} is not one of A-D")
        if index is not None and LETTERS[index] != letter:
            raise _BadItemError(
                f"correct {index} (answer {LETTERS[index]}) disagrees with correct_letter {letter}"
            )
        index = LETTERS.index(letter)
    if index is None:
        raise _BadItemError("the correct answer is missing")
    return index


def _figure(name: str, media_dir: Path, cache: dict[str, Media]) -> Media:
    if name in cache:
        return cache[name]
    path = media_dir / name
    if not path.is_file():
        raise _BadItemError(f"figure {name} is not in {media_dir}")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    media = Media(filename=name, content_type=content_type, data=path.read_bytes())
    cache[name] = media
    return media


def parse_refs(refs: str) -> tuple[LawReference, ...]:
    """`[97.305(a), (c)]` → 47 CFR 97.305(a) and 97.305(c); other references are kept whole."""
    text = refs.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    found: list[LawReference] = []
    section = ""
    for raw in re.split(r"[,;]", text):
        ref = raw.strip()
        if not ref:
            continue
        if ref.startswith("(") and section:
            # "(c)" continues the section before it.
            ref = section + ref
        match = _CFR_SECTION.match(ref)
        if match:
            section = match.group()
            article = re.sub(r"\s+", "", ref)
            found.append(LawReference(law="47 CFR", article=article))
        else:
            found.append(LawReference(law=ref))
    return tuple(found)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {message}" if where else message
