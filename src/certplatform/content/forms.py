"""Exam forms: blueprints drawn from the published pool, and fixed past papers."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from certplatform.content import repository as repo
from certplatform.content.catalog import _certification, _Tree
from certplatform.content.contracts import (
    BlueprintOut,
    BlueprintSpec,
    CoverageRow,
    DrawnItem,
    PassRule,
    PastPaperOut,
    PastPaperSpec,
    PastPaperSummary,
    SectionSpec,
)
from certplatform.content.models import (
    Blueprint,
    BlueprintSection,
    Certification,
    PastPaper,
    PastPaperItem,
)
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Invalid, NotFound
from certplatform.kernel.events import record_event

# ---- exam forms: blueprints and past papers ----------------------------------------------


def _blueprint_out(
    cert_code: str, bp: Blueprint, sections: Sequence[BlueprintSection]
) -> BlueprintOut:
    return BlueprintOut(
        id=bp.id,
        certification_code=cert_code,
        code=bp.code,
        name=bp.name,
        time_limit_minutes=bp.time_limit_minutes,
        shuffle_questions=bp.shuffle_questions,
        shuffle_choices=bp.shuffle_choices,
        calculator=bp.calculator,
        pass_rule=PassRule.model_validate(bp.pass_rule),
        sections=tuple(
            SectionSpec(
                code=s.code,
                name=s.name,
                subject_code=s.subject_code,
                topic_codes=tuple(s.topic_codes),
                draw=s.draw,
                question_count=s.question_count,
                points_per_question=s.points_per_question,
                time_limit_minutes=s.time_limit_minutes,
            )
            for s in sections
        ),
    )


async def save_blueprint(
    uow: UnitOfWork, certification_code: str, spec: BlueprintSpec, actor: Principal | None
) -> BlueprintOut:
    """Create or replace the blueprint with `spec.code`; subjects and topics must exist."""
    cert = await _certification(uow, certification_code)
    tree = await _Tree.load(uow, cert.id)
    for section in spec.sections:
        if section.subject_code and section.subject_code not in tree.subjects:
            raise Invalid(
                N_("Section %(section)s: no subject %(subject)s."),
                section=section.code,
                subject=section.subject_code,
            )
        known = {t for (_, t) in tree.topics}
        missing = [t for t in section.topic_codes if t not in known]
        if missing:
            raise Invalid(
                N_("Section %(section)s: unknown topics %(topics)s."),
                section=section.code,
                topics=", ".join(missing),
            )
    bp = await repo.blueprint_by_code(uow.session, cert.id, spec.code)
    if bp is None:
        bp = Blueprint(id=new_id(), certification_id=cert.id, code=spec.code, created_at=utcnow())
        uow.session.add(bp)
    else:
        for old in await repo.sections_of(uow.session, bp.id):
            await uow.session.delete(old)
    bp.name = spec.name
    bp.time_limit_minutes = spec.time_limit_minutes
    bp.shuffle_questions = spec.shuffle_questions
    bp.shuffle_choices = spec.shuffle_choices
    bp.calculator = spec.calculator
    bp.pass_rule = spec.pass_rule.model_dump(mode="json")
    await uow.session.flush()
    sections = [
        BlueprintSection(
            id=new_id(),
            blueprint_id=bp.id,
            position=i,
            code=s.code,
            name=s.name,
            subject_code=s.subject_code,
            topic_codes=list(s.topic_codes),
            draw=s.draw,
            question_count=s.question_count,
            points_per_question=s.points_per_question,
            time_limit_minutes=s.time_limit_minutes,
        )
        for i, s in enumerate(spec.sections)
    ]
    uow.session.add_all(sections)
    await uow.session.flush()
    record_event(
        uow.session,
        "certplatform.content.blueprint.saved.v1",
        {
            "certification": certification_code,
            "code": spec.code,
            "actor": actor.user_id if actor else None,
        },
    )
    return _blueprint_out(cert.code, bp, sections)


async def blueprints(uow: UnitOfWork, certification_code: str) -> list[BlueprintOut]:
    cert = await _certification(uow, certification_code)
    return [
        _blueprint_out(cert.code, bp, await repo.sections_of(uow.session, bp.id))
        for bp in await repo.blueprints_of(uow.session, cert.id)
    ]


async def get_blueprint(uow: UnitOfWork, blueprint_id: str) -> BlueprintOut:
    bp = await repo.blueprint(uow.session, blueprint_id)
    if bp is None:
        raise NotFound("No such blueprint.")
    cert = await uow.session.get(Certification, bp.certification_id)
    assert cert is not None
    return _blueprint_out(cert.code, bp, await repo.sections_of(uow.session, bp.id))


def _section_pools(
    section: SectionSpec, pool: Sequence[tuple[str, str | None, str | None]]
) -> dict[str, list[str]]:
    """Published question ids a section may draw from, by topic code ('' = any)."""
    out: dict[str, list[str]] = defaultdict(list)
    topics = set(section.topic_codes)
    for qid, subject, topic in pool:
        if section.subject_code and subject != section.subject_code:
            continue
        if topics and topic not in topics:
            continue
        out[(topic or "") if section.draw == "one_per_topic" else ""].append(qid)
    return out


def _topics_for(section: SectionSpec, pools: dict[str, list[str]]) -> list[str]:
    return list(section.topic_codes) or sorted(t for t in pools if t)


async def coverage(uow: UnitOfWork, blueprint_id: str) -> list[CoverageRow]:
    """Whether each section has enough published questions to be drawn."""
    bp = await get_blueprint(uow, blueprint_id)
    cert = await _certification(uow, bp.certification_code)
    pool = await repo.published_pool(uow.session, cert.id)
    rows = []
    for section in bp.sections:
        pools = _section_pools(section, pool)
        if section.draw == "one_per_topic":
            topics = _topics_for(section, pools)
            missing = tuple(t for t in topics if not pools.get(t))
            rows.append(
                CoverageRow(
                    section_code=section.code,
                    needed=section.question_count,
                    available=len(topics) - len(missing),
                    missing_topics=missing,
                )
            )
        else:
            rows.append(
                CoverageRow(
                    section_code=section.code,
                    needed=section.question_count,
                    available=sum(len(v) for v in pools.values()),
                )
            )
    return rows


async def draw_blueprint(
    uow: UnitOfWork, blueprint_id: str, rng: random.Random
) -> tuple[BlueprintOut, list[DrawnItem]]:
    """Draw a form: per section, `question_count` published questions (one per topic where
    the section says so), pinned to their current versions. Raises Conflict when the bank
    cannot fill a section."""
    bp = await get_blueprint(uow, blueprint_id)
    cert = await _certification(uow, bp.certification_code)
    pool = await repo.published_pool(uow.session, cert.id)
    chosen: list[tuple[str, SectionSpec]] = []
    for section in bp.sections:
        pools = _section_pools(section, pool)
        if section.draw == "one_per_topic":
            topics = _topics_for(section, pools)
            empty = [t for t in topics if not pools.get(t)]
            if empty or len(topics) != section.question_count:
                raise Conflict(
                    N_(
                        "Section %(section)s cannot be drawn: needs one published question "
                        "from each of %(needed)s topics; %(covered)s have one."
                    ),
                    section=section.name,
                    needed=section.question_count,
                    covered=len(topics) - len(empty),
                )
            picks = [rng.choice(pools[t]) for t in topics]
        else:
            candidates = [q for ids in pools.values() for q in ids]
            if len(candidates) < section.question_count:
                raise Conflict(
                    N_(
                        "Section %(section)s needs %(needed)s published questions; "
                        "the bank has %(available)s."
                    ),
                    section=section.name,
                    needed=section.question_count,
                    available=len(candidates),
                )
            picks = rng.sample(candidates, section.question_count)
        chosen += [(qid, section) for qid in picks]
    versions = await repo.current_version_ids(uow.session, [q for q, _ in chosen])
    return bp, [
        DrawnItem(
            question_id=qid,
            version_id=versions[qid],
            section_code=section.code,
            points=section.points_per_question,
        )
        for qid, section in chosen
    ]


async def save_past_paper(
    uow: UnitOfWork, certification_code: str, spec: PastPaperSpec, actor: Principal | None
) -> PastPaperOut:
    cert = await _certification(uow, certification_code)
    ids = [i.question_id for i in spec.items]
    if len(set(ids)) != len(ids):
        raise Invalid("A question appears twice in the paper.")
    found = {q.id: q for q, _ in await repo.current_versions(uow.session, ids)}
    missing = [i for i in ids if i not in found or found[i].certification_id != cert.id]
    if missing:
        raise Invalid(
            N_("Unknown questions for %(certification)s: %(ids)s."),
            certification=certification_code,
            ids=", ".join(missing[:5]),
        )
    paper = next(
        (p for p in await repo.past_papers_of(uow.session, cert.id) if p.code == spec.code), None
    )
    if paper is None:
        paper = PastPaper(
            id=new_id(), certification_id=cert.id, code=spec.code, created_at=utcnow()
        )
        uow.session.add(paper)
    else:
        for item in await repo.past_paper_items(uow.session, paper.id):
            await uow.session.delete(item)
    paper.name, paper.source = spec.name, spec.source
    paper.time_limit_minutes = spec.time_limit_minutes
    paper.pass_rule = spec.pass_rule.model_dump(mode="json")
    await uow.session.flush()
    uow.session.add_all(
        PastPaperItem(
            paper_id=paper.id,
            position=i,
            question_id=item.question_id,
            section_code=item.section_code,
            section_name=item.section_name,
            points=item.points,
        )
        for i, item in enumerate(spec.items)
    )
    await uow.session.flush()
    record_event(
        uow.session,
        "certplatform.content.past_paper.saved.v1",
        {
            "certification": certification_code,
            "code": spec.code,
            "actor": actor.user_id if actor else None,
        },
    )
    return PastPaperOut(id=paper.id, certification_code=cert.code, **spec.model_dump())


async def past_papers(uow: UnitOfWork, certification_code: str) -> list[PastPaperOut]:
    cert = await _certification(uow, certification_code)
    out = []
    for paper in await repo.past_papers_of(uow.session, cert.id):
        out.append(await _paper_out(uow, cert.code, paper))
    return out


async def past_paper_summaries(uow: UnitOfWork, certification_code: str) -> list[PastPaperSummary]:
    """The papers as learners and anonymous callers see them: no question ids."""
    return [PastPaperSummary.of(p) for p in await past_papers(uow, certification_code)]


async def past_paper_summary(uow: UnitOfWork, paper_id: str) -> PastPaperSummary:
    """One paper as a learner sees it before starting (the steps before the exam)."""
    paper = await repo.past_paper(uow.session, paper_id)
    if paper is None:
        raise NotFound("No such past paper.")
    cert = await uow.session.get(Certification, paper.certification_id)
    assert cert is not None
    return PastPaperSummary.of(await _paper_out(uow, cert.code, paper))


async def _paper_out(uow: UnitOfWork, cert_code: str, paper: PastPaper) -> PastPaperOut:
    items = await repo.past_paper_items(uow.session, paper.id)
    return PastPaperOut.model_validate(
        {
            "id": paper.id,
            "certification_code": cert_code,
            "code": paper.code,
            "name": paper.name,
            "source": paper.source,
            "time_limit_minutes": paper.time_limit_minutes,
            "pass_rule": paper.pass_rule,
            "items": [
                {
                    "question_id": i.question_id,
                    "section_code": i.section_code,
                    "section_name": i.section_name,
                    "points": i.points,
                }
                for i in items
            ],
        }
    )


async def paper_form(uow: UnitOfWork, paper_id: str) -> tuple[PastPaperOut, list[DrawnItem]]:
    """A past paper's questions in order, pinned to their current published versions."""
    paper = await repo.past_paper(uow.session, paper_id)
    if paper is None:
        raise NotFound("No such past paper.")
    cert = await uow.session.get(Certification, paper.certification_id)
    assert cert is not None
    out = await _paper_out(uow, cert.code, paper)
    pairs = {
        q.id: (q, v)
        for q, v in await repo.current_versions(
            uow.session, [i.question_id for i in out.items], served=True
        )
    }
    unpublished = [
        i.question_id for i in out.items if pairs[i.question_id][0].status != "published"
    ]
    if unpublished:
        raise Conflict(
            N_("The paper has %(count)s unpublished questions; publish them first."),
            count=len(unpublished),
        )
    return out, [
        DrawnItem(
            question_id=i.question_id,
            version_id=pairs[i.question_id][1].id,
            section_code=i.section_code,
            points=i.points,
        )
        for i in out.items
    ]
