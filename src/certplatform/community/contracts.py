"""What other contexts and the edges may import from community: frozen DTOs and inputs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_COMMENT = 5000
MAX_NOTE = 1000
MAX_ABUSE_REASON = 500


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


def _text(value: str, limit: int, *, required: bool) -> str:
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        raise ValueError("Write something first.")
    if len(value) > limit:
        raise ValueError(f"This is too long ({len(value)} characters; at most {limit}).")
    return value


class CommentIn(_Frozen):
    # The bound is checked on the stripped text; the raw ceiling stops huge bodies early.
    body: str = Field(max_length=MAX_COMMENT * 2)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _text(value, MAX_COMMENT, required=True)


class VoteIn(_Frozen):
    value: int = Field(ge=-1, le=1, description="+1 up, -1 down, 0 takes the vote back")


class AbuseReportIn(_Frozen):
    reason: str = Field(default="", max_length=MAX_ABUSE_REASON * 2)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _text(value, MAX_ABUSE_REASON, required=False)


class ModerationIn(_Frozen):
    hidden: bool


class ErrorReason(StrEnum):
    WRONG_KEY = "wrong_key"
    OUTDATED_LAW = "outdated_law"
    TYPO = "typo"
    UNCLEAR = "unclear"


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ErrorReportIn(_Frozen):
    reason: ErrorReason
    note: str = Field(default="", max_length=MAX_NOTE * 2)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _text(value, MAX_NOTE, required=False)


class ErrorReportUpdate(_Frozen):
    status: ReportStatus
    resolution: str = Field(default="", max_length=MAX_NOTE * 2)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str) -> str:
        return _text(value, MAX_NOTE, required=False)


class CommentOut(_Out):
    """A comment as the reader may see it: a deleted comment has no body, a hidden one
    shows its body to moderators only (`hidden` tells them why others do not see it)."""

    id: str
    question_id: str
    author_id: str
    author_name: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    accepted: bool
    score: int
    my_vote: int
    mine: bool
    abuse_reports: int | None = None  # moderators only


class ThreadOut(_Out):
    question_id: str
    certification_code: str
    external_id: str | None
    stem: str
    comments: tuple[CommentOut, ...]
    can_moderate: bool
    my_open_reports: int


class ErrorReportOut(_Out):
    id: str
    question_id: str
    certification_code: str
    external_id: str | None = None
    reported_version: int
    current_version: int | None = None
    reporter_id: str
    reporter_name: str = ""
    reason: ErrorReason
    note: str
    status: ReportStatus
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolved_version: int | None
    resolution: str


class NoticeOut(_Out):
    id: str
    kind: str
    question_id: str
    report_id: str | None
    version: int | None
    created_at: datetime
    read_at: datetime | None


# Study rooms (ADR 0024)
MAX_ROOM_NAME = 80
MAX_MESSAGE = 2000
HISTORY_PAGE = 50


class Visibility(StrEnum):
    PUBLIC = "public"
    INVITE = "invite"
    PRIVATE = "private"


class RoomIn(_Frozen):
    name: str = Field(max_length=MAX_ROOM_NAME * 2)
    visibility: Visibility = Visibility.PUBLIC
    certification_code: str | None = Field(default=None, max_length=64)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return " ".join(_text(value, MAX_ROOM_NAME, required=True).split())


class MessageIn(_Frozen):
    body: str = Field(max_length=MAX_MESSAGE * 2)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _text(value, MAX_MESSAGE, required=True)


class TimerOut(_Out):
    """The shared Pomodoro: `started_at` None means stopped; otherwise the phase at any
    moment follows from the clock (focus, then break, repeated)."""

    started_at: datetime | None
    focus_seconds: int
    break_seconds: int


class RoomOut(_Out):
    id: str
    name: str
    visibility: Visibility
    owner_id: str
    owner_name: str = ""
    certification_code: str | None
    created_at: datetime
    invite_code: str | None = None  # the owner's and admins' eyes only
    can_moderate: bool = False
    timer: TimerOut


class MessageOut(_Out):
    """A chat message as everyone in the room sees it: a deleted or hidden message has no
    body (hidden ones are kept for the moderators' records, not shown)."""

    id: str
    room_id: str
    author_id: str
    author_name: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool


MAX_GROUP = 30  # members in one group exam; a room's call is 4, a study group rarely 30
MOST_MISSED = 5  # questions of a debrief that go into every member's review queue


class GroupExamIn(_Frozen):
    """Start a group exam from a blueprint for the listed members (REST); over the socket
    the members are those present in the room. The owner always takes part."""

    blueprint_id: str = Field(min_length=1, max_length=32)
    member_ids: tuple[Annotated[str, Field(min_length=1, max_length=32)], ...] = Field(
        default=(), max_length=MAX_GROUP
    )


class SeatProgress(_Out):
    """One member's progress as everyone in the room sees it: counts, never answers."""

    user_id: str
    name: str
    answered: int
    total: int
    submitted: bool


class GroupExamOut(_Out):
    id: str
    room_id: str
    form_name: str
    certification_code: str
    question_count: int
    started_at: datetime
    deadline_at: datetime
    state: str  # running | finished
    server_time: datetime
    my_attempt_id: str | None = None  # the caller's own attempt, if they hold a seat
    people: tuple[SeatProgress, ...] = ()


class QuestionRate(_Out):
    position: int
    question_id: str
    stem: str
    correct: int
    sat: int
    rate: float  # correct / sat, 0..1


class MyScore(_Out):
    attempt_id: str
    percent: float | None
    passed: bool | None


class DebriefOut(_Out):
    """After every attempt was graded: the group's correct rate per question, the most
    missed (now in each member's review queue) and the caller's own score only."""

    group_exam_id: str
    room_id: str
    form_name: str
    certification_code: str
    members: int
    questions: tuple[QuestionRate, ...]
    most_missed: tuple[QuestionRate, ...]
    mine: MyScore
