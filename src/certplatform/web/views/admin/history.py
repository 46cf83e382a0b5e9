"""A question's versions, a diff between any two of them, and its workflow buttons."""

from __future__ import annotations

from difflib import SequenceMatcher

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import QuestionStatus, VersionOut
from certplatform.identity import service as identity
from certplatform.kernel.bounds import form_int
from certplatform.kernel.errors import Conflict, Invalid, NotFound
from certplatform.web import i18n
from certplatform.web.views.admin._shared import (
    N_,
    STATUSES,
    Form,
    Publisher,
    QuestionReader,
    UoW,
    admin_page,
)
from certplatform.web.views.admin.questions import MOVES, status_label
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)
DiffLine = tuple[str, str]  # (" " | "-" | "+", text)


def _num(value: float) -> str:
    return f"{value:g}"


def readable(version: VersionOut) -> list[str]:
    """A version as plain lines, for people to read and for the diff."""
    _ = i18n.gettext
    label = {
        "type": _("Type"),
        "title": _("Title"),
        "question": _("Question"),
        "choices": _("Choices"),
        "weight": _("weight"),
        "shuffle": _("Shuffle choices"),
        "answer": _("Answer"),
        "accepted": _("Accepted answers"),
        "case": _("Case sensitive"),
        "numbers": _("Accepted numbers"),
        "pairs": _("Pairs"),
        "explanation": _("Explanation"),
        "tags": _("Tags"),
        "law": _("Law"),
        "source": _("Source"),
    }
    yes, no, true, false = _("yes"), _("no"), _("True"), _("False")
    c = version.content
    lines = [f"{label['type']}: {c.type.value}"]
    if version.title:
        lines.append(f"{label['title']}: {version.title}")
    lines.append(f"{label['question']}:")
    lines += [f"  {line}" for line in c.stem.splitlines()]
    if c.choices:
        lines.append(f"{label['choices']}:")
        for ch in c.choices:
            feedback = f" — {ch.feedback}" if ch.feedback else ""
            lines.append(f"  {ch.id}. {ch.text} [{label['weight']} {_num(ch.weight)}]{feedback}")
        lines.append(f"{label['shuffle']}: {yes if c.shuffle_choices else no}")
    if c.true_false_answer is not None:
        lines.append(f"{label['answer']}: {true if c.true_false_answer else false}")
    if c.accepted_answers:
        lines.append(f"{label['accepted']}:")
        lines += [f"  {a.text} [{label['weight']} {_num(a.weight)}]" for a in c.accepted_answers]
        lines.append(f"{label['case']}: {yes if c.case_sensitive else no}")
    if c.numeric_answers:
        lines.append(f"{label['numbers']}:")
        for n in c.numeric_answers:
            if n.min is not None and n.max is not None:
                value = f"{_num(n.min)} .. {_num(n.max)}"
            else:
                value = f"{_num(n.value or 0)} ± {_num(n.tolerance)}"
            lines.append(f"  {value} [{label['weight']} {_num(n.weight)}]")
    if c.pairs:
        lines.append(f"{label['pairs']}:")
        lines += [f"  {p.left} → {p.right}" for p in c.pairs]
    if c.explanation:
        lines.append(f"{label['explanation']}:")
        lines += [f"  {line}" for line in c.explanation.splitlines()]
    if version.tags:
        lines.append(f"{label['tags']}: {', '.join(version.tags)}")
    for ref in version.law_refs:
        lines.append(f"{label['law']}: {ref.law} {ref.article}".rstrip())
    if version.source:
        lines.append(f"{label['source']}: {version.source}")
    return lines


def diff(old: list[str], new: list[str]) -> list[DiffLine]:
    """A unified diff with the whole text as context (versions are short)."""
    out: list[DiffLine] = []
    matcher = SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [(" ", line) for line in old[i1:i2]]
            continue
        out += [("-", line) for line in old[i1:i2]]
        out += [("+", line) for line in new[j1:j2]]
    return out


def _pick(value: str, numbers: list[int], default: int) -> int:
    number = form_int(value)
    return number if number in numbers else default


async def history_page(
    request: Request,
    uow: UoW,
    question_id: str,
    *,
    a: str = "",
    b: str = "",
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    question = await content.get_question(uow, question_id)
    versions = await content.question_versions(uow, question_id)
    numbers = [v.number for v in versions]
    newest = max(numbers)
    old = _pick(a, numbers, max(1, newest - 1) if newest - 1 in numbers else newest)
    new = _pick(b, numbers, newest)
    by_number = {v.number: v for v in versions}
    lines = diff(readable(by_number[old]), readable(by_number[new]))
    authors: dict[str, str] = {}
    for author_id in {v.author_id for v in versions if v.author_id}:
        try:
            user = await identity.get_user(uow, author_id)
            authors[author_id] = user.display_name or user.email
        except NotFound:
            authors[author_id] = author_id
    current = QuestionStatus(question.status)
    moves = [m for m in MOVES if QuestionStatus(m) in content.TRANSITIONS[current]]
    if question.draft_version and current is QuestionStatus.PUBLISHED:
        moves.insert(0, "published")  # publish the draft over the published version
    return admin_page(
        request,
        "versions.html",
        {
            "question": question,
            "versions": sorted(versions, key=lambda v: v.number, reverse=True),
            "old": old,
            "new": new,
            "lines": lines,
            "changed": sum(1 for kind, _ in lines if kind != " "),
            "authors": authors,
            "moves": moves,
            "notice": notice,
            "error": error,
        },
        status,
    )


@router.get("/admin/questions/{question_id}/versions", response_model=None)
async def versions(
    request: Request,
    question_id: str,
    uow: UoW,
    _: QuestionReader,
    a: str = "",
    b: str = "",
    moved: str = "",
) -> Response:
    notice = None
    if moved in STATUSES:
        notice = i18n.gettext("The question is now %(status)s.") % {"status": status_label(moved)}
    return await history_page(request, uow, question_id, a=a, b=b, notice=notice)


@router.post("/admin/questions/{question_id}/status", response_model=None)
async def move(request: Request, question_id: str, uow: UoW, principal: Publisher) -> Response:
    form = await Form.read(request)
    target = form.get("to")
    try:
        if target not in STATUSES:
            raise Invalid(N_("Choose what to do with the question."))
        await content.set_status(
            uow,
            [question_id],
            QuestionStatus(target),
            principal,
            two_person_rule=request.app.state.settings.content_two_person_rule,
        )
    except (Conflict, Invalid) as exc:
        await uow.rollback()
        return await history_page(
            request, uow, question_id, error=i18n.error_text(exc), status=exc.status_code
        )
    return redirect(f"/admin/questions/{question_id}/versions?moved={target}")
