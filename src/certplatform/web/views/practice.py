"""Pages: practice one question at a time with instant feedback, and the remediation pages
(wrong-answer note, bookmarks, review queue).

Every form works without JavaScript (POST, then a full page or a 303 back). With HTMX the
answer form and the bookmark toggle send `HX-Request` and get only the fragment to swap.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from babel.dates import format_timedelta
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import QuestionType
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Conflict, Invalid
from certplatform.kernel.settings import Settings
from certplatform.learning import service as learning
from certplatform.learning.contracts import Feedback, PracticeStart, QuestionView, ResponseIn
from certplatform.web import i18n
from certplatform.web.markdown import render as render_markdown
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, form, redirect, safe_next
from certplatform.web.views.exam import answer_text, choice_style, duration, face, key_text

router = APIRouter(include_in_schema=False)
Practice = Annotated[Principal | None, Depends(Requirement("practice", "use"))]
Remediation = Annotated[Principal | None, Depends(Requirement("remediation", "use"))]

MAX_ELAPSED_MS = 24 * 3600 * 1000
_PARAGRAPH = re.compile(r"\A<p>(.*)</p>\s*\Z", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


# ---- helpers -------------------------------------------------------------------------------


def N_(message: str) -> str:  # noqa: N802 - the gettext marker's customary name
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


R = TypeVar("R", bound=Response)


def _vary(response: R) -> R:
    """Full pages and HTMX fragments share URLs: caches must keep them apart."""
    response.headers["vary"] = "HX-Request"
    return response


def _clear_after(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.wrong_note_clear_after


def inline_markdown(text: str) -> Markup:
    """Markdown for a choice label: one paragraph loses its <p> so it fits in a <label>."""
    html = str(render_markdown(text))
    match = _PARAGRAPH.match(html)
    inner = match[1] if match and "<p>" not in match[1] else html
    return Markup(inner)  # noqa: S704 - rendered by markdown-it with raw HTML off


def excerpt(text: str, length: int = 160) -> str:
    """A plain-text opening of a question for lists (Markdown and math reduced to text)."""
    plain = html.unescape(" ".join(_TAGS.sub(" ", str(render_markdown(text))).split()))
    return plain if len(plain) <= length else plain[: length - 1].rstrip() + "…"


def _referer_path(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _grouped(items: Sequence[Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Items by certification, in the catalogue's order."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.certification, []).append(item)
    order = list(names)
    return [
        {"code": code, "name": names.get(code, code), "items": groups[code]}
        for code in sorted(groups, key=lambda c: order.index(c) if c in order else len(order))
    ]


async def _names(uow: UoW) -> dict[str, str]:
    return {c.code: c.name for c in await content.list_certifications(uow)}


# ---- practice --------------------------------------------------------------------------------


@router.get("/practice/start", response_model=None)
async def start(
    request: Request,
    uow: UoW,
    principal: Practice,
    certification: str = "",
    subject: str = "",
    topic: str = "",
    mode: str = "all",
    order: str = "sequential",
) -> Response:
    """Start a practice run and go to its first question, or explain why there is none."""
    user = signed_in(principal)
    if not certification:
        return redirect("/certifications")
    try:
        spec = PracticeStart(
            certification=certification,
            subject=subject or None,
            topic=topic or None,
            mode=mode,  # checked by the model
            order=order,
        )
    except ValidationError as exc:
        raise Invalid(N_("This practice link is not valid.")) from exc
    try:
        session = await learning.start_practice(uow, user, spec)
    except Conflict as exc:
        detail = await content.certification_detail(uow, certification)
        subject_name = next((s.name for s in detail.subjects if s.code == subject), None)
        context = {
            "cert": detail,
            "mode": spec.mode,
            "subject": subject,
            "subject_name": subject_name,
            "locked": exc.message == learning.ALL_LOCKED_MESSAGE,
        }
        return page(request, "practice/empty.html", context)
    return redirect(f"/practice/{session.id}/0")


async def _question_context(
    uow: UoW, user: Principal, session_id: str, position: int
) -> dict[str, Any]:
    shown = await learning.practice_question(uow, user, session_id, position)
    question = await content.get_question(uow, shown.question.question_id)
    detail = await content.certification_detail(uow, question.certification_code)
    subject = next((s.name for s in detail.subjects if s.code == question.subject_code), None)
    return {
        "practice": shown,
        "question": shown.question,
        "cert": detail,
        "subject": subject,
        "action": f"/practice/{session_id}/{position}/answer",
        "here": f"/practice/{session_id}/{position}",
        "shown_at": int(time.time() * 1000),
        "inline": inline_markdown,
        # Choices are labelled as on the exam screen: A–D for the FCC pools, 1–4 otherwise.
        "face": face,
        "style": choice_style(question.certification_code),
        "feedback": None,
        "error": None,
        "streak": 0,
        "review_in": "",
        "clear_after": 0,
        "next_url": f"/practice/{session_id}/{position + 1}"
        if position + 1 < shown.total
        else f"/practice/{session_id}/done",
        "bookmark_focus": False,
    }


@router.get("/practice/{session_id}/done", response_class=HTMLResponse)
async def done(request: Request, session_id: str, uow: UoW, principal: Practice) -> HTMLResponse:
    """The end of a run, reached at the last question or by stopping: what I answered, my
    score and time, and where to go next."""
    # The run's record, not its first question: that one may be locked by an exam now.
    summary = await learning.practice_summary(uow, signed_in(principal), session_id)
    detail = await content.certification_detail(uow, summary.session.certification)
    context = {
        "practice": summary.session,
        "summary": summary,
        "cert": detail,
        "wrong": sum(1 for a in summary.answers if not a.correct),
        "duration": duration,
        "answer_text": answer_text,
        "excerpt": excerpt,
    }
    return page(request, "practice/done.html", context)


@router.get("/practice/{session_id}/retry", response_model=None)
async def retry_run(request: Request, session_id: str, uow: UoW, principal: Practice) -> Response:
    """틀린 문제 다시 풀기: a new run over exactly the questions I got wrong in this one."""
    run = await learning.retry_wrong_of_run(uow, signed_in(principal), session_id)
    return redirect(f"/practice/{run.id}/0")


@router.get("/exam/{attempt_id}/practice-wrong", response_model=None)
async def retry_attempt(
    request: Request, attempt_id: str, uow: UoW, principal: Practice
) -> Response:
    """틀린 문제만 다시 풀기: practise the questions a submitted attempt got wrong."""
    run = await learning.retry_wrong_of_attempt(uow, signed_in(principal), attempt_id)
    return redirect(f"/practice/{run.id}/0")


@router.get("/practice/{session_id}/{position}", response_class=HTMLResponse)
async def question_page(
    request: Request, session_id: str, position: int, uow: UoW, principal: Practice
) -> HTMLResponse:
    context = await _question_context(uow, signed_in(principal), session_id, position)
    return page(request, "practice/question.html", context)


def _parse_answer(question: QuestionView, data: FormData) -> ResponseIn:
    """The posted form as an answer in display terms; `Invalid` when it cannot be one."""
    kind = question.type
    values: dict[str, Any] = {}
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        values["choices"] = tuple(v for v in data.getlist("choice") if isinstance(v, str))
    elif kind is QuestionType.TRUE_FALSE:
        raw = data.get("value")
        values["value"] = {"true": True, "false": False}.get(raw if isinstance(raw, str) else "")
    elif kind is QuestionType.NUMERIC:
        raw = data.get("number")
        text = raw.strip().replace(" ", "") if isinstance(raw, str) else ""
        if text:
            try:
                values["number"] = float(text)
            except ValueError as exc:
                raise Invalid(N_("Enter a number, such as 12.5.")) from exc
    elif kind is QuestionType.MATCHING:
        pairs = []
        for n, left in enumerate(question.match_left):
            right = data.get(f"match-{n}")
            if isinstance(right, str) and right:
                pairs.append((left, right))
        values["pairs"] = tuple(pairs)
    else:
        raw = data.get("text")
        values["text"] = raw if isinstance(raw, str) else None
    try:
        answer = ResponseIn.model_validate(values)
    except ValidationError as exc:
        raise Invalid(N_("Please check your answer.")) from exc
    blank = not (
        answer.choices
        or answer.value is not None
        or (answer.text or "").strip()
        or answer.number is not None
        or answer.pairs
    )
    if blank:
        raise Invalid(N_("Choose or enter an answer first."))
    return answer


def _from_now(when: datetime) -> str:
    """ "in 10 minutes", "3일 후": how far off a time is, in the page's language."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    delta = max(timedelta(minutes=1), aware - datetime.now(UTC))
    return format_timedelta(delta, add_direction=True, locale=i18n.current())


