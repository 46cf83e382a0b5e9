"""Tables of the community context."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, NullableJSONType, TimestampMixin, UTCDateTime


class Comment(IdMixin, TimestampMixin, Base):
    """A comment in the discussion of one question (a flat thread per question).

    Lifecycle: posted → edited any number of times by its writer → deleted by its writer
    (soft: the row stays so that replies keep their place, the text is wiped). Moderators
    (authors, admins) may hide and unhide it at any time, and may mark one comment per
    question as the accepted answer. Questions live in another context, so `question_id`
    is a plain id, not a foreign key.
    """

    __tablename__ = "community_comments"
    __table_args__ = (Index("ix_community_comments_thread", "question_id", "created_at"),)

    question_id: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by: Mapped[str | None] = mapped_column(String(32))
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)


class CommentVote(Base):
    """One vote per (comment, user): +1 or -1; taking a vote back deletes the row."""

    __tablename__ = "community_votes"

    comment_id: Mapped[str] = mapped_column(
        ForeignKey("community_comments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger)


class CommentReport(TimestampMixin, Base):
    """An abuse report on a comment; one per (comment, user), a repeat changes nothing."""

    __tablename__ = "community_comment_reports"

    comment_id: Mapped[str] = mapped_column(
        ForeignKey("community_comments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))


class ErrorReport(IdMixin, TimestampMixin, Base):
    """A learner's report that a question is wrong (이의 신고).

    Lifecycle: open (in the authors' review queue) → resolved, either by a new version of
    the question (`resolved_version` set, the reporter gets a notice) or by an author who
    closes it without an edit (with a note).
    """

    __tablename__ = "community_error_reports"
    __table_args__ = (
        Index("ix_community_error_reports_queue", "status", "certification_code", "created_at"),
        Index("ix_community_error_reports_question", "question_id", "status"),
    )

    question_id: Mapped[str] = mapped_column(String(32))
    certification_code: Mapped[str] = mapped_column(String(64))
    reported_version: Mapped[int] = mapped_column(Integer)
    reporter_id: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    resolved_version: Mapped[int | None] = mapped_column(Integer)
    resolution: Mapped[str] = mapped_column(String(1000), default="")


class Notice(IdMixin, TimestampMixin, Base):
    """Something a learner is told on the home page (e.g. their error report was resolved)."""

    __tablename__ = "community_notices"
    __table_args__ = (Index("ix_community_notices_user", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    question_id: Mapped[str] = mapped_column(String(32))
    report_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StudyRoom(IdMixin, TimestampMixin, Base):
    """A study room (ADR 0024): public (listed, anyone signed in joins), invite (unlisted,
    anyone holding the invite code joins) or private (members the owner adds).

    The shared Pomodoro timer is held here, not in a process: it runs from
    `timer_started_at` in cycles of focus then break, so every process (and every client)
    derives the same phase from the clock; stopping clears `timer_started_at`.
    """

    __tablename__ = "community_rooms"
    __table_args__ = (Index("ix_community_rooms_listing", "visibility", "created_at"),)

    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(80))
    visibility: Mapped[str] = mapped_column(String(16))
    invite_code: Mapped[str] = mapped_column(String(32), unique=True)
    certification_code: Mapped[str | None] = mapped_column(String(64))
    timer_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    focus_seconds: Mapped[int] = mapped_column(Integer, default=25 * 60)
    break_seconds: Mapped[int] = mapped_column(Integer, default=5 * 60)


class RoomMember(Base):
    """Who belongs to a room; a ban keeps the row (so the invite link cannot bring the
    user back) with `banned_at` set."""

    __tablename__ = "community_room_members"

    room_id: Mapped[str] = mapped_column(
        ForeignKey("community_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    banned_by: Mapped[str | None] = mapped_column(String(32))


class RoomMessage(IdMixin, TimestampMixin, Base):
    """A chat message of a room: edited and deleted (soft) by its writer, hidden by the
    room owner or an admin; history is read newest first in pages."""

    __tablename__ = "community_room_messages"
    __table_args__ = (Index("ix_community_room_messages_history", "room_id", "created_at", "id"),)

    room_id: Mapped[str] = mapped_column(ForeignKey("community_rooms.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by: Mapped[str | None] = mapped_column(String(32))


class GroupExam(IdMixin, TimestampMixin, Base):
    """A group mock exam of a study room (ADR 0030): one blueprint form, drawn once with
    `seed` for every member, on one clock (`started_at`, `deadline_at`).

    `running_room_id` is the room's id while the exam runs and NULL afterwards; its unique
    constraint is what lets only one exam run in a room, however many starts race.
    Lifecycle: running → finished (every attempt graded; `missed_question_ids` went into
    the members' review queues)."""

    __tablename__ = "community_group_exams"

    room_id: Mapped[str] = mapped_column(
        ForeignKey("community_rooms.id", ondelete="CASCADE"), index=True
    )
    running_room_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    started_by: Mapped[str] = mapped_column(String(32))
    blueprint_id: Mapped[str] = mapped_column(String(32))
    certification_code: Mapped[str] = mapped_column(String(64))
    form_name: Mapped[str] = mapped_column(String(200))
    seed: Mapped[str] = mapped_column(String(32))
    question_count: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed_question_ids: Mapped[list[str] | None] = mapped_column(NullableJSONType)


class GroupExamSeat(Base):
    """One member's place in a group exam: their own attempt in the learning context."""

    __tablename__ = "community_group_exam_seats"

    group_exam_id: Mapped[str] = mapped_column(
        ForeignKey("community_group_exams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(String(32), unique=True)
