"""The public face of the question bank: actions that write, audit and emit in one place.

Services take the unit of work, flush when they need ids and never commit; they return the
read models of `contracts`, never ORM rows.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, update

from certplatform.content import repository as repo
from certplatform.content import search
from certplatform.content.contracts import (
    BlueprintOut,
    BlueprintSpec,
    CertificationDetail,
    CertificationOut,
    CoverageRow,
    DrawnItem,
    ImportSummary,
    LawReference,
    Media,
    PassRule,
    PastPaperOut,
    PastPaperSpec,
    PastPaperSummary,
    PoolEntry,
    QuestionContent,
    QuestionDraft,
    QuestionOut,
    QuestionStatus,
    SectionSpec,
    SubjectOut,
    TopicOut,
    VersionOut,
)
from certplatform.content.formats.base import ItemError
from certplatform.content.models import (
    Blueprint,
    BlueprintSection,
    Certification,
    MediaFile,
    PastPaper,
    PastPaperItem,
    Question,
    QuestionTag,
    QuestionVersion,
    Subject,
    Topic,
)
from certplatform.kernel import media
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import Conflict, Invalid, NotFound
from certplatform.kernel.events import record_event
from certplatform.kernel.storage import LocalStorage

TRANSITIONS: dict[QuestionStatus, frozenset[QuestionStatus]] = {
    QuestionStatus.DRAFT: frozenset({QuestionStatus.REVIEW, QuestionStatus.RETIRED}),
    QuestionStatus.REVIEW: frozenset({QuestionStatus.DRAFT, QuestionStatus.PUBLISHED}),
    QuestionStatus.PUBLISHED: frozenset({QuestionStatus.RETIRED, QuestionStatus.REVIEW}),
    QuestionStatus.RETIRED: frozenset({QuestionStatus.DRAFT, QuestionStatus.PUBLISHED}),
}


class ImportRejected(Invalid):
    """An all-or-nothing import found bad items; nothing was written."""

    def __init__(self, errors: Sequence[str]) -> None:
        count = len(errors)
        super().__init__(
            f"Import refused: {count} item{'s' if count != 1 else ''} could not be read; "
            "nothing was imported. Fix them, or import the valid items with skip_invalid.",
            details={"errors": list(errors)},
        )
        self.errors = list(errors)


# ---- certifications and their tree ------------------------------------------------------


async def _certification(uow: UnitOfWork, code: str) -> Certification:
    cert = await repo.certification_by_code(uow.session, code)
    if cert is None:
        raise NotFound(f"No certification with code '{code}'.")
    return cert


async def ensure_certification(
    uow: UnitOfWork, code: str, name: str | None = None, description: str | None = None
) -> CertificationOut:
    """The certification with `code`, created when it does not exist."""
    code = code.strip()
    if not code or len(code) > 64:
        raise Invalid("A certification code is 1 to 64 characters.")
    cert = await repo.certification_by_code(uow.session, code)
    if cert is None:
        cert = Certification(
            code=code, name=name or code, description=description or "", created_at=utcnow()
        )
        uow.session.add(cert)
        await uow.session.flush()
        record_event(uow.session, "certplatform.content.certification.created.v1", {"code": code})
    else:
        if name:
            cert.name = name
        if description is not None:
            cert.description = description
    return CertificationOut.model_validate(cert)


async def list_certifications(uow: UnitOfWork) -> list[CertificationOut]:
    return [CertificationOut.model_validate(c) for c in await repo.certifications(uow.session)]


async def certification_detail(uow: UnitOfWork, code: str) -> CertificationDetail:
    cert = await _certification(uow, code)
    subjects = await repo.subjects_of(uow.session, cert.id)
    topics = await repo.topics_of(uow.session, [s.id for s in subjects])
    by_subject: dict[str, list[TopicOut]] = defaultdict(list)
    for t in topics:
        by_subject[t.subject_id].append(TopicOut.model_validate(t))
    counts = {
        status.value: await repo.count_questions(
            uow.session, repo.QuestionFilter(certification_id=cert.id, status=status.value)
        )
        for status in QuestionStatus
    }
    return CertificationDetail(
        id=cert.id,
        code=cert.code,
        name=cert.name,
        description=cert.description,
        subjects=tuple(
            SubjectOut(
                id=s.id,
                code=s.code,
                name=s.name,
                position=s.position,
                topics=tuple(by_subject[s.id]),
            )
            for s in subjects
        ),
        question_counts=counts,
    )


@dataclass
class _Tree:
    """Subjects and topics of one certification, by code, created on demand."""

    certification_id: str
    subjects: dict[str, Subject]
    topics: dict[tuple[str, str], Topic]

    @classmethod
    async def load(cls, uow: UnitOfWork, certification_id: str) -> _Tree:
        subjects = await repo.subjects_of(uow.session, certification_id)
        topics = await repo.topics_of(uow.session, [s.id for s in subjects])
        code_of = {s.id: s.code for s in subjects}
        return cls(
            certification_id,
            {s.code: s for s in subjects},
            {(code_of[t.subject_id], t.code): t for t in topics},
        )

    def subject(self, uow: UnitOfWork, code: str, name: str | None) -> Subject:
        subject = self.subjects.get(code)
        if subject is None:
            subject = Subject(
                id=new_id(),
                certification_id=self.certification_id,
                code=code,
                name=name or code,
                position=len(self.subjects),
            )
            uow.session.add(subject)
            self.subjects[code] = subject
        elif name and subject.name == subject.code and name != code:
            subject.name = name
        return subject

    def topic(self, uow: UnitOfWork, subject: Subject, code: str, name: str | None) -> Topic:
        topic = self.topics.get((subject.code, code))
        if topic is None:
            parent = None
            # A code that extends another topic's code nests under it (T1A under T1, 1.2 under 1).
            for (s_code, t_code), candidate in self.topics.items():
                extends = s_code == subject.code and code.startswith(t_code) and code != t_code
                if extends and (parent is None or len(t_code) > len(parent.code)):
                    parent = candidate
            topic = Topic(
                id=new_id(),
                subject_id=subject.id,
                parent_id=parent.id if parent else None,
                code=code,
                name=name or code,
                position=sum(1 for s, _ in self.topics if s == subject.code),
            )
            uow.session.add(topic)
            self.topics[(subject.code, code)] = topic
        elif name and topic.name == topic.code and name != code:
            topic.name = name
        return topic

    def place(self, uow: UnitOfWork, draft: QuestionDraft) -> tuple[str | None, str | None]:
        if not draft.subject:
            return None, None
        subject = self.subject(uow, draft.subject, draft.subject_name)
        if not draft.topic:
            return subject.id, None
        return subject.id, self.topic(uow, subject, draft.topic, draft.topic_name).id


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


def _store_media(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_id: str,
    files: Sequence[Media],
    existing: dict[str, MediaFile],
) -> None:
    """Store files under their names, typed by their bytes (never by name or claim)."""
    for item in files:
        kind = media.sniff(item.data)
        if kind is None:  # callers check first; this is the last line of defence
            raise Invalid(_not_media(item.filename))
        digest = storage.put(item.data)
        row = existing.get(item.filename)
        if row is None:
            row = MediaFile(
                certification_id=certification_id,
                filename=item.filename,
                content_type=kind,
                sha256=digest,
                size=len(item.data),
                created_at=utcnow(),
            )
            uow.session.add(row)
            existing[item.filename] = row
        elif row.sha256 != digest:
            row.sha256, row.size, row.content_type = digest, len(item.data), kind


async def import_drafts(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    drafts: Sequence[QuestionDraft],
    *,
    parse_errors: Sequence[ItemError] = (),
    certification_name: str | None = None,
    status: QuestionStatus = QuestionStatus.DRAFT,
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: Principal | None = None,
    source_name: str = "",
) -> ImportSummary:
    """Import questions all-or-nothing; re-importing the same items changes nothing.

    Items match existing questions by their external id, or, without one, by the
    fingerprint of their content. A changed item gets a new version, an unchanged one is
    left alone. With bad items and no `skip_invalid`, raises `ImportRejected` and writes
    nothing; with `dry_run`, reports what would change and writes nothing.
    """
    errors = [str(e) for e in parse_errors]
    seen_ids: dict[str, str] = {}
    valid: list[QuestionDraft] = []
    for draft in drafts:
        bad_files = [m.filename for m in draft.media if media.sniff(m.data) is None]
        if bad_files:
            where = draft.location or draft.external_id or "an item"
            errors += [f"{where}: {_not_media(name)}" for name in bad_files]
            continue
        if draft.external_id:
            if draft.external_id in seen_ids:
                errors.append(
                    f"{draft.location or draft.external_id}: id {draft.external_id} appears "
                    f"twice (first at {seen_ids[draft.external_id]})"
                )
                continue
            seen_ids[draft.external_id] = draft.location or draft.external_id
        valid.append(draft)
    if errors and not skip_invalid:
        raise ImportRejected(errors)

    cert_row = await repo.certification_by_code(uow.session, certification_code)
    if cert_row is None:
        if dry_run:
            return ImportSummary(
                created=len(valid),
                errors=tuple(errors),
                dry_run=True,
                certification=certification_code,
            )
        await ensure_certification(uow, certification_code, certification_name)
        cert_row = await _certification(uow, certification_code)
    cert_id = cert_row.id

    by_external: dict[str, tuple[str, str, int]] = {}
    by_fingerprint: dict[str, tuple[str, str, int]] = {}
    for qid, external_id, fingerprint, current, _status in await repo.question_index(
        uow.session, cert_id
    ):
        if external_id:
            by_external[external_id] = (qid, fingerprint, current)
        else:
            by_fingerprint[fingerprint] = (qid, fingerprint, current)

    creates: list[tuple[QuestionDraft, str]] = []
    updates: list[tuple[str, int, QuestionDraft]] = []
    unchanged = 0
    for draft in valid:
        fingerprint = draft.fingerprint()
        match = (
            by_external.get(draft.external_id)
            if draft.external_id
            else by_fingerprint.get(fingerprint)
        )
        if match is None:
            creates.append((draft, fingerprint))
            if not draft.external_id:
                by_fingerprint[fingerprint] = ("", fingerprint, 0)  # same item twice: once
        elif match[1] == fingerprint:
            unchanged += 1
        else:
            updates.append((match[0], match[2], draft))
    summary = ImportSummary(
        created=len(creates),
        updated=len(updates),
        unchanged=unchanged,
        errors=tuple(errors),
        dry_run=dry_run,
        certification=certification_code,
    )
    if dry_run:
        return summary

    tree = await _Tree.load(uow, cert_id)
    author = actor.user_id if actor else None
    now = utcnow()
    question_rows: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    docs: list[tuple[str, str]] = []
    for draft, fingerprint in creates:
        qid = new_id()
        subject_id, topic_id = tree.place(uow, draft)
        version = _version_row(qid, 1, draft, author, "imported", fingerprint)
        question_rows.append(
            {
                "id": qid,
                "certification_id": cert_id,
                "subject_id": subject_id,
                "topic_id": topic_id,
                "external_id": draft.external_id,
                "status": status.value,
                "current_version": 1,
                "fingerprint": version["fingerprint"],
                "created_at": now,
                "updated_at": now,
            }
        )
        version_rows.append(version)
        tag_rows += [{"question_id": qid, "tag": t} for t in version["tags"]]
        docs.append((qid, search_text(draft.content)))
    await uow.session.flush()  # subjects and topics first: questions refer to them
    await repo.bulk_insert(uow.session, Question, question_rows)
    await repo.bulk_insert(uow.session, QuestionVersion, version_rows)
    await repo.bulk_insert(uow.session, QuestionTag, tag_rows)
    await repo.bulk_index(uow.session, docs)

    for qid, current, draft in updates:
        await _add_version(uow, tree, qid, current, draft, author, "re-imported")

    files = [m for d in valid for m in d.media]
    if files:
        existing = await repo.media_by_name(uow.session, cert_id, [m.filename for m in files])
        _store_media(uow, storage, cert_id, files, existing)
    await uow.session.flush()
    record_event(
        uow.session,
        "certplatform.content.import.completed.v1",
        {
            "certification": certification_code,
            "source": source_name,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "errors": len(errors),
            "actor": author,
        },
    )
    return summary


async def _add_version(
    uow: UnitOfWork,
    tree: _Tree,
    question_id: str,
    current: int,
    draft: QuestionDraft,
    author: str | None,
    note: str,
) -> int:
    """Add version `current + 1`; returns its number.

    The UPDATE carries `current_version = current`, so of two concurrent edits of the
    same version one wins and the other is refused (no duplicate version number)."""
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
    moved = await uow.session.execute(
        update(Question)
        .where(Question.id == question_id, Question.current_version == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"The question changed meanwhile (version {current} is no longer the newest); "
            "reload and edit again."
        )
    await uow.session.execute(insert(QuestionVersion), [version])
    await repo.replace_tags(uow.session, question_id, version["tags"])
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
        raise Conflict(f"Question id {draft.external_id} already exists in {certification_code}.")
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

    `expected_version` guards against overwriting someone else's newer edit.
    """
    _check_media(draft)
    question = await repo.question(uow.session, question_id)
    if question is None:
        raise NotFound("No such question.")
    if expected_version is not None and expected_version != question.current_version:
        raise Conflict(
            f"The question changed meanwhile (now version {question.current_version}, "
            f"you edited version {expected_version}); reload and edit again."
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
    uow: UnitOfWork, question_ids: Sequence[str], status: QuestionStatus, actor: Principal | None
) -> list[QuestionOut]:
    """Move questions along draft → review → published → retired (all or none)."""
    questions = []
    for qid in dict.fromkeys(question_ids):
        question = await repo.question(uow.session, qid)
        if question is None:
            raise NotFound(f"No question {qid}.")
        current = QuestionStatus(question.status)
        if status != current and status not in TRANSITIONS[current]:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
            raise Conflict(
                f"Question {question.external_id or qid} is {current.value}; "
                f"it can move to {allowed}, not {status.value}."
            )
        questions.append(question)
    for question in questions:
        if question.status == status.value:
            continue
        previous, question.status = question.status, status.value
        question.updated_at = utcnow()
        record_event(
            uow.session,
            f"certplatform.content.question.{status.value}.v1",
            {
                "question_id": question.id,
                "from": previous,
                "version": question.current_version,
                "actor": actor.user_id if actor else None,
            },
        )
    await uow.session.flush()
    return [await get_question(uow, q.id) for q in questions]


