"""The question editor: new question, edit (a save is a new version), live preview, images."""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import (
    CertificationDetail,
    QuestionOut,
    QuestionType,
)
from certplatform.kernel.auth import Principal, signed_in
from certplatform.kernel.bounds import form_int
from certplatform.kernel.errors import AppError, Conflict, Invalid, NotFound
from certplatform.web import i18n
from certplatform.web.templating import env
from certplatform.web.views.admin._shared import (
    N_,
    Form,
    MediaWriter,
    QuestionWriter,
    UoW,
    admin_page,
    field_errors,
    storage,
)
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)

TYPES = tuple(t.value for t in QuestionType)
CHOICE_TYPES = ("single_choice", "multiple_response")
Row = dict[str, str]
CHOICE_FIELDS = ("id", "text", "weight", "feedback")
ANSWER_FIELDS = ("text", "weight", "feedback")
NUMBER_FIELDS = ("value", "tolerance", "min", "max", "weight", "feedback")
PAIR_FIELDS = ("left", "right")
LAW_FIELDS = ("law", "article")
# Column widths of the tables the fields end up in (the contracts leave them open).
LIMITS = {
    "external_id": 128,
    "title": 300,
    "source": 200,
    "subject": 64,
    "topic": 64,
    "note": 500,
}
ERROR_PATHS: dict[tuple[Any, ...], str] = {
    ("content",): "content",
    ("content", "type"): "type",
    ("content", "stem"): "stem",
    ("content", "explanation"): "explanation",
    ("content", "choices"): "content",
    ("content", "choices", int): "choices-{0}",
    ("content", "accepted_answers"): "content",
    ("content", "accepted_answers", int): "answers-{0}",
    ("content", "numeric_answers"): "content",
    ("content", "numeric_answers", int): "numbers-{0}",
    ("content", "pairs"): "content",
    ("content", "pairs", int): "pairs-{0}",
    ("content", "true_false_answer"): "content",
    ("law_refs", int): "laws-{0}",
    ("title",): "title",
    ("source",): "source",
    ("external_id",): "external_id",
    ("tags",): "tags",
    ("subject",): "subject",
    ("topic",): "topic",
}


