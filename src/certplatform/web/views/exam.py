"""Pages: the CBT mock exam — start, the exam screen, the no-script submit, result, review.

The exam screen renders every question on the server (it works without JavaScript: the whole
paper is one form posted to `/exam/{id}/submit`); `static/js/exam.js` enhances it with
autosave through the REST API, the countdown, the answer sheet and the dialogs.
"""

from __future__ import annotations

import math
import secrets
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request

from certplatform.analytics import dashboard as analytics_board
from certplatform.content import service as content
from certplatform.content.contracts import QuestionType
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Conflict, Invalid, NotFound
from certplatform.kernel.settings import Settings
from certplatform.learning import service as learning
from certplatform.learning.contracts import (
    AttemptItemView,
    AttemptResult,
    AttemptView,
    ResponseIn,
    SaveAnswer,
)
from certplatform.web import i18n
from certplatform.web.i18n import N_
from certplatform.web.markdown import render as render_markdown
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, form, redirect

router = APIRouter(include_in_schema=False)
Exam = Annotated[Principal | None, Depends(Requirement("attempt", "use"))]

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
# Messages exam.js shows; translated here and handed over as data-msg-* attributes.
SCRIPT_MESSAGES = {
    "saved": N_("Saved"),
    "saving": N_("Saving…"),
    "queued": N_("Offline: waiting to be sent"),
    "failed": N_("Not saved"),
    "all-saved": N_("All answers saved"),
    "offline": N_(
        "Offline. Answers waiting: {n}. They stay on this device and are sent once you are online."
    ),
    "session": N_(
        "Your sign-in has ended. Sign in again, then reload this page: your answers are kept here."
    ),
    "hours-left": N_("{h} h {m} min left"),
    "minutes-left": N_("{m} min left"),
    "under-minute": N_("Less than a minute left"),
    "time-up": N_("Time is up. Submitting your answers…"),
    "answered": N_("answered"),
    "unanswered": N_("unanswered"),
    "flagged": N_("flagged for review"),
    "question": N_("Question {n}"),
    "first": N_("This is the first question."),
    "last": N_("This is the last question."),
    "none-unanswered": N_("Every question has an answer."),
    "unanswered-count": N_("Questions without an answer: {n}"),
    "none-flagged": N_("No question is flagged for review."),
    "pending": N_("Answers not saved yet: {n}. Check your connection and try again."),
    "submit-failed": N_("The answers could not be submitted. Try again."),
    "section-closed": N_("Time is up for this section; its answers are final."),
    "bad-number": N_("Enter a number, for example 12.5"),
    "error": N_("Error"),
}


LETTERS = "ABCDEFGHIJKLMNOPQRST"
# Certifications whose pools label choices A, B, C, D (the FCC question pools); every other
# one shows ①②③④ as Korean answer sheets do. Answers stay "1".."n" on the wire either way.
LETTER_LABELS = ("US-FCC",)


def choice_style(certification: str) -> str:
    """ "letter" (A–D) or "circled" (①–④): how this certification's choices are shown."""
    return "letter" if certification.upper().startswith(LETTER_LABELS) else "circled"


def mark(label: str, style: str = "circled") -> str:
    """A choice label as text: ①…⑳ (Korean answer sheets) or A…T; "21." beyond that."""
    n = int(label) if label.isdigit() else 0
    marks = LETTERS if style == "letter" else CIRCLED
    return marks[n - 1] if 1 <= n <= len(marks) else f"{label}."


def face(label: str, style: str = "circled") -> str:
    """What is printed inside a round choice bubble: "1" (the circle makes it ①) or "A"."""
    n = int(label) if label.isdigit() else 0
    return LETTERS[n - 1] if style == "letter" and 1 <= n <= len(LETTERS) else label


def inline_markdown(text: str, certification: str | None = None) -> Markup:
    """A choice's text as inline HTML: a lone paragraph loses its <p> so it fits a label."""
    html = str(render_markdown(text, certification)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)  # noqa: S704 - markdown-it escapes text; raw HTML is disabled


