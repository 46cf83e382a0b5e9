"""Questions and their versions: create, edit, publish, find, read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, insert, update

from certplatform.content import repository as repo
from certplatform.content import search
from certplatform.content.attachments import _check_media, _store_media
from certplatform.content.catalog import _certification, _Tree
from certplatform.content.contracts import (
    PoolEntry,
    QuestionContent,
    QuestionDraft,
    QuestionOut,
    QuestionStatus,
    VersionOut,
)
from certplatform.content.models import (
    Question,
    QuestionVersion,
)
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Invalid, NotFound, Term, Terms
from certplatform.kernel.events import record_event
from certplatform.kernel.storage import LocalStorage

TRANSITIONS: dict[QuestionStatus, frozenset[QuestionStatus]] = {
    QuestionStatus.DRAFT: frozenset({QuestionStatus.REVIEW, QuestionStatus.RETIRED}),
    QuestionStatus.REVIEW: frozenset({QuestionStatus.DRAFT, QuestionStatus.PUBLISHED}),
    QuestionStatus.PUBLISHED: frozenset({QuestionStatus.RETIRED, QuestionStatus.REVIEW}),
    QuestionStatus.RETIRED: frozenset({QuestionStatus.DRAFT, QuestionStatus.PUBLISHED}),
}

# Statuses as words in sentences (the badges use the capitalised labels).
STATUS_TERMS: dict[QuestionStatus, str] = {
    QuestionStatus.DRAFT: N_("draft"),
    QuestionStatus.REVIEW: N_("in review"),
    QuestionStatus.PUBLISHED: N_("published"),
    QuestionStatus.RETIRED: N_("retired"),
}


def status_term(status: QuestionStatus) -> Term:
    return Term(STATUS_TERMS[status])


# ---- questions -------------------------------------------------------------------------


def search_text(content: QuestionContent) -> str:
    parts = [content.stem, content.explanation]
    parts += [c.text for c in content.choices]
    parts += [a.text for a in content.accepted_answers]
    parts += [f"{p.left} {p.right}" for p in content.pairs]
    return "\n".join(parts)


def _version_row(
    question_id: str,
    number: int,
    draft: QuestionDraft,
    author_id: str | None,
    note: str,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "question_id": question_id,
        "number": number,
        "type": draft.content.type.value,
        "content": draft.content.model_dump(mode="json"),
        "title": draft.title,
        "tags": list(dict.fromkeys(draft.tags)),
        "law_refs": [r.model_dump() for r in draft.law_refs],
        "source": draft.source,
        "fingerprint": fingerprint or draft.fingerprint(),
        "author_id": author_id,
        "note": note,
        "created_at": utcnow(),
    }


async def _add_version(
    uow: UnitOfWork,
    tree: _Tree,
    question_id: str,
    current: int,
    draft: QuestionDraft,
    author: str | None,
    note: str,
    *,
    served: bool,
    publish: bool = False,
) -> int:
    """Add version `current + 1`; returns its number.

    The UPDATE carries `current_version = current`, so of two concurrent edits of the
    same version one wins and the other is refused (no duplicate version number). A
    question with a `served` (published) version keeps serving it: the new version is a
    draft until published, and the search index keeps the served text; with `publish`
    the new version is served at once."""
    subject_id, topic_id = tree.place(uow, draft)
    await uow.session.flush()
    version = _version_row(question_id, current + 1, draft, author, note)
    values: dict[str, Any] = {
        "current_version": current + 1,
        "fingerprint": version["fingerprint"],
        "updated_at": utcnow(),
    }
    if draft.subject:
        values |= {"subject_id": subject_id, "topic_id": topic_id}
    if publish:
        values["published_version"] = current + 1
    moved = await uow.session.execute(
        update(Question)
        .where(Question.id == question_id, Question.current_version == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            N_(
                "The question changed meanwhile (version %(version)s is no longer the newest); "
                "reload and edit again."
            ),
            version=current,
        )
    await uow.session.execute(insert(QuestionVersion), [version])
    await repo.replace_tags(uow.session, question_id, version["tags"])
    if publish or not served:
        await search.replace_documents(uow.session, [(question_id, search_text(draft.content))])
    return current + 1


async def create_question(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    draft: QuestionDraft,
    actor: Principal | None,
) -> QuestionOut:
    """Add one question as a draft."""
    _check_media(draft)
    cert = await _certification(uow, certification_code)
    if draft.external_id and any(
        ext == draft.external_id for _, ext, *_ in await repo.question_index(uow.session, cert.id)
    ):
        raise Conflict(
            N_("Question id %(id)s already exists in %(certification)s."),
            id=draft.external_id,
            certification=certification_code,
        )
    tree = await _Tree.load(uow, cert.id)
    subject_id, topic_id = tree.place(uow, draft)
    await uow.session.flush()
    qid = new_id()
    version = _version_row(qid, 1, draft, actor.user_id if actor else None, "created")
    now = utcnow()
    uow.session.add(
        Question(
            id=qid,
            certification_id=cert.id,
            subject_id=subject_id,
            topic_id=topic_id,
            external_id=draft.external_id,
            status=QuestionStatus.DRAFT.value,
            current_version=1,
            fingerprint=version["fingerprint"],
            created_at=now,
            updated_at=now,
        )
    )
    await uow.session.flush()
    await uow.session.execute(insert(QuestionVersion), [version])
    await repo.replace_tags(uow.session, qid, version["tags"])
    await search.insert_documents(uow.session, [(qid, search_text(draft.content))])
    if draft.media:
        existing = await repo.media_by_name(uow.session, cert.id, [m.filename for m in draft.media])
        _store_media(uow, storage, cert.id, draft.media, existing)
    return await get_question(uow, qid)


async def edit_question(
    uow: UnitOfWork,
    storage: LocalStorage,
    question_id: str,
    draft: QuestionDraft,
    actor: Principal | None,
    *,
    note: str = "",
    expected_version: int | None = None,
) -> QuestionOut:
    """Save an edit as a new version; an edit that changes nothing adds no version.

    `expected_version` guards against overwriting someone else's newer edit. Learners keep
    the published version of a published question until the new one is published.
    """
    _check_media(draft)
    question = await repo.question(uow.session, question_id)
    if question is None:
        raise NotFound("No such question.")
    if expected_version is not None and expected_version != question.current_version:
        raise Conflict(
            N_(
                "The question changed meanwhile (now version %(now)s, you edited version "
                "%(edited)s); reload and edit again."
            ),
            now=question.current_version,
            edited=expected_version,
        )
    if draft.fingerprint() != question.fingerprint:
        tree = await _Tree.load(uow, question.certification_id)
        number = await _add_version(
            uow,
            tree,
            question.id,
            question.current_version,
            draft,
            actor.user_id if actor else None,
            note or "edited",
            served=question.published_version is not None,
        )
        if draft.media:
            existing = await repo.media_by_name(
                uow.session, question.certification_id, [m.filename for m in draft.media]
            )
            _store_media(uow, storage, question.certification_id, draft.media, existing)
        record_event(
            uow.session,
            "certplatform.content.question.versioned.v1",
            {
                "question_id": question.id,
                "version": number,
                "actor": actor.user_id if actor else None,
            },
        )
    uow.session.expire_all()
    return await get_question(uow, question_id)


async def set_status(
    uow: UnitOfWork,
    question_ids: Sequence[str],
    status: QuestionStatus,
    actor: Principal | None,
    *,
    two_person_rule: bool = False,
) -> list[QuestionOut]:
    """Move questions along draft → review → published → retired (all or none).

    Publishing serves the newest version, so publishing a published question with a newer
    draft publishes the draft. With `two_person_rule`, nobody publishes a version they
    wrote.
    """
    questions = []
    for qid in dict.fromkeys(question_ids):
        question = await repo.question(uow.session, qid)
        if question is None:
            raise NotFound(N_("No question %(question)s."), question=qid)
        current = QuestionStatus(question.status)
        if status != current and status not in TRANSITIONS[current]:
            raise Conflict(
                N_(
                    "Question %(question)s is %(status)s; "
                    "it can move to %(allowed)s, not %(target)s."
                ),
                question=question.external_id or qid,
                status=status_term(current),
                allowed=Terms(STATUS_TERMS[s] for s in sorted(TRANSITIONS[current])),
                target=status_term(status),
            )
        questions.append(question)
    await uow.session.flush()
    for question in questions:
        if status is QuestionStatus.PUBLISHED:
            if question.status == status.value and (
                question.published_version == question.current_version
            ):
                continue
            await _publish(uow, question, actor, two_person_rule=two_person_rule)
        elif question.status == status.value:
            continue
        else:
            await _move(uow, question, status)
        record_event(
            uow.session,
            f"certplatform.content.question.{status.value}.v1",
            {
                "question_id": question.id,
                "from": question.status,
                "version": question.current_version,
                "actor": actor.user_id if actor else None,
            },
        )
    ids = [q.id for q in questions]
    uow.session.expire_all()  # the UPDATEs above bypassed the loaded rows
    return [await get_question(uow, qid) for qid in ids]


async def _move(uow: UnitOfWork, question: Question, status: QuestionStatus) -> None:
    """Change the status if nobody changed it meanwhile."""
    moved = await uow.session.execute(
        update(Question)
        .where(Question.id == question.id, Question.status == question.status)
        .values(status=status.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_CHANGED, question=question.external_id or question.id)


async def _publish(
    uow: UnitOfWork, question: Question, actor: Principal | None, *, two_person_rule: bool
) -> None:
    """Serve the newest version. The conditions live in the UPDATE: the version seen is still
    the newest, the status is unchanged and, under the two-person rule, the publisher did not
    write that version; a concurrent edit or a self-publish changes nothing."""
    seen = question.current_version
    conditions = [
        Question.id == question.id,
        Question.current_version == seen,
        Question.status == question.status,
    ]
    if two_person_rule and actor is not None:
        conditions.append(
            ~exists().where(
                QuestionVersion.question_id == Question.id,
                QuestionVersion.number == Question.current_version,
                QuestionVersion.author_id == actor.user_id,
            )
        )
    moved = await uow.session.execute(
        update(Question)
        .where(*conditions)
        .values(status=QuestionStatus.PUBLISHED.value, published_version=seen, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    version = await repo.version(uow.session, question.id, seen)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        if two_person_rule and actor and version and version.author_id == actor.user_id:
            raise OwnVersion(question.external_id or question.id, seen)
        raise Conflict(_CHANGED, question=question.external_id or question.id)
    if version is not None and question.published_version != seen:
        content = QuestionContent.model_validate(version.content)
        await search.replace_documents(uow.session, [(question.id, search_text(content))])


_CHANGED = N_("Question %(question)s changed meanwhile; reload and try again.")


class OwnVersion(Conflict):
    """The two-person rule: the publisher wrote the version to be published."""

    code = "two_person_rule"

    def __init__(self, question: str, version: int) -> None:
        super().__init__(
            N_(
                "You wrote version %(version)s of question %(question)s; under the two-person "
                "rule another author must publish it."
            ),
            question=question,
            version=version,
        )


async def _question_outs(
    uow: UnitOfWork, ids: Sequence[str], *, served: bool = False
) -> list[QuestionOut]:
    pairs = await repo.current_versions(uow.session, ids, served=served)
    if not pairs:
        return []
    cert_codes = {c.id: c.code for c in await repo.certifications(uow.session)}
    subject_codes: dict[str, str] = {}
    topic_codes: dict[str, str] = {}
    for cert_id in {q.certification_id for q, _ in pairs}:
        subjects = await repo.subjects_of(uow.session, cert_id)
        subject_codes |= {s.id: s.code for s in subjects}
        topic_codes |= {
            t.id: t.code for t in await repo.topics_of(uow.session, [s.id for s in subjects])
        }
    by_id = {
        q.id: QuestionOut(
            id=q.id,
            certification_code=cert_codes[q.certification_id],
            external_id=q.external_id,
            subject_code=subject_codes.get(q.subject_id or ""),
            topic_code=topic_codes.get(q.topic_id or ""),
            status=QuestionStatus(q.status),
            version=VersionOut.model_validate(v),
            newest_version=q.current_version,
            published_version=q.published_version,
            updated_at=q.updated_at,
        )
        for q, v in pairs
    }
    return [by_id[i] for i in ids if i in by_id]


async def get_question(uow: UnitOfWork, question_id: str) -> QuestionOut:
    found = await _question_outs(uow, [question_id])
    if not found:
        raise NotFound("No such question.")
    return found[0]


async def question_versions(uow: UnitOfWork, question_id: str) -> list[VersionOut]:
    if await repo.question(uow.session, question_id) is None:
        raise NotFound("No such question.")
    return [VersionOut.model_validate(v) for v in await repo.versions_of(uow.session, question_id)]


async def question_version(uow: UnitOfWork, question_id: str, number: int) -> VersionOut:
    found = await repo.version(uow.session, question_id, number)
    if found is None:
        raise NotFound(N_("The question has no version %(number)s."), number=number)
    return VersionOut.model_validate(found)


async def versions_by_id(uow: UnitOfWork, version_ids: Sequence[str]) -> dict[str, VersionOut]:
    """Exact versions by id (what an attempt froze)."""
    rows = await repo.versions_by_id(uow.session, version_ids)
    return {v.id: VersionOut.model_validate(v) for v in rows}


async def find_questions(
    uow: UnitOfWork,
    *,
    query: str | None = None,
    certification_code: str | None = None,
    subject_code: str | None = None,
    topic_code: str | None = None,
    tag: str | None = None,
    status: QuestionStatus | None = None,
    limit: int = 20,
    offset: int = 0,
    served: bool = False,
) -> list[QuestionOut]:
    """Questions matching the filters; with `query`, full-text ranked best first. With
    `served`, each comes with the version learners see (authors see the newest)."""
    f = await _filter(uow, certification_code, subject_code, topic_code, tag, status)
    if f is None:
        return []
    if query and query.strip():
        ids = await repo.search_question_ids(uow.session, query, f, limit=limit, offset=offset)
    else:
        ids = await repo.list_question_ids(uow.session, f, limit=limit, offset=offset)
    return await _question_outs(uow, ids, served=served)


async def _filter(
    uow: UnitOfWork,
    certification_code: str | None,
    subject_code: str | None,
    topic_code: str | None,
    tag: str | None,
    status: QuestionStatus | None,
) -> repo.QuestionFilter | None:
    cert_id = subject_id = topic_id = None
    if certification_code:
        cert = await _certification(uow, certification_code)
        cert_id = cert.id
        if subject_code:
            tree = await _Tree.load(uow, cert.id)
            subject = tree.subjects.get(subject_code)
            if subject is None:
                raise NotFound(
                    N_("%(certification)s has no subject %(subject)s."),
                    certification=certification_code,
                    subject=subject_code,
                )
            subject_id = subject.id
            if topic_code:
                topic = tree.topics.get((subject_code, topic_code))
                if topic is None:
                    raise NotFound(
                        N_("Subject %(subject)s has no topic %(topic)s."),
                        subject=subject_code,
                        topic=topic_code,
                    )
                topic_id = topic.id
    elif subject_code or topic_code:
        raise Invalid("Filtering by subject or topic needs the certification too.")
    return repo.QuestionFilter(
        certification_id=cert_id,
        subject_id=subject_id,
        topic_id=topic_id,
        tag=tag,
        status=status.value if status else None,
    )


async def practice_pool(
    uow: UnitOfWork,
    certification_code: str,
    subject_code: str | None = None,
    topic_code: str | None = None,
) -> list[PoolEntry]:
    """Published questions of a certification (optionally one subject/topic), in code order."""
    cert = await _certification(uow, certification_code)
    rows = await repo.published_pool(uow.session, cert.id, with_external_id=True)
    return sorted(
        (
            PoolEntry(question_id=qid, external_id=ext, subject_code=subj, topic_code=topic)
            for qid, subj, topic, ext in rows
            if (not subject_code or subj == subject_code)
            and (not topic_code or topic == topic_code)
        ),
        key=lambda e: (e.external_id or "", e.question_id),
    )


async def current_version_ids(uow: UnitOfWork, question_ids: Sequence[str]) -> dict[str, str]:
    """The id of the version learners are served of each question, by question id (versions
    are immutable, so a caller may keep their contents)."""
    return await repo.current_version_ids(uow.session, question_ids)


async def current_versions(uow: UnitOfWork, question_ids: Sequence[str]) -> dict[str, VersionOut]:
    """The version learners are served of each question, by question id: the published one
    (a newer draft stays with the authors), or the newest of a question never published."""
    pairs = await repo.current_versions(uow.session, question_ids, served=True)
    return {q.id: VersionOut.model_validate(v) for q, v in pairs}


def parse_draft(data: dict[str, Any], location: str = "") -> QuestionDraft:
    """Validate an editor/API payload into a draft, with a readable error."""
    try:
        return QuestionDraft.model_validate({**data, "location": location})
    except ValidationError as exc:
        raise Invalid(
            N_("The question is not valid: %(problems)s"),
            problems="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
        ) from exc


async def get_questions(
    uow: UnitOfWork, question_ids: Sequence[str], *, served: bool = False
) -> list[QuestionOut]:
    """The questions with these ids (unknown ids are left out), in the order asked; with
    `served`, at the version learners see."""
    return await _question_outs(uow, question_ids, served=served)


async def questions_by_external_id(
    uow: UnitOfWork, certification_code: str, external_ids: Sequence[str]
) -> dict[str, QuestionOut]:
    """The certification's questions with these external ids, by external id."""
    cert = await _certification(uow, certification_code)
    wanted = set(external_ids)
    ids = {
        ext: qid
        for qid, ext, *_ in await repo.question_index(uow.session, cert.id)
        if ext is not None and ext in wanted
    }
    by_id = {q.id: q for q in await _question_outs(uow, list(ids.values()))}
    return {ext: by_id[qid] for ext, qid in ids.items() if qid in by_id}