def _elapsed_ms(data: FormData) -> int:
    raw = data.get("shown_at")
    try:
        shown = int(raw) if isinstance(raw, str) else 0
    except ValueError:
        return 0
    if shown <= 0:
        return 0
    return max(0, min(MAX_ELAPSED_MS, int(time.time() * 1000) - shown))


@router.post("/practice/{session_id}/{position}/answer", response_class=HTMLResponse)
async def answer(
    request: Request, session_id: str, position: int, uow: UoW, principal: Practice
) -> HTMLResponse:
    """Grade the answer at once and show the feedback (a fragment for HTMX)."""
    user = signed_in(principal)
    data = await request.form()
    context = await _question_context(uow, user, session_id, position)
    status = 200
    feedback: Feedback | None = None
    try:
        reply = _parse_answer(context["question"], data)
        feedback = await learning.answer_practice(
            uow,
            user,
            session_id,
            position,
            reply,
            _elapsed_ms(data),
            clear_after=_clear_after(request),
        )
    except Invalid as exc:
        context["error"] = i18n.error_text(exc)
        status = 422
    if feedback is not None:
        # The note and bookmark as they are now, after this answer.
        context["practice"] = await learning.practice_question(uow, user, session_id, position)
        context["feedback"] = feedback
        context["clear_after"] = _clear_after(request)
        context["review_in"] = _from_now(feedback.next_review_at)
        if feedback.wrong_note == "kept":
            notes = await learning.wrong_notes(uow, user, context["cert"].code)
            qid = context["question"].question_id
            context["streak"] = next((n.streak for n in notes if n.question_id == qid), 0)
    if _htmx(request):
        # HTMX swaps 2xx replies only; the fragment carries its own error message.
        return _vary(page(request, "practice/_card.html", context))
    return _vary(page(request, "practice/question.html", context, status))


