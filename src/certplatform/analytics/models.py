"""The analytics store in the main database: facts written once per source row (the
idempotency keys) and rollups kept in step with them. Learners, questions and attempts are
referred to by id; no foreign keys reach other contexts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, JSONType, NullableJSONType, UTCDateTime


class AnswerFact(Base):
    """One answer (practice or exam), keyed by the learning context's answer record id."""

    __tablename__ = "analytics_answers"
    __table_args__ = (
        Index("ix_analytics_answers_user_day", "user_id", "day"),
        Index("ix_analytics_answers_question", "question_id"),
    )

    answer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    certification: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))  # "" when the question has none
    context: Mapped[str] = mapped_column(String(16))
    correct: Mapped[bool] = mapped_column(Boolean)
    fraction: Mapped[float] = mapped_column(Float)
    elapsed_ms: Mapped[int] = mapped_column(BigInteger)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[date] = mapped_column(Date)  # in the study calendar's zone (see ADR 23)
    choice_ids: Mapped[list[str]] = mapped_column(JSONType)


class LearnerDay(Base):
    """Per learner, certification, day and subject: answers, right answers, time."""

    __tablename__ = "analytics_learner_days"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    elapsed_ms: Mapped[int] = mapped_column(BigInteger)


class ItemStats(Base):
    """Per question: attempts, right answers, total time."""

    __tablename__ = "analytics_items"

    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification: Mapped[str] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    elapsed_ms: Mapped[int] = mapped_column(BigInteger)


class ItemChoice(Base):
    """How often each choice of a question was picked."""

    __tablename__ = "analytics_item_choices"

    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    choice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    picks: Mapped[int] = mapped_column(Integer)


class AttemptFact(Base):
    """A mock exam sitting: started, then its score (the latest after any regrade)."""

    __tablename__ = "analytics_attempts"
    __table_args__ = (Index("ix_analytics_attempts_user", "user_id", "started_at"),)

    attempt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    certification: Mapped[str] = mapped_column(String(64))
    form_kind: Mapped[str] = mapped_column(String(16))
    form_id: Mapped[str] = mapped_column(String(32))
    form_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    sections: Mapped[dict[str, float] | None] = mapped_column(NullableJSONType)
    regraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_percent: Mapped[float | None] = mapped_column(Float)
    previous_passed: Mapped[bool | None] = mapped_column(Boolean)


class PracticeRunFact(Base):
    __tablename__ = "analytics_practice_runs"
    __table_args__ = (Index("ix_analytics_practice_runs_user", "user_id", "started_at"),)

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    certification: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ItemParameter(Base):
    """A question's stored IRT parameters from the last calibration that covered it
    (ADR 32). One row per question: a republished version (a key fix, a wording edit) is
    the same item to learners; a different item is a different question."""

    __tablename__ = "analytics_item_parameters"

    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certification: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(8))  # 2pl | 3pl
    a: Mapped[float] = mapped_column(Float)
    b: Mapped[float] = mapped_column(Float)
    c: Mapped[float] = mapped_column(Float)
    responses: Mapped[int] = mapped_column(Integer)  # first answers the fit used
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Calibration(Base):
    """The last calibration stored per certification: when its data was read, the fit's
    figures, and the job run that wrote it."""

    __tablename__ = "analytics_calibrations"

    certification: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(8))
    items: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    responses: Mapped[int] = mapped_column(Integer)
    loglik: Mapped[float] = mapped_column(Float)
    iterations: Mapped[int] = mapped_column(Integer)
    converged: Mapped[bool] = mapped_column(Boolean)
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when its facts were read
    seconds: Mapped[float] = mapped_column(Float)  # how long the fit took
    run_key: Mapped[str] = mapped_column(String(200))
