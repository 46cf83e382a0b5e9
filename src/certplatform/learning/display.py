"""What a learner sees of a question, and the mapping between display keys and choices.

Choices are shown under keys "1".."n" in a per-attempt order; the server maps them back to
the choice ids, so neither the order nor the ids tell anything about the key.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict

from certplatform.content.contracts import QuestionContent, QuestionType, VersionOut
from certplatform.learning.contracts import ChoiceView, QuestionView, ResponseIn
from certplatform.learning.grading import InvalidResponse, Response

_MEDIA = re.compile(r"\(media:([^)\s]+)\)")
CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE)


def media_url(certification: str, stem: str) -> str:
    return _MEDIA.sub(lambda m: f"(/api/v1/certifications/{certification}/media/{m[1]})", stem)


def display_order(content: QuestionContent, rng: random.Random | None) -> list[str]:
    """Choice ids (or matching right sides) in the order to show; shuffled when allowed."""
    if content.type in CHOICE_TYPES:
        order = [c.id for c in content.choices]
    elif content.type is QuestionType.MATCHING:
        order = sorted({p.right for p in content.pairs})
    else:
        return []
    if rng is not None and content.shuffle_choices:
        rng.shuffle(order)
    return order


# Views are immutable and depend only on (version, order, certification, subject): there are
# at most a few orders per question, so one view serves every learner who sees it that way.
# Building them (pydantic models for each choice) was most of an attempt view's CPU.
_VIEWS: OrderedDict[tuple[str, tuple[str, ...], str, str | None], QuestionView] = OrderedDict()
_VIEWS_SIZE = 50_000


def view(
    version: VersionOut, order: list[str], certification: str, subject: str | None = None
) -> QuestionView:
    key = (version.id, tuple(order), certification, subject)
    cached = _VIEWS.get(key)
    if cached is not None:
        return cached
    content = version.content
    text = {c.id: c.text for c in content.choices}
    built = QuestionView(
        question_id=version.question_id,
        type=content.type,
        stem=media_url(certification, content.stem),
        choices=tuple(ChoiceView(label=str(n), text=text[cid]) for n, cid in enumerate(order, 1))
        if content.type in CHOICE_TYPES
        else (),
        match_left=tuple(dict.fromkeys(p.left for p in content.pairs)),
        match_right=tuple(order) if content.type is QuestionType.MATCHING else (),
        subject_code=subject,
    )
    _VIEWS[key] = built
    if len(_VIEWS) > _VIEWS_SIZE:
        _VIEWS.popitem(last=False)
    return built


def to_internal(content: QuestionContent, order: list[str], answer: ResponseIn) -> Response:
    """Map a displayed answer to the stored response; unknown keys are refused."""
    choice_ids: list[str] = []
    for key in answer.choices:
        if not key.isdigit() or not 1 <= int(key) <= len(order) or content.type not in CHOICE_TYPES:
            raise InvalidResponse(f"'{key}' is not one of the choices")
        choice_ids.append(order[int(key) - 1])
    return Response(
        choice_ids=tuple(choice_ids),
        value=answer.value,
        text=answer.text,
        number=answer.number,
        pairs=answer.pairs,
    )


def to_display(content: QuestionContent, order: list[str], response: Response) -> ResponseIn:
    position = {cid: str(n) for n, cid in enumerate(order, 1)}
    return ResponseIn(
        choices=tuple(position[c] for c in response.choice_ids if c in position),
        value=response.value,
        text=response.text,
        number=response.number,
        pairs=response.pairs,
    )


def key_display(content: QuestionContent, order: list[str]) -> tuple[str, ...]:
    """The display keys of the correct choices (for review screens, after submission)."""
    if content.type not in CHOICE_TYPES:
        return ()
    correct = {c.id for c in content.choices if c.weight > 0}
    return tuple(str(n) for n, cid in enumerate(order, 1) if cid in correct)


_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
# Choices named in an explanation: circled numerals anywhere (the convention of Korean
# exams), and plain numbers only where the words say a choice is meant ("보기 3", "3번 보기",
# "정답은 3번"): a bare "3번" is as often a bucket, a row or a step.
_CHOICE_REFERENCE = re.compile(
    r"(?P<circled>[①-⑩])"
    r"|(?P<pre>보기\s*)(?P<n1>[1-9])(?!\d)"
    r"|(?<!\d)(?P<n2>[1-9])(?P<post>번\s*보기)"
    r"|(?P<answer>정답은\s*)(?P<n3>[1-9])(?P<bun>번)"
)


def explanation(content: QuestionContent, order: list[str]) -> str:
    """The explanation with its choice numbers as this learner saw them.

    Authors number choices in the stored order; a shuffled attempt shows them in another,
    so "③은 옳지 않다" must name the position where that choice appeared."""
    text = content.explanation
    if content.type not in CHOICE_TYPES or not order:
        return text
    shown = {cid: n for n, cid in enumerate(order, 1)}
    moved = {n: shown[c.id] for n, c in enumerate(content.choices, 1) if shown.get(c.id, n) != n}
    if not moved:
        return text

    def renumber(match: re.Match[str]) -> str:
        if match["circled"]:
            n = _CIRCLED.index(match["circled"]) + 1
            return _CIRCLED[moved[n] - 1] if n in moved else match[0]
        for group, before, after in (
            ("n1", "pre", None),
            ("n2", None, "post"),
            ("n3", "answer", "bun"),
        ):
            if match[group]:
                n = int(match[group])
                new = str(moved.get(n, n))
                return (match[before] if before else "") + new + (match[after] if after else "")
        return match[0]

    return _CHOICE_REFERENCE.sub(renumber, text)