@router.post("/bookmarks/{question_id}", response_model=None)
async def toggle_bookmark(
    request: Request, question_id: str, uow: UoW, principal: Remediation
) -> Response:
    """Bookmark on (`on=1`) or off (`on=0`), then back where the learner was."""
    data = await form(request)
    on = data.get("on") == "1"
    await learning.set_bookmark(uow, signed_in(principal), question_id, on)
    if _htmx(request):
        context = {
            "question_id": question_id,
            "bookmarked": on,
            "here": safe_next(data.get("next"), "/bookmarks"),
            "bookmark_focus": True,
        }
        return _vary(page(request, "practice/_bookmark.html", context))
    return _vary(redirect(safe_next(data.get("next") or _referer_path(request), "/bookmarks")))


# ---- remediation -------------------------------------------------------------------------------


def _notes_url(certification: str, **extra: str) -> str:
    query = {k: v for k, v in {"certification": certification, **extra}.items() if v}
    return "/notes" + (f"?{urlencode(query)}" if query else "")


@router.get("/notes", response_class=HTMLResponse)
async def notes_page(
    request: Request,
    uow: UoW,
    principal: Remediation,
    certification: str = "",
    subject: str = "",
    saved: str = "",
    removed: str = "",
) -> HTMLResponse:
    """오답노트: the questions I got wrong, until I answer them right enough times in a row,
    with my answer, the key and the explanation; by certification and subject."""
    user = signed_in(principal)
    names = await _names(uow)
    chosen = certification if certification in names else ""
    # Subject codes are per certification, so a subject narrows a chosen certification only.
    subjects = (await content.certification_detail(uow, chosen)).subjects if chosen else []
    subject = subject if any(s.code == subject for s in subjects) else ""
    notes = await learning.wrong_note_details(uow, user, chosen or None, subject or None)
    return page(
        request,
        "remediation/notes.html",
        {
            "names": names,
            "certification": chosen,
            "subjects": subjects,
            "subject": subject,
            "subject_names": {s.code: s.name for s in subjects},
            "groups": _grouped(notes, names),
            "count": len(notes),
            "saved": saved,
            "removed": removed == "1",
            "clear_after": _clear_after(request),
            "excerpt": excerpt,
            "inline": inline_markdown,
            "answer_text": answer_text,
            "key_text": key_text,
        },
    )


