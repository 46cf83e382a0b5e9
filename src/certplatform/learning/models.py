"""Tables of the learning context. Questions are referred to by id and exact version id;
the content context owns them (no foreign keys across contexts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import (
    Base,
    IdMixin,
    JSONType,
    NullableJSONType,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class LearnerSettings(Base):
    __tablename__ = "learner_settings"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    desired_retention: Mapped[float] = mapped_column(Float, default=0.9)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExamDate(Base):
    """The day a learner sits a certification's exam; reviews are paced toward it."""

    __tablename__ = "learner_exam_dates"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    exam_date: Mapped[date] = mapped_column(Date)


class AnswerRecord(IdMixin, Base):
    """Every answer a learner gave, in practice or in an exam (the analytics event log)."""

    __tablename__ = "answer_records"
    __table_args__ = (Index("ix_answer_records_user_question", "user_id", "question_id"),)

    user_id: Mapped[str] = mapped_column(String(32))
    certification_code: Mapped[str] = mapped_column(String(64), index=True)
    question_id: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[str] = mapped_column(String(32))
    subject_code: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(String(16))  # practice | exam
    fraction: Mapped[float] = mapped_column(Float)
    correct: Mapped[bool] = mapped_column(Boolean)
    elapsed_ms: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What was answered (internal terms), and the practice run and position it came from:
    # the run's summary and the wrong-answer note show it. Null on older rows and exams.
    response: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    practice_session_id: Mapped[str | None] = mapped_column(String(32), index=True)
    position: Mapped[int | None] = mapped_column(Integer)


class PracticeSession(IdMixin, TimestampMixin, Base):
    """A practice run: the queue of questions chosen when it started."""

    __tablename__ = "practice_sessions"

    user_id: Mapped[str] = mapped_column(String(32), index=True)
    certification_code: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    subject_code: Mapped[str | None] = mapped_column(String(64))
    topic_code: Mapped[str | None] = mapped_column(String(64))
    question_ids: Mapped[list[str]] = mapped_column(JSONType)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    correct: Mapped[int] = mapped_column(Integer, default=0)


class Bookmark(Base):
    __tablename__ = "bookmarks"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WrongNote(Base):
    """오답노트 entry. Lifecycle: added on a wrong answer; each later right answer adds to
    `streak`, a wrong one resets it; at `streak` ≥ N (setting) the entry is cleared
    (`cleared_at`); a new wrong answer brings it back."""

    __tablename__ = "wrong_notes"
    __table_args__ = (Index("ix_wrong_notes_user_cert", "user_id", "certification_code"),)

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification_code: Mapped[str] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(Text, default="")
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)
    streak: Mapped[int] = mapped_column(Integer, default=0)
    last_wrong_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewCard(Base):
    """The FSRS memory state of one (learner, question) and when it is due."""

    __tablename__ = "review_cards"
    __table_args__ = (Index("ix_review_cards_due", "user_id", "certification_code", "due_at"),)

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attempt(IdMixin, Base):
    """A mock exam sitting.

    Lifecycle: open (answers saved one by one until the deadline) → submitted (by the
    learner, or by the deadline sweeper); graded in the same transaction as the submit.
    The form is frozen at start: exact question versions, order, and choice order.
    """

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_user_status", "user_id", "status"),
        Index("ix_attempts_status_deadline", "status", "deadline_at"),
    )

    user_id: Mapped[str] = mapped_column(String(32))
    certification_code: Mapped[str] = mapped_column(String(64))
    form_kind: Mapped[str] = mapped_column(String(16))  # blueprint | paper
    form_id: Mapped[str] = mapped_column(String(32))
    form_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(16))  # learner | deadline
    calculator: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_rule: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # [{code, name, deadline_at (ISO) or null}] in order
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    question_count: Mapped[int] = mapped_column(Integer)
    # Items without an answer, kept by every save in the same transaction (the save's reply
    # carries it; counting the items on each save cost a quarter of its throughput).
    unanswered: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    result: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    score_percent: Mapped[float | None] = mapped_column(Float)
    regraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AttemptItem(Base):
    """One question of an attempt as frozen at start, with the learner's latest answer."""

    __tablename__ = "attempt_items"

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), index=True)
    version_id: Mapped[str] = mapped_column(String(32), index=True)
    # The version whose key graded this item, once a regrade moved past the one shown.
    graded_version_id: Mapped[str | None] = mapped_column(String(32))
    section_code: Mapped[str] = mapped_column(String(64))
    points: Mapped[float] = mapped_column(Float)
    # Original choice ids (or matching right sides) in the order shown to this learner.
    display_order: Mapped[list[str]] = mapped_column(JSONType)
    response: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    # BIGINT: clients commonly number their operations with Date.now() (milliseconds).
    op_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The operation whose answer or flag the item holds (the save's reply reads it back).
    op_id: Mapped[str | None] = mapped_column(String(64))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # A sum of saves' elapsed times: each is bounded, their sum only by the number of saves.
    time_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    earned: Mapped[float | None] = mapped_column(Float)
    fraction: Mapped[float | None] = mapped_column(Float)


class AttemptOperation(Base):
    """Every acknowledged answer save: the idempotency key and the change history."""

    __tablename__ = "attempt_operations"

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    op_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    op_seq: Mapped[int] = mapped_column(BigInteger)
    response: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    applied: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttemptEvent(IdMixin, Base):
    """An integrity event the client reported (focus lost, page hidden, paste)."""

    __tablename__ = "attempt_events"

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