def clock(seconds: float) -> str:
    """59:59 or 1:59:59 (the countdown's visible text)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def time_left(seconds: float) -> str:
    """The timer's text alternative, to the minute (what a screen reader reads)."""
    if seconds < 60:
        return i18n.gettext(SCRIPT_MESSAGES["under-minute"])
    hours, minutes = divmod(int(seconds // 60), 60)
    if hours:
        return i18n.gettext(SCRIPT_MESSAGES["hours-left"]).format(h=hours, m=minutes)
    return i18n.gettext(SCRIPT_MESSAGES["minutes-left"]).format(m=minutes)


def duration(ms: int) -> str:
    seconds = round(ms / 1000)
    minutes, secs = divmod(seconds, 60)
    if minutes:
        return i18n.gettext("{m} min {s} s").format(m=minutes, s=secs)
    return i18n.gettext("{s} s").format(s=secs)


def fit(text: str, width: float) -> str:
    """Shorten a label to about `width` em (wide Hangul/CJK count 1, others 0.55)."""
    used, out = 0.0, list[str]()
    for ch in text:
        used += 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55
        if used > width:
            return "".join(out).rstrip() + "…"
        out.append(ch)
    return text


def _sections(view: AttemptView) -> list[dict[str, Any]]:
    """The attempt's sections in order, each with its items and (if any) its own clock."""
    groups: list[dict[str, Any]] = [
        {"code": s.code, "name": s.name, "remaining": s.remaining_seconds, "items": []}
        for s in view.sections
    ]
    by_code = {g["code"]: g for g in groups}
    for item in view.items:
        group = by_code.get(item.section_code)
        if group is None:
            group = {"code": item.section_code, "name": item.section_code, "remaining": None}
            group["items"] = []
            by_code[item.section_code] = group
            groups.append(group)
        group["items"].append(item)
    return [g for g in groups if g["items"]]


def _elapsed_ms(view: AttemptView) -> int:
    return max(0, int((view.server_time - view.started_at).total_seconds() * 1000))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/exam/start")
async def start(request: Request, uow: UoW, principal: Exam) -> RedirectResponse:
    data = await form(request)
    view = await learning.start_attempt(
        uow,
        signed_in(principal),
        blueprint_id=data.get("blueprint_id") or None,
        paper_id=data.get("paper_id") or None,
    )
    return redirect(f"/exam/{view.id}")


# The steps before the clock starts, in Q-Net's order: 수험자 정보 확인 → 안내사항 → 유의사항 →
# 문제풀이 메뉴 설명 → 문제풀이 연습 → 시험 준비 완료. They run before the attempt exists, so
# no exam time passes while a candidate reads them; "Start exam" on the last one creates it.
STEPS = (
    ("info", N_("Candidate details")),
    ("guide", N_("Exam instructions")),
    ("rules", N_("Exam rules")),
    ("menu", N_("The exam screen")),
    ("practice", N_("Practice question")),
    ("ready", N_("Ready to start")),
)
# The practice step's question: made up, never graded or stored, so it holds no key.
SAMPLE_STEM = N_("Practice: which of these numbers is even?")
SAMPLE_CHOICES = ("3", "5", "8", "11")


async def _form_facts(uow: UoW, kind: str, form_id: str) -> dict[str, Any]:
    """What the steps show about the exam to be sat (no question ids, nothing drawn)."""
    if kind == "blueprint":
        bp = await content.get_blueprint(uow, form_id)
        facts: dict[str, Any] = {
            "name": bp.name,
            "certification": bp.certification_code,
            "questions": sum(s.question_count for s in bp.sections),
            "minutes": bp.time_limit_minutes,
            "calculator": bp.calculator,
            # Mock exams drawn from a blueprint are practice: the steps may be skipped.
            "skippable": True,
            "field": "blueprint_id",
        }
    elif kind == "paper":
        paper = await content.past_paper_summary(uow, form_id)
        facts = {
            "name": paper.name,
            "certification": paper.certification_code,
            "questions": paper.question_count,
            "minutes": paper.time_limit_minutes,
            "calculator": False,  # as `learning.start_attempt` freezes it for papers
            # A past paper is sat as on the day: the whole walk-through, as at Q-Net.
            "skippable": False,
            "field": "paper_id",
        }
    else:
        raise NotFound("No such exam form.")
    cert = await content.certification_detail(uow, facts["certification"])
    return facts | {"kind": kind, "id": form_id, "certification_name": cert.name}


@router.get("/exam/prepare/{kind}/{form_id}/{step}", response_class=HTMLResponse)
async def prepare(
    request: Request, kind: str, form_id: str, step: str, uow: UoW, principal: Exam
) -> Response:
    signed_in(principal)
    names = [name for name, _ in STEPS]
    if step not in names:
        raise NotFound("No such step before the exam.")
    exam = await _form_facts(uow, kind, form_id)
    index = names.index(step)
    base = f"/exam/prepare/{kind}/{form_id}"
    style = choice_style(exam["certification"])
    context = {
        "exam": exam,
        "steps": [
            {"name": name, "title": i18n.gettext(title), "url": f"{base}/{name}"}
            for name, title in STEPS
        ],
        "step": step,
        "index": index,
        "prev_url": f"{base}/{names[index - 1]}" if index else None,
        "next_url": f"{base}/{names[index + 1]}" if index + 1 < len(names) else None,
        "sample": {
            "stem": i18n.gettext(SAMPLE_STEM),
            "choices": [(str(n), text) for n, text in enumerate(SAMPLE_CHOICES, 1)],
        },
        "style": style,
        "mark": mark,
        "face": face,
    }
    return page(request, "exam/prepare.html", context)


@router.get("/exam/{attempt_id}", response_class=HTMLResponse)
async def exam_screen(request: Request, attempt_id: str, uow: UoW, principal: Exam) -> Response:
    view = await learning.attempt_view(uow, signed_in(principal), attempt_id)
    if view.status != "open":
        return redirect(f"/exam/{attempt_id}/result")
    context = {
        "view": view,
        "sections": _sections(view),
        "elapsed_ms": _elapsed_ms(view),
        "messages": {k: i18n.gettext(v) for k, v in SCRIPT_MESSAGES.items()},
        "clock": clock,
        "time_left": time_left,
        "mark": mark,
        "face": face,
        "style": choice_style(view.certification),
        "inline": inline_markdown,
        "Q": QuestionType,
    }
    response = page(request, "exam/exam.html", context)
    # The countdown starts from the server's remaining time in this HTML: never reuse it.
    response.headers["cache-control"] = "no-store"
    return response


def _answer_from_form(item: AttemptItemView, data: FormData) -> ResponseIn | None:
    """What the no-script form says for one question; None when it cannot be read."""
    name = f"a{item.position}"
    q = item.question
    if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        labels = {c.label for c in q.choices}
        chosen = [v for v in data.getlist(name) if isinstance(v, str) and v in labels]
        return ResponseIn(choices=tuple(dict.fromkeys(chosen)))
    raw = data.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if q.type is QuestionType.TRUE_FALSE:
        return ResponseIn(value={"true": True, "false": False}.get(value))
    if q.type in (QuestionType.SHORT_ANSWER, QuestionType.ESSAY):
        return ResponseIn(text=value or None)
    if q.type is QuestionType.NUMERIC:
        if not value:
            return ResponseIn()
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None
        return ResponseIn(number=number) if math.isfinite(number) else None
    if q.type is QuestionType.MATCHING:
        pairs = []
        for n, left in enumerate(q.match_left):
            right = data.get(f"{name}:{n}")
            if isinstance(right, str) and right in q.match_right:
                pairs.append((left, right))
        return ResponseIn(pairs=tuple(pairs))
    return None


def _comparable(answer: ResponseIn | None) -> dict[str, Any]:
    if answer is None:
        return {}
    data = answer.model_dump(exclude_defaults=True)
    if "choices" in data:
        data["choices"] = sorted(data["choices"])
    if data.get("text") is not None and not str(data["text"]).strip():
        del data["text"]
    return data


async def _save_form(
    uow: UoW, principal: Principal, view: AttemptView, data: FormData, grace: float
) -> None:
    """Store what the no-script form changed; the attempt's newest operation wins, so the
    sequence number is the server's milliseconds since the start (as exam.js uses)."""
    seq = _elapsed_ms(view) + 1
    for item in view.items:
        answer = _answer_from_form(item, data)
        flagged = data.get(f"f{item.position}") == "1"
        changed = answer is not None and _comparable(answer) != _comparable(item.answer)
        if not changed and flagged == item.flagged:
            continue
        op = SaveAnswer(
            op_id=f"form-{secrets.token_hex(12)}",
            op_seq=seq,
            answer=answer if changed else None,
            flagged=flagged if flagged != item.flagged else None,
        )
        try:
            await learning.save_answer(
                uow, principal, view.id, item.position, op, grace_seconds=grace
            )
        except Conflict:
            return  # time is up: the answers already saved are the ones that count
        except Invalid:
            continue


@router.post("/exam/{attempt_id}/submit")
async def submit(request: Request, attempt_id: str, uow: UoW, principal: Exam) -> RedirectResponse:
    user = signed_in(principal)
    settings = _settings(request)
    view = await learning.attempt_view(uow, user, attempt_id)
    if view.status == "open":
        await learning.hold_for_submit(uow, attempt_id)
        await _save_form(uow, user, view, await request.form(), settings.answer_grace_seconds)
    await learning.submit_attempt(
        uow, user, attempt_id, clear_after=settings.wrong_note_clear_after
    )
    return redirect(f"/exam/{attempt_id}/result")


def _headline(result: AttemptResult) -> dict[str, Any]:
    """The overall mark in the terms of the pass rule (count, average or percent)."""
    rule = result.pass_rule
    mode = rule.get("mode", "percent")
    if mode == "count":
        return {"mode": mode, "value": result.correct_count, "of": result.question_count}
    if mode == "section_average":
        return {"mode": mode, "value": result.section_average, "of": 100}
    return {"mode": mode, "value": result.percent, "of": 100}


def _chart(result: AttemptResult) -> dict[str, Any]:
    """Geometry of the score chart, in SVG user units (the page sets no sizes in CSS): one
    bar per subject against the floor (과락), then the overall mark against the pass mark."""
    width, track, row, top, bar = 360, 296, 44, 4, 15
    rule = result.pass_rule
    floor = rule.get("section_floor")

    def x(percent: float) -> float:
        return round(track * max(0.0, min(100.0, float(percent))) / 100, 1)

    rows = []
    for n, s in enumerate(result.sections):
        y = top + n * row
        rows.append(
            {
                "label": fit(s.name, 19),
                "label_y": y + 15,
                "bar_y": y + 21,
                "bar_w": x(s.percent),
                "value": _number(s.percent),
                "below": s.below_floor,
            }
        )
    sections_end = top + len(rows) * row
    mode = rule.get("mode", "percent")
    threshold = float(rule.get("threshold", 0))
    total: dict[str, Any]
    if mode == "count":
        share = 100 * result.correct_count / max(1, result.question_count)
        short = result.correct_count < threshold
        total = {
            "label": i18n.gettext("Correct answers"),
            "value": f"{result.correct_count}/{result.question_count}",
            "bar_w": x(share),
            "line_x": x(100 * threshold / max(1, result.question_count)),
            "line": _number(threshold),
        }
    else:
        value = result.section_average if mode == "section_average" else result.percent
        short = value < threshold
        total = {
            "label": i18n.gettext("Average")
            if mode == "section_average"
            else i18n.gettext("Total"),
            "value": _number(value),
            "bar_w": x(value),
            "line_x": x(threshold),
            "line": _number(threshold),
        }
    y = sections_end + 14
    total |= {"label_y": y + 15, "bar_y": y + 21, "below": short}
    height = y + row + 26
    return {
        "width": width,
        "track": track,
        "height": height,
        "bar_h": bar,
        "rows": rows,
        "total": total,
        "sections_end": sections_end,
        "floor": _number(floor) if floor is not None else None,
        "floor_x": x(floor) if floor is not None else None,
        "axis_y": y + row + 22,
        "ticks": [(t, x(t)) for t in (0, 20, 40, 60, 80, 100)],
    }


def _number(value: float) -> str:
    """Scores to one decimal place, without a trailing .0 (33.3, 80)."""
    return f"{value:.1f}".removesuffix(".0")


@router.get("/exam/{attempt_id}/result", response_class=HTMLResponse)
async def result_page(request: Request, attempt_id: str, uow: UoW, principal: Exam) -> Response:
    user = signed_in(principal)
    try:
        result = await learning.attempt_result(uow, user, attempt_id)
    except Conflict:
        return redirect(f"/exam/{attempt_id}")  # still open: back to the exam
    context = {
        "regrades": await analytics_board.regrade_notices(uow, user.user_id, attempt_id),
        "result": result,
        "headline": _headline(result),
        "chart": _chart(result),
        "reasons": result.reasons_en if i18n.current() == "en" else result.reasons,
        "score": _number,
    }
    return page(request, "exam/result.html", context)


def key_text(key: dict[str, Any]) -> str:
    """The key of a question without choices, as text for the review page."""
    kind = key.get("type")
    if kind == "true_false":
        return i18n.gettext("True") if key.get("answer") else i18n.gettext("False")
    if kind == "short_answer":
        return " / ".join(a["text"] for a in key.get("accepted", []) if a.get("weight", 1) >= 1)
    if kind == "numeric":
        parts = []
        for a in key.get("accepted", []):
            if a.get("value") is None:
                parts.append(f"{a['min']:g} – {a['max']:g}")
            elif a.get("tolerance"):
                parts.append(f"{a['value']:g} ± {a['tolerance']:g}")
            else:
                parts.append(f"{a['value']:g}")
        return " / ".join(parts)
    if kind == "matching":
        return "; ".join(f"{left} → {right}" for left, right in key.get("pairs", []))
    return i18n.gettext("Graded by a person")


def answer_text(answer: ResponseIn | None) -> str:
    if answer is None:
        return ""
    if answer.value is not None:
        return i18n.gettext("True") if answer.value else i18n.gettext("False")
    if answer.number is not None:
        return f"{answer.number:g}"
    if answer.pairs:
        return "; ".join(f"{left} → {right}" for left, right in answer.pairs)
    return answer.text or ""


@router.get("/exam/{attempt_id}/review", response_class=HTMLResponse)
async def review_page(request: Request, attempt_id: str, uow: UoW, principal: Exam) -> Response:
    try:
        review = await learning.attempt_review(uow, signed_in(principal), attempt_id)
    except Conflict:
        return redirect(f"/exam/{attempt_id}")
    names = {s.code: s.name for s in review.result.sections}
    context = {
        "review": review,
        "result": review.result,
        "names": names,
        "wrong": [i.position for i in review.items if not i.correct and i.answer is not None],
        "blank": [i.position for i in review.items if i.answer is None],
        "flipped": [i.position for i in review.items if i.right_to_wrong],
        "mark": mark,
        "face": face,
        "style": choice_style(review.result.certification),
        "inline": inline_markdown,
        "duration": duration,
        "key_text": key_text,
        "answer_text": answer_text,
        "Q": QuestionType,
    }
    return page(request, "exam/review.html", context)