@router.post("/notes/{question_id}/memo", response_model=None)
async def save_memo(
    request: Request, question_id: str, uow: UoW, principal: Remediation
) -> Response:
    data = await form(request)
    memo = data.get("memo", "").replace("\r\n", "\n")
    await learning.set_memo(uow, signed_in(principal), question_id, memo)
    certification = data.get("certification", "")
    if _htmx(request):
        context = {
            "question_id": question_id,
            "memo": memo,
            "certification": certification,
            "saved": True,
        }
        return _vary(page(request, "remediation/_memo.html", context))
    target = _notes_url(certification, saved=question_id)
    return _vary(redirect(f"{target}#note-{question_id}"))


@router.post("/notes/{question_id}/remove", response_model=None)
async def remove_note(
    request: Request, question_id: str, uow: UoW, principal: Remediation
) -> Response:
    data = await form(request)
    await learning.remove_wrong_note(uow, signed_in(principal), question_id)
    return redirect(_notes_url(data.get("certification", ""), removed="1"))


@router.get("/bookmarks", response_class=HTMLResponse)
async def bookmarks_page(
    request: Request, uow: UoW, principal: Remediation, certification: str = ""
) -> HTMLResponse:
    user = signed_in(principal)
    names = await _names(uow)
    chosen = certification if certification in names else ""
    marks = await learning.bookmarks(uow, user, chosen or None)
    return page(
        request,
        "remediation/bookmarks.html",
        {
            "names": names,
            "certification": chosen,
            "groups": _grouped(marks, names),
            "count": len(marks),
            "excerpt": excerpt,
        },
    )


REVIEW_LIST_LIMIT = 200


@router.get("/reviews", response_class=HTMLResponse)
async def reviews_page(request: Request, uow: UoW, principal: Remediation) -> HTMLResponse:
    """The FSRS review queue: what is due now, per certification."""
    user = signed_in(principal)
    names = await _names(uow)
    counts = await learning.due_counts(uow, user)
    due = await learning.due_reviews(uow, user, None, REVIEW_LIST_LIMIT)
    settings = await learning.get_settings(uow, user)
    order = list(names)
    queues = [
        {
            "code": code,
            "name": names.get(code, code),
            "count": count,
            "exam_date": settings.exam_dates.get(code),
            "cards": [card for card in due if card.certification == code],
        }
        for code, count in sorted(
            counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)
        )
        if count
    ]
    return page(
        request,
        "remediation/reviews.html",
        {
            "queues": queues,
            "total": sum(counts.values()),
            "shown": len(due),
            "retention": settings.desired_retention,
            "excerpt": excerpt,
        },
    )