def _num(value: float | None) -> str:
    """A number as the author would type it, exact enough to round-trip."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _rows(form: Form, prefix: str, fields: tuple[str, ...]) -> list[Row]:
    columns = [form.all(f"{prefix}_{name}") for name in fields]
    count = max((len(c) for c in columns), default=0)
    return [
        {
            name: (column[i] if i < len(column) else "").strip()
            for name, column in zip(fields, columns, strict=True)
        }
        for i in range(count)
    ]


def _blank(fields: tuple[str, ...]) -> Row:
    return dict.fromkeys(fields, "")


def _pad(rows: list[Row], fields: tuple[str, ...], minimum: int) -> list[Row]:
    """The rows plus blank ones: at least one, and at least `minimum` in all."""
    kept = [r for r in rows if any(r.values())]
    return kept + [_blank(fields) for _ in range(max(1, minimum - len(kept)))]


def _ids() -> Iterator[str]:
    yield from string.ascii_uppercase
    for n in itertools.count(27):
        yield f"C{n}"


@dataclass
class Editor:
    """The editor's fields exactly as typed, so that a refused save shows them again."""

    certification: str = ""
    question_id: str = ""
    external_id: str = ""
    title: str = ""
    type: str = "single_choice"
    stem: str = ""
    choices: list[Row] = field(default_factory=list)
    true_false: str = ""
    answers: list[Row] = field(default_factory=list)
    case_sensitive: bool = False
    numbers: list[Row] = field(default_factory=list)
    pairs: list[Row] = field(default_factory=list)
    shuffle: bool = True
    explanation: str = ""
    tags: str = ""
    laws: list[Row] = field(default_factory=list)
    source: str = ""
    subject: str = ""
    topic: str = ""
    note: str = ""
    expected_version: str = ""

    @classmethod
    def from_question(cls, question: QuestionOut) -> Editor:
        version = question.version
        c = version.content
        return cls(
            certification=question.certification_code,
            question_id=question.id,
            external_id=question.external_id or "",
            title=version.title or "",
            type=c.type.value,
            stem=c.stem,
            choices=[
                {
                    "id": ch.id,
                    "text": ch.text,
                    "weight": _num(ch.weight),
                    "feedback": ch.feedback or "",
                }
                for ch in c.choices
            ],
            true_false=""
            if c.true_false_answer is None
            else ("true" if c.true_false_answer else "false"),
            answers=[
                {"text": a.text, "weight": _num(a.weight), "feedback": a.feedback or ""}
                for a in c.accepted_answers
            ],
            case_sensitive=c.case_sensitive,
            numbers=[
                {
                    "value": _num(n.value),
                    "tolerance": _num(n.tolerance) if n.tolerance else "",
                    "min": _num(n.min),
                    "max": _num(n.max),
                    "weight": _num(n.weight),
                    "feedback": n.feedback or "",
                }
                for n in c.numeric_answers
            ],
            pairs=[{"left": p.left, "right": p.right} for p in c.pairs],
            shuffle=c.shuffle_choices,
            explanation=c.explanation,
            tags=", ".join(version.tags),
            laws=[{"law": r.law, "article": r.article} for r in version.law_refs],
            source=version.source or "",
            subject=question.subject_code or "",
            topic=question.topic_code or "",
            expected_version=str(version.number),
        )

    @classmethod
    def from_form(cls, form: Form) -> Editor:
        kind = form.get("type")
        return cls(
            certification=form.get("certification"),
            question_id=form.get("question_id"),
            external_id=form.get("external_id"),
            title=form.get("title"),
            type=kind if kind in TYPES else "single_choice",
            stem=form.raw("stem"),
            choices=_rows(form, "choice", CHOICE_FIELDS),
            true_false=form.get("true_false"),
            answers=_rows(form, "answer", ANSWER_FIELDS),
            case_sensitive=form.flag("case_sensitive"),
            numbers=_rows(form, "number", NUMBER_FIELDS),
            pairs=_rows(form, "pair", PAIR_FIELDS),
            shuffle=form.flag("shuffle"),
            explanation=form.raw("explanation"),
            tags=form.get("tags"),
            laws=_rows(form, "law", LAW_FIELDS),
            source=form.get("source"),
            subject=form.get("subject"),
            topic=form.get("topic"),
            note=form.get("note"),
            expected_version=form.get("expected_version"),
        )

    def padded(self) -> Editor:
        """With blank rows to fill in (the page works without script)."""
        return replace(
            self,
            choices=_pad(self.choices, CHOICE_FIELDS, 5),
            answers=_pad(self.answers, ANSWER_FIELDS, 3),
            numbers=_pad(self.numbers, NUMBER_FIELDS, 2),
            pairs=_pad(self.pairs, PAIR_FIELDS, 4),
            laws=_pad(self.laws, LAW_FIELDS, 2),
        )

    def payload(self) -> tuple[dict[str, Any], dict[str, list[int]]]:
        """The draft the service validates, and for each row group the row index of each
        item sent (blank rows are left out), to show errors at the right row."""
        rows: dict[str, list[int]] = {}

        def keep(group: str, items: list[Row]) -> list[tuple[int, Row]]:
            kept = [(i, r) for i, r in enumerate(items) if any(r.values())]
            rows[group] = [i for i, _ in kept]
            return kept

        data: dict[str, Any] = {
            "type": self.type,
            "stem": self.stem,
            "explanation": self.explanation,
            "shuffle_choices": self.shuffle,
        }
        if self.type in CHOICE_TYPES:
            used = {r["id"] for r in self.choices if r["id"]}
            free = (i for i in _ids() if i not in used)
            data["choices"] = [
                {"id": r["id"] or next(free), "text": r["text"]}
                | ({"weight": r["weight"]} if r["weight"] else {})
                | ({"feedback": r["feedback"]} if r["feedback"] else {})
                for _, r in keep("choices", self.choices)
            ]
        elif self.type == "true_false":
            data["true_false_answer"] = self.true_false or None
        elif self.type == "short_answer":
            data["case_sensitive"] = self.case_sensitive
            data["accepted_answers"] = [
                {"text": r["text"]}
                | ({"weight": r["weight"]} if r["weight"] else {})
                | ({"feedback": r["feedback"]} if r["feedback"] else {})
                for _, r in keep("answers", self.answers)
            ]
        elif self.type == "numeric":
            data["numeric_answers"] = [
                {k: v for k, v in r.items() if v} for _, r in keep("numbers", self.numbers)
            ]
        elif self.type == "matching":
            data["pairs"] = [dict(r) for _, r in keep("pairs", self.pairs)]
        draft = {
            "content": data,
            "external_id": self.external_id or None,
            "title": self.title or None,
            "subject": self.subject or None,
            "topic": self.topic or None,
            "tags": [t.strip() for t in self.tags.split(",") if t.strip()],
            "law_refs": [dict(r) for _, r in keep("laws", self.laws)],
            "source": self.source or None,
        }
        return draft, rows

    def too_long(self) -> dict[str, str]:
        errors = {
            name: i18n.gettext("At most %(n)s characters.") % {"n": limit}
            for name, limit in LIMITS.items()
            if len(getattr(self, name)) > limit
        }
        if any(len(t.strip()) > 100 for t in self.tags.split(",")):
            errors["tags"] = i18n.gettext("A tag has at most 100 characters.")
        return errors


