"""Tables of the content context: the certification tree, questions and versions, forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow


class Certification(IdMixin, TimestampMixin, Base):
    __tablename__ = "certifications"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")


class Subject(IdMixin, Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("certification_id", "code"),)

    certification_id: Mapped[str] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Topic(IdMixin, Base):
    """A node of a subject's topic tree (FCC group T1A, 세부항목), with its external code."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("subject_id", "code"),)

    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Question(IdMixin, TimestampMixin, Base):
    """A question and where it is filed; its content lives in versions.

    Lifecycle: draft → review → published → retired (retired may be re-published).
    Only published questions are drawn into exams. Every edit of content adds a version;
    `current_version` points at the newest, older versions stay readable forever because
    attempts refer to the exact version they showed. `published_version` is the version
    learners are served: an edit of a published question is a draft on top of it until it
    is published in turn (ADR 0026).
    """

    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("certification_id", "external_id"),
        Index("ix_questions_certification_status", "certification_id", "status"),
        Index("ix_questions_certification_fingerprint", "certification_id", "fingerprint"),
    )

    certification_id: Mapped[str] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE")
    )
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    topic_id: Mapped[str | None] = mapped_column(ForeignKey("topics.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionVersion(IdMixin, TimestampMixin, Base):
    """One immutable version of a question's content and metadata."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "number"),)

    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    title: Mapped[str | None] = mapped_column(String(300))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    law_refs: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    source: Mapped[str | None] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500), default="")


class QuestionTag(Base):
    """Tags of the current version, kept for filtering."""

    __tablename__ = "question_tags"

    question_id: Mapped[str] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class MediaFile(IdMixin, TimestampMixin, Base):
    """A stored file (figure, image) addressed by its content hash."""

    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("certification_id", "filename"),)

    certification_id: Mapped[str] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)


class PastPaper(IdMixin, TimestampMixin, Base):
    """A fixed exam paper (기출 회차): an ordered list of questions."""

    __tablename__ = "past_papers"
    __table_args__ = (UniqueConstraint("certification_id", "code"),)

    certification_id: Mapped[str] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    pass_rule: Mapped[dict[str, Any]] = mapped_column(JSONType)


class PastPaperItem(Base):
    __tablename__ = "past_paper_items"

    paper_id: Mapped[str] = mapped_column(
        ForeignKey("past_papers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    section_code: Mapped[str] = mapped_column(String(64))
    section_name: Mapped[str] = mapped_column(String(200))
    points: Mapped[float] = mapped_column(Float, default=1.0)


class Blueprint(IdMixin, TimestampMixin, Base):
    """How a mock exam is drawn: sections, counts per section, time, pass rule."""

    __tablename__ = "blueprints"
    __table_args__ = (UniqueConstraint("certification_id", "code"),)

    certification_id: Mapped[str] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_choices: Mapped[bool] = mapped_column(Boolean, default=True)
    calculator: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_rule: Mapped[dict[str, Any]] = mapped_column(JSONType)


class BlueprintSection(IdMixin, Base):
    """A section of a blueprint: `question_count` drawn from its subject/topics.

    draw = "count": any published questions of the listed topics (or the whole subject);
    draw = "one_per_topic": exactly one from each listed topic (FCC: one per group).
    """

    __tablename__ = "blueprint_sections"
    __table_args__ = (UniqueConstraint("blueprint_id", "code"),)

    blueprint_id: Mapped[str] = mapped_column(ForeignKey("blueprints.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    subject_code: Mapped[str | None] = mapped_column(String(64))
    topic_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    draw: Mapped[str] = mapped_column(String(16), default="count")
    question_count: Mapped[int] = mapped_column(Integer)
    points_per_question: Mapped[float] = mapped_column(Float, default=1.0)
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
