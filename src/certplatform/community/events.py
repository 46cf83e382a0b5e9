"""Events the community context publishes (the audit context records them)."""

from __future__ import annotations

COMMENT_POSTED = "certplatform.community.comment.posted.v1"
COMMENT_EDITED = "certplatform.community.comment.edited.v1"
COMMENT_DELETED = "certplatform.community.comment.deleted.v1"
COMMENT_HIDDEN = "certplatform.community.comment.hidden.v1"
COMMENT_UNHIDDEN = "certplatform.community.comment.unhidden.v1"
COMMENT_ACCEPTED = "certplatform.community.comment.accepted.v1"
COMMENT_REPORTED = "certplatform.community.comment.reported.v1"
ERROR_REPORT_FILED = "certplatform.community.error_report.filed.v1"
ERROR_REPORT_RESOLVED = "certplatform.community.error_report.resolved.v1"

COMMENT_TOPICS = (
    COMMENT_POSTED,
    COMMENT_EDITED,
    COMMENT_DELETED,
    COMMENT_HIDDEN,
    COMMENT_UNHIDDEN,
    COMMENT_ACCEPTED,
    COMMENT_REPORTED,
)
REPORT_TOPICS = (ERROR_REPORT_FILED, ERROR_REPORT_RESOLVED)
# What this context listens to: a new version of a question resolves its open reports.
QUESTION_VERSIONED = "certplatform.content.question.versioned.v1"

# Study rooms (ADR 0024): creation and moderation are audited; chat messages are not.
ROOM_CREATED = "certplatform.community.room.created.v1"
ROOM_MEMBER_BANNED = "certplatform.community.room.member_banned.v1"
ROOM_MESSAGE_HIDDEN = "certplatform.community.room.message_hidden.v1"
GROUP_EXAM_STARTED = "certplatform.community.room.group_exam_started.v1"
GROUP_EXAM_FINISHED = "certplatform.community.room.group_exam_finished.v1"
ROOM_TOPICS = (
    ROOM_CREATED,
    ROOM_MEMBER_BANNED,
    ROOM_MESSAGE_HIDDEN,
    GROUP_EXAM_STARTED,
    GROUP_EXAM_FINISHED,
)