async def _question_outs(uow: UnitOfWork, ids: Sequence[str]) -> list[QuestionOut]:
    pairs = await repo.current_versions(uow.session, ids)
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
        raise NotFound(f"The question has no version {number}.")
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
) -> list[QuestionOut]:
    """Questions matching the filters; with `query`, full-text ranked best first."""
    f = await _filter(uow, certification_code, subject_code, topic_code, tag, status)
    if f is None:
        return []
    if query and query.strip():
        ids = await repo.search_question_ids(uow.session, query, f, limit=limit, offset=offset)
    else:
        ids = await repo.list_question_ids(uow.session, f, limit=limit, offset=offset)
    return await _question_outs(uow, ids)


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
                raise NotFound(f"{certification_code} has no subject '{subject_code}'.")
            subject_id = subject.id
            if topic_code:
                topic = tree.topics.get((subject_code, topic_code))
                if topic is None:
                    raise NotFound(f"Subject {subject_code} has no topic '{topic_code}'.")
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


async def export_drafts(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    status: QuestionStatus | None = None,
) -> list[QuestionDraft]:
    """Every question of a certification (current versions) as drafts, media attached."""
    cert = await _certification(uow, certification_code)
    tree = await _Tree.load(uow, cert.id)
    subjects = {s.id: s for s in tree.subjects.values()}
    topics = {t.id: t for t in tree.topics.values()}
    f = repo.QuestionFilter(certification_id=cert.id, status=status.value if status else None)
    ids = await repo.list_question_ids(uow.session, f, limit=10_000_000, offset=0)
    drafts = []
    media_rows: dict[str, MediaFile] | None = None
    for start in range(0, len(ids), 2000):
        for question, version in await repo.current_versions(
            uow.session, ids[start : start + 2000]
        ):
            content = QuestionContent.model_validate(version.content)
            attached: list[Media] = []
            if "media:" in content.stem:
                if media_rows is None:
                    media_rows = await _all_media(uow, cert.id)
                attached = [
                    Media(
                        filename=name, content_type=row.content_type, data=storage.get(row.sha256)
                    )
                    for name, row in media_rows.items()
                    if f"media:{name}" in content.stem
                ]
            subject = subjects.get(question.subject_id or "")
            topic = topics.get(question.topic_id or "")
            drafts.append(
                QuestionDraft(
                    content=content,
                    external_id=question.external_id,
                    title=version.title,
                    subject=subject.code if subject else None,
                    subject_name=subject.name if subject else None,
                    topic=topic.code if topic else None,
                    topic_name=topic.name if topic else None,
                    tags=tuple(version.tags),
                    law_refs=tuple(LawReference.model_validate(r) for r in version.law_refs),
                    source=version.source,
                    media=tuple(attached),
                )
            )
    return drafts


