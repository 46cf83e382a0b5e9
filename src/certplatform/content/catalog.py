"""Certifications and their subject/topic tree."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from certplatform.content import repository as repo
from certplatform.content.contracts import (
    CertificationDetail,
    CertificationOut,
    QuestionDraft,
    QuestionStatus,
    SubjectOut,
    TopicOut,
)
from certplatform.content.models import (
    Certification,
    Subject,
    Topic,
)
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Invalid, NotFound
from certplatform.kernel.events import record_event

# ---- certifications and their tree ------------------------------------------------------


async def _certification(uow: UnitOfWork, code: str) -> Certification:
    cert = await repo.certification_by_code(uow.session, code)
    if cert is None:
        raise NotFound(N_("No certification with code %(code)s."), code=code)
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


async def certification_detail(
    uow: UnitOfWork, code: str, *, counts: bool = True
) -> CertificationDetail:
    """The certification with its subjects and topics; with `counts`, its number of
    questions per status too (four counting queries a reader of the tree may not need)."""
    cert = await _certification(uow, code)
    subjects = await repo.subjects_of(uow.session, cert.id)
    topics = await repo.topics_of(uow.session, [s.id for s in subjects])
    by_subject: dict[str, list[TopicOut]] = defaultdict(list)
    for t in topics:
        by_subject[t.subject_id].append(TopicOut.model_validate(t))
    question_counts = (
        {
            status.value: await repo.count_questions(
                uow.session, repo.QuestionFilter(certification_id=cert.id, status=status.value)
            )
            for status in QuestionStatus
        }
        if counts
        else {}
    )
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
        question_counts=question_counts,
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
