"""Exam forms: blueprints (with their coverage by published questions) and past papers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import (
    BlueprintOut,
    BlueprintSpec,
    CertificationDetail,
    CoverageRow,
    PassMode,
    PastPaperOut,
    PastPaperSpec,
)
from certplatform.kernel.errors import N_, AppError, Invalid, NotFound
from certplatform.web import i18n
from certplatform.web.views.admin._shared import (
    Form,
    FormReader,
    FormWriter,
    UoW,
    admin_page,
    field_errors,
    query,
)
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)
Row = dict[str, str]
SECTION_FIELDS = ("code", "name", "subject", "topics", "draw", "count", "points", "minutes")
PASS_MODES = tuple(m.value for m in PassMode)
DRAWS = ("count", "one_per_topic")
BLUEPRINT_ERRORS: dict[tuple[Any, ...], str] = {
    ("code",): "code",
    ("name",): "name",
    ("time_limit_minutes",): "minutes",
    ("pass_rule",): "threshold",
    ("pass_rule", "mode"): "mode",
    ("pass_rule", "threshold"): "threshold",
    ("pass_rule", "section_floor"): "floor",
    ("sections",): "sections",
    ("sections", int): "sections-{0}",
}
PAPER_ERRORS: dict[tuple[Any, ...], str] = {
    ("code",): "code",
    ("name",): "name",
    ("source",): "source",
    ("time_limit_minutes",): "minutes",
    ("pass_rule",): "threshold",
    ("pass_rule", "mode"): "mode",
    ("pass_rule", "threshold"): "threshold",
    ("pass_rule", "section_floor"): "floor",
    ("items",): "items",
}


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _codes(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,]+", text) if c]


def _rule(mode: str, threshold: str, floor: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"mode": mode}
    if threshold:
        rule["threshold"] = threshold
    if floor:
        rule["section_floor"] = floor
    return rule


async def _detail(uow: UoW, code: str) -> CertificationDetail | None:
    try:
        return await content.certification_detail(uow, code) if code else None
    except NotFound:
        return None


# ---- the list ----------------------------------------------------------------------------


@router.get("/admin/blueprints", response_class=HTMLResponse)
async def blueprints(
    request: Request, uow: UoW, _: FormReader, certification: str = "", saved: str = ""
) -> HTMLResponse:
    certifications = await content.list_certifications(uow)
    code = certification.strip() or (certifications[0].code if certifications else "")
    detail = await _detail(uow, code)
    forms: list[tuple[BlueprintOut, dict[str, CoverageRow]]] = []
    papers: list[PastPaperOut] = []
    if detail is not None:
        for bp in await content.blueprints(uow, detail.code):
            rows = {row.section_code: row for row in await content.coverage(uow, bp.id)}
            forms.append((bp, rows))
        papers = await content.past_papers(uow, detail.code)
    notice = i18n.gettext("Saved %(code)s.") % {"code": saved[:64]} if saved else None
    return admin_page(
        request,
        "blueprints.html",
        {
            "certifications": certifications,
            "cert": detail,
            "code": code,
            "forms": forms,
            "papers": papers,
            "notice": notice,
            "error": None
            if detail or not code
            else i18n.gettext("No certification with code '%(code)s'.") % {"code": code},
        },
        200 if detail or not code else 404,
    )


# ---- the blueprint editor ------------------------------------------------------------------


@dataclass
class BlueprintForm:
    certification: str = ""
    code: str = ""
    name: str = ""
    minutes: str = "60"
    shuffle_questions: bool = True
    shuffle_choices: bool = True
    calculator: bool = False
    mode: str = "percent"
    threshold: str = "60"
    floor: str = ""
    sections: list[Row] = field(default_factory=list)

    @classmethod
    def of(cls, bp: BlueprintOut) -> BlueprintForm:
        return cls(
            certification=bp.certification_code,
            code=bp.code,
            name=bp.name,
            minutes=str(bp.time_limit_minutes),
            shuffle_questions=bp.shuffle_questions,
            shuffle_choices=bp.shuffle_choices,
            calculator=bp.calculator,
            mode=bp.pass_rule.mode.value,
            threshold=_num(bp.pass_rule.threshold),
            floor=_num(bp.pass_rule.section_floor),
            sections=[
                {
                    "code": s.code,
                    "name": s.name,
                    "subject": s.subject_code or "",
                    "topics": ", ".join(s.topic_codes),
                    "draw": s.draw,
                    "count": str(s.question_count),
                    "points": _num(s.points_per_question),
                    "minutes": str(s.time_limit_minutes or ""),
                }
                for s in bp.sections
            ],
        )

    @classmethod
    def from_form(cls, form: Form) -> BlueprintForm:
        columns = [form.all(f"section_{name}") for name in SECTION_FIELDS]
        count = max(len(c) for c in columns)
        sections = [
            {
                name: (column[i] if i < len(column) else "").strip()
                for name, column in zip(SECTION_FIELDS, columns, strict=True)
            }
            for i in range(count)
        ]
        return cls(
            certification=form.get("certification"),
            code=form.get("code"),
            name=form.get("name"),
            minutes=form.get("minutes"),
            shuffle_questions=form.flag("shuffle_questions"),
            shuffle_choices=form.flag("shuffle_choices"),
            calculator=form.flag("calculator"),
            mode=form.get("mode") if form.get("mode") in PASS_MODES else "percent",
            threshold=form.get("threshold"),
            floor=form.get("floor"),
            sections=sections,
        )

    def _filled(self) -> list[tuple[int, Row]]:
        # A row counts once it has a code, a name or a count; the draw mode alone is not enough
        return [(i, s) for i, s in enumerate(self.sections) if s["code"] or s["name"] or s["count"]]

    def padded(self) -> BlueprintForm:
        kept = [s for _, s in self._filled()]
        blank = dict.fromkeys(SECTION_FIELDS, "") | {"draw": "count", "points": "1"}
        extra = max(1, 3 - len(kept))
        return replace(self, sections=kept + [dict(blank) for _ in range(extra)])

    def spec(self) -> tuple[dict[str, Any], list[int]]:
        filled = self._filled()
        sections = []
        for _, s in filled:
            section: dict[str, Any] = {
                "code": s["code"],
                "name": s["name"] or s["code"],
                "subject_code": s["subject"] or None,
                "topic_codes": _codes(s["topics"]),
                "draw": s["draw"] if s["draw"] in DRAWS else "count",
                "question_count": s["count"],
            }
            if s["points"]:
                section["points_per_question"] = s["points"]
            if s["minutes"]:
                section["time_limit_minutes"] = s["minutes"]
            sections.append(section)
        spec = {
            "code": self.code,
            "name": self.name,
            "time_limit_minutes": self.minutes,
            "shuffle_questions": self.shuffle_questions,
            "shuffle_choices": self.shuffle_choices,
            "calculator": self.calculator,
            "pass_rule": _rule(self.mode, self.threshold, self.floor),
            "sections": sections,
        }
        return spec, [i for i, _ in filled]


async def _blueprint_page(
    request: Request,
    uow: UoW,
    state: BlueprintForm,
    *,
    existing: bool,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return admin_page(
        request,
        "blueprint_edit.html",
        {
            "state": state.padded(),
            "existing": existing,
            "cert": await _detail(uow, state.certification),
            "modes": PASS_MODES,
            "draws": DRAWS,
            "errors": errors or {},
            "error": error,
        },
        status,
    )


@router.get("/admin/blueprints/edit", response_class=HTMLResponse)
async def edit_blueprint(
    request: Request, uow: UoW, _: FormWriter, certification: str = "", code: str = ""
) -> HTMLResponse:
    cert = await content.certification_detail(uow, certification.strip())
    found = next((b for b in await content.blueprints(uow, cert.code) if b.code == code), None)
    state = BlueprintForm.of(found) if found else BlueprintForm(certification=cert.code)
    return await _blueprint_page(request, uow, state, existing=found is not None)


@router.post("/admin/blueprints/edit", response_model=None)
async def save_blueprint(request: Request, uow: UoW, principal: FormWriter) -> Response:
    form = await Form.read(request)
    state = BlueprintForm.from_form(form)
    existing = form.flag("existing")
    data, rows = state.spec()
    try:
        try:
            spec = BlueprintSpec.model_validate(data)
        except ValidationError as exc:
            errors = field_errors(exc, BLUEPRINT_ERRORS)
            for key in [k for k in errors if k.startswith("sections-")]:
                index = int(key.removeprefix("sections-"))
                if index < len(rows):
                    errors[f"sections-{rows[index]}"] = errors.pop(key)
            message = i18n.gettext("The blueprint was not saved; see the marked fields.")
            if "form" in errors:
                message = errors.pop("form")
            return await _blueprint_page(
                request, uow, state, existing=existing, errors=errors, error=message, status=422
            )
        await content.save_blueprint(uow, state.certification, spec, principal)
    except AppError as exc:
        await uow.rollback()
        return await _blueprint_page(
            request,
            uow,
            state,
            existing=existing,
            error=i18n.error_text(exc),
            status=exc.status_code,
        )
    return redirect(
        "/admin/blueprints?" + query(certification=state.certification, saved=state.code)
    )


# ---- the past-paper editor (minimal) -------------------------------------------------------


@dataclass
class PaperForm:
    certification: str = ""
    code: str = ""
    name: str = ""
    source: str = ""
    minutes: str = "60"
    mode: str = "percent"
    threshold: str = "60"
    floor: str = ""
    items: str = ""

    @classmethod
    def from_form(cls, form: Form) -> PaperForm:
        return cls(
            certification=form.get("certification"),
            code=form.get("code"),
            name=form.get("name"),
            source=form.get("source"),
            minutes=form.get("minutes"),
            mode=form.get("mode") if form.get("mode") in PASS_MODES else "percent",
            threshold=form.get("threshold"),
            floor=form.get("floor"),
            items=form.raw("items"),
        )


async def _paper_state(uow: UoW, paper: PastPaperOut) -> PaperForm:
    questions = {
        q.id: q for q in await content.get_questions(uow, [i.question_id for i in paper.items])
    }
    lines = []
    for item in paper.items:
        found = questions.get(item.question_id)
        ref = (found.external_id if found else None) or item.question_id
        lines.append(f"{ref}, {item.section_code}, {item.section_name}, {_num(item.points)}")
    rule = paper.pass_rule
    return PaperForm(
        certification=paper.certification_code,
        code=paper.code,
        name=paper.name,
        source=paper.source or "",
        minutes=str(paper.time_limit_minutes),
        mode=rule.mode.value,
        threshold=_num(rule.threshold),
        floor=_num(rule.section_floor),
        items="\n".join(lines),
    )


async def _paper_page(
    request: Request,
    uow: UoW,
    state: PaperForm,
    *,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return admin_page(
        request,
        "paper_edit.html",
        {
            "state": state,
            "cert": await _detail(uow, state.certification),
            "modes": PASS_MODES,
            "errors": errors or {},
            "error": error,
        },
        status,
    )


@router.get("/admin/papers/edit", response_class=HTMLResponse)
async def edit_paper(
    request: Request, uow: UoW, _: FormWriter, certification: str = "", code: str = ""
) -> HTMLResponse:
    cert = await content.certification_detail(uow, certification.strip())
    found = next((p for p in await content.past_papers(uow, cert.code) if p.code == code), None)
    state = await _paper_state(uow, found) if found else PaperForm(certification=cert.code)
    return await _paper_page(request, uow, state)


async def _items(uow: UoW, state: PaperForm) -> list[dict[str, Any]]:
    """The paper's lines → items: `id[, section code[, section name[, points]]]`, where id
    is a question's external id (or its internal id); the section defaults to its subject."""
    lines = [
        [part.strip() for part in re.split(r"[,\t]", line)]
        for line in state.items.splitlines()
        if line.strip()
    ]
    refs = [parts[0] for parts in lines]
    found = await content.questions_by_external_id(uow, state.certification, refs)
    missing = [r for r in refs if r not in found]
    for q in await content.get_questions(uow, missing):
        if q.certification_code == state.certification:
            found[q.id] = q
    unknown = [r for r in refs if r not in found]
    if unknown:
        raise Invalid(
            N_("No such questions in %(cert)s: %(ids)s."),
            cert=state.certification,
            ids=", ".join(unknown[:10]),
        )
    cert = await content.certification_detail(uow, state.certification)
    names = {s.code: s.name for s in cert.subjects}
    items = []
    for parts in lines:
        question = found[parts[0]]
        section = (parts[1] if len(parts) > 1 else "") or question.subject_code or "1"
        if len(section) > 64:
            raise Invalid(i18n.gettext("A section code has at most 64 characters."))
        name = (parts[2] if len(parts) > 2 else "") or names.get(section, section)
        item: dict[str, Any] = {
            "question_id": question.id,
            "section_code": section,
            "section_name": name[:200],
        }
        if len(parts) > 3 and parts[3]:
            item["points"] = parts[3]
        items.append(item)
    return items