def _check_media(draft: QuestionDraft) -> None:
    for item in draft.media:
        if media.sniff(item.data) is None:
            message = _not_media(item.filename)
            raise Invalid(message[0].upper() + message[1:] + ".")


def _not_media(filename: str) -> str:
    return (
        f"the attached file {filename!r} is not an image, audio or video file the platform "
        f"can show (allowed: {media.ALLOWED_DESCRIPTION}, recognised by their content); "
        "HTML, SVG, scripts and documents cannot be attached"
    )


async def _all_media(uow: UnitOfWork, certification_id: str) -> dict[str, MediaFile]:
    return await repo.media_of(uow.session, certification_id)


async def media_file(uow: UnitOfWork, certification_code: str, filename: str) -> tuple[str, str]:
    """(content type, sha256) of a stored media file."""
    cert = await _certification(uow, certification_code)
    found = (await repo.media_by_name(uow.session, cert.id, [filename])).get(filename)
    if found is None:
        raise NotFound(f"No file '{filename}' in {certification_code}.")
    return found.content_type, found.sha256


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
            raise Invalid(f"Section {section.code}: no subject '{section.subject_code}'.")
        known = {t for (_, t) in tree.topics}
        missing = [t for t in section.topic_codes if t not in known]
        if missing:
            raise Invalid(f"Section {section.code}: unknown topics {', '.join(missing)}.")
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
                    f"Section {section.name} cannot be drawn: needs one published question "
                    f"from each of {section.question_count} topics; "
                    f"{len(topics) - len(empty)} have one."
                )
            picks = [rng.choice(pools[t]) for t in topics]
        else:
            candidates = [q for ids in pools.values() for q in ids]
            if len(candidates) < section.question_count:
                raise Conflict(
                    f"Section {section.name} needs {section.question_count} published "
                    f"questions; the bank has {len(candidates)}."
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
        raise Invalid(f"Unknown questions for {certification_code}: {', '.join(missing[:5])}.")
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
        for q, v in await repo.current_versions(uow.session, [i.question_id for i in out.items])
    }
    unpublished = [
        i.question_id for i in out.items if pairs[i.question_id][0].status != "published"
    ]
    if unpublished:
        raise Conflict(
            f"The paper has {len(unpublished)} unpublished questions; publish them first."
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
    """The id of each question's current version, by question id (versions are immutable,
    so a caller may keep their contents)."""
    return await repo.current_version_ids(uow.session, question_ids)


async def current_versions(uow: UnitOfWork, question_ids: Sequence[str]) -> dict[str, VersionOut]:
    """The current version of each question, by question id."""
    pairs = await repo.current_versions(uow.session, question_ids)
    return {q.id: VersionOut.model_validate(v) for q, v in pairs}


def parse_draft(data: dict[str, Any], location: str = "") -> QuestionDraft:
    """Validate an editor/API payload into a draft, with a readable error."""
    try:
        return QuestionDraft.model_validate({**data, "location": location})
    except ValidationError as exc:
        raise Invalid(
            "The question is not valid: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
        ) from exc


# ---- editor helpers: uploaded images, look-ups by external id ----------------------------

MAX_MEDIA = 5 * 1024 * 1024


async def store_media(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    filename: str,
    content_type: str,
    data: bytes,
) -> str:
    """Store an uploaded image for a certification's questions and return the name to refer
    to it by (`![alt](media:NAME)`).

    Only PNG, JPEG, GIF and WebP images (checked from the bytes) up to 5 MB. A name already
    taken by other bytes gets a hash suffix, so questions that show the old file keep it.
    """
    cert = await _certification(uow, certification_code)
    if not data:
        raise Invalid("The file is empty.")
    if len(data) > MAX_MEDIA:
        raise Invalid("The image is larger than 5 MB.")
    kind = media.sniff(data)
    if kind not in media.IMAGE_TYPES:
        raise Invalid(
            f"{filename or 'The file'} is not a PNG, JPEG, GIF or WebP image"
            f"{f' ({content_type})' if content_type else ''}."
        )
    base = re.split(r"[\\/]", filename)[-1].rsplit(".", 1)[0]
    base = re.sub(r"[^\w.-]+", "-", base).strip(".-")[:80] or "image"
    name = f"{base}.{media.IMAGE_TYPES[kind]}"
    digest = hashlib.sha256(data).hexdigest()
    existing = await repo.media_by_name(uow.session, cert.id, [name])
    if name in existing and existing[name].sha256 != digest:
        name = f"{base}-{digest[:10]}.{media.IMAGE_TYPES[kind]}"
        existing = await repo.media_by_name(uow.session, cert.id, [name])
    _store_media(
        uow, storage, cert.id, [Media(filename=name, content_type=kind, data=data)], existing
    )
    await uow.session.flush()
    return name


async def get_questions(uow: UnitOfWork, question_ids: Sequence[str]) -> list[QuestionOut]:
    """The questions with these ids (unknown ids are left out), in the order asked."""
    return await _question_outs(uow, question_ids)


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