def _errors_at_rows(exc: ValidationError, rows: dict[str, list[int]]) -> dict[str, str]:
    """Field errors keyed as the template shows them: `stem`, `choices-2`, `laws-0`..."""
    out: dict[str, str] = {}
    for key, message in field_errors(exc, ERROR_PATHS).items():
        group, _, index = key.partition("-")
        if index.isdigit() and group in rows and int(index) < len(rows[group]):
            key = f"{group}-{rows[group][int(index)]}"
        if key == "content" and "question text" in message:
            key = "stem"
        out.setdefault(key, message)
    return out


async def _detail(uow: UoW, code: str) -> CertificationDetail | None:
    if not code:
        return None
    try:
        return await content.certification_detail(uow, code)
    except NotFound:
        return None


async def editor_page(
    request: Request,
    uow: UoW,
    state: Editor,
    *,
    question: QuestionOut | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return admin_page(
        request,
        "editor.html",
        {
            "state": state.padded(),
            "question": question,
            "cert": await _detail(uow, state.certification),
            "certifications": await content.list_certifications(uow),
            "types": TYPES,
            "errors": errors or {},
            "error": error,
            "notice": notice,
        },
        status,
    )


@router.get("/admin/questions/new", response_class=HTMLResponse)
async def new_question(
    request: Request, uow: UoW, _: QuestionWriter, certification: str = ""
) -> HTMLResponse:
    state = Editor(certification=certification.strip())
    return await editor_page(request, uow, state)


async def _save(
    request: Request, uow: UoW, principal: Principal | None, question: QuestionOut | None
) -> Response:
    form = await Form.read(request)
    state = Editor.from_form(form)
    if question is not None:
        state = replace(
            state,
            certification=question.certification_code,
            question_id=question.id,
            external_id=question.external_id or "",
        )
    payload, rows = state.payload()
    errors = state.too_long()
    try:
        if not state.certification:
            errors["certification"] = i18n.gettext("Choose the certification.")
        if errors:
            raise Invalid(N_("The question is not valid."))
        draft = content.parse_draft(payload)
        if question is None:
            saved = await content.create_question(
                uow, storage(request), state.certification, draft, principal
            )
            return redirect(f"/admin/questions/{saved.id}/edit?saved={saved.version.number}")
        expected = form_int(state.expected_version)
        saved = await content.edit_question(
            uow,
            storage(request),
            question.id,
            draft,
            principal,
            note=state.note,
            expected_version=expected,
        )
    except AppError as exc:
        await uow.rollback()
        if isinstance(exc.__cause__, ValidationError):
            errors |= _errors_at_rows(exc.__cause__, rows)
        if isinstance(exc, NotFound) and question is None:
            errors["certification"] = i18n.error_text(exc)
        if isinstance(exc, Conflict) and question is None:
            errors["external_id"] = i18n.error_text(exc)
        lead = (
            i18n.gettext("The question was not saved; see the marked fields.")
            if errors
            else i18n.error_text(exc)
        )
        return await editor_page(
            request,
            uow,
            state,
            question=question,
            errors=errors,
            error=lead,
            status=exc.status_code,
        )
    assert question is not None
    changed = saved.version.number != question.version.number
    return redirect(
        f"/admin/questions/{question.id}/edit?"
        + (f"saved={saved.version.number}" if changed else "unchanged=1")
    )


@router.post("/admin/questions/new", response_model=None)
async def create_question(request: Request, uow: UoW, principal: QuestionWriter) -> Response:
    return await _save(request, uow, principal, None)


@router.get("/admin/questions/{question_id}/edit", response_class=HTMLResponse)
async def edit_question(
    request: Request,
    question_id: str,
    uow: UoW,
    _: QuestionWriter,
    saved: str = "",
    unchanged: str = "",
) -> HTMLResponse:
    question = await content.get_question(uow, question_id)
    notice = None
    if saved.isdigit():
        notice = i18n.gettext("Saved as version %(n)s.") % {"n": saved}
    elif unchanged:
        notice = i18n.gettext("Nothing changed, so no new version was made.")
    return await editor_page(
        request, uow, Editor.from_question(question), question=question, notice=notice
    )


@router.post("/admin/questions/{question_id}/edit", response_model=None)
async def save_question(
    request: Request, question_id: str, uow: UoW, principal: QuestionWriter
) -> Response:
    question = await content.get_question(uow, question_id)
    return await _save(request, uow, principal, question)


@router.post("/admin/preview", response_class=HTMLResponse)
async def preview(request: Request, _: QuestionWriter) -> HTMLResponse:
    """The stem as learners will see it (Markdown, $math$, images): an HTMX fragment."""
    form = await Form.read(request)
    html = env.get_template("admin/_preview.html").render(
        stem=form.raw("stem"), certification=form.get("certification") or None
    )
    return HTMLResponse(html)


@router.post("/admin/media", response_model=None)
async def upload_media(request: Request, uow: UoW, principal: MediaWriter) -> Response:
    """Store an image and put `![alt](media:NAME)` into the stem.

    Called by admin.js (answers JSON; the script inserts at the cursor) or, without script,
    by the editor form itself (the editor comes back with the reference at the end)."""
    signed_in(principal)
    form = await Form.read(request)
    by_script = request.headers.get("x-requested-with") == "fetch"
    state = Editor.from_form(form)
    upload = form.file("image")
    alt = form.get("image_alt").replace("]", "").replace("[", "") or "image"
    try:
        if upload is None:
            raise Invalid(N_("Choose an image to upload."))
        if not state.certification:
            raise Invalid(N_("Choose the certification first."))
        data = await upload.read(content.MAX_MEDIA + 1)
        name = await content.store_media(
            uow,
            storage(request),
            state.certification,
            upload.filename or "image",
            upload.content_type or "",
            data,
        )
    except AppError as exc:
        await uow.rollback()
        message = i18n.error_text(exc)
        if by_script:
            return JSONResponse({"error": message}, status_code=exc.status_code)
        question = await _question_or_none(uow, state.question_id)
        return await editor_page(
            request,
            uow,
            state,
            question=question,
            errors={"image": message},
            error=message,
            status=exc.status_code,
        )
    markdown = f"![{alt}](media:{name})"
    if by_script:
        return JSONResponse({"markdown": markdown, "filename": name})
    state = replace(state, stem=(state.stem.rstrip() + "\n\n" + markdown).lstrip())
    question = await _question_or_none(uow, state.question_id)
    return await editor_page(
        request,
        uow,
        state,
        question=question,
        notice=i18n.gettext("Image uploaded; its reference is at the end of the question text."),
    )


async def _question_or_none(uow: UoW, question_id: str) -> QuestionOut | None:
    if not question_id:
        return None
    try:
        return await content.get_question(uow, question_id)
    except NotFound:
        return None