@router.post("/admin/papers/edit", response_model=None)
async def save_paper(request: Request, uow: UoW, principal: FormWriter) -> Response:
    state = PaperForm.from_form(await Form.read(request))
    errors: dict[str, str] = {}
    try:
        try:
            items = await _items(uow, state)
        except Invalid as exc:
            errors["items"] = i18n.error_text(exc)
            items = []
        data = {
            "code": state.code,
            "name": state.name,
            "source": state.source or None,
            "time_limit_minutes": state.minutes,
            "pass_rule": _rule(state.mode, state.threshold, state.floor),
            "items": items,
        }
        try:
            spec = PastPaperSpec.model_validate(data)
        except ValidationError as exc:
            errors = field_errors(exc, PAPER_ERRORS) | errors
        if errors:
            message = i18n.gettext("The past paper was not saved; see the marked fields.")
            return await _paper_page(
                request, uow, state, errors=errors, error=errors.pop("form", message), status=422
            )
        await content.save_past_paper(uow, state.certification, spec, principal)
    except AppError as exc:
        await uow.rollback()
        return await _paper_page(
            request, uow, state, error=i18n.error_text(exc), status=exc.status_code
        )
    return redirect(
        "/admin/blueprints?" + query(certification=state.certification, saved=state.code)
    )
