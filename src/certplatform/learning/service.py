"""The public face of learning: practice, remediation, mock exams, grading, regrading.

Services take the unit of work and never commit. Replies to a learner before submission
are built from `QuestionView`, which has no place for a key or an explanation.

The code lives by use case in `practice`, `remediation`, `exams`, `group` and `shared`; this module
names it in one place for the other contexts, the edges and the tests.
"""

from __future__ import annotations

from certplatform.learning.exams import (
    _graded_event,
    attempt_result,
    attempt_review,
    attempt_view,
    expired_attempts,
    hold_for_submit,
    my_attempts,
    record_integrity_event,
    regrade,
    save_answer,
    start_attempt,
    submit_attempt,
    unanswered,
)
from certplatform.learning.form_responses import form_attempts
from certplatform.learning.group import (
    item_rates,
    progress_of,
    queue_for_review,
    start_together,
)
from certplatform.learning.practice import (
    NOTHING_WRONG_MESSAGE,
    answer_practice,
    practice_question,
    practice_run,
    practice_session,
    practice_summary,
    retry_wrong_of_attempt,
    retry_wrong_of_run,
    start_practice,
    studied_certifications,
)
from certplatform.learning.remediation import (
    EXPECTED_ANSWER_MS,
    bookmarks,
    due_counts,
    due_reviews,
    get_settings,
    remove_wrong_note,
    set_bookmark,
    set_memo,
    update_settings,
    wrong_note_details,
    wrong_notes,
)
from certplatform.learning.shared import (
    ALL_LOCKED_MESSAGE,
    LOCKED_MESSAGE,
    REVIEW_LOCKED_MESSAGE,
    _response,
    internal_response,
    locked_questions,
    question_version,
    utc_today,
)

__all__ = [
    "ALL_LOCKED_MESSAGE",
    "EXPECTED_ANSWER_MS",
    "LOCKED_MESSAGE",
    "NOTHING_WRONG_MESSAGE",
    "REVIEW_LOCKED_MESSAGE",
    "_graded_event",
    "_response",
    "answer_practice",
    "attempt_result",
    "attempt_review",
    "attempt_view",
    "bookmarks",
    "due_counts",
    "due_reviews",
    "expired_attempts",
    "form_attempts",
    "get_settings",
    "hold_for_submit",
    "internal_response",
    "item_rates",
    "locked_questions",
    "my_attempts",
    "practice_question",
    "practice_run",
    "practice_session",
    "practice_summary",
    "progress_of",
    "question_version",
    "queue_for_review",
    "record_integrity_event",
    "regrade",
    "remove_wrong_note",
    "retry_wrong_of_attempt",
    "retry_wrong_of_run",
    "save_answer",
    "set_bookmark",
    "set_memo",
    "start_attempt",
    "start_practice",
    "start_together",
    "studied_certifications",
    "submit_attempt",
    "unanswered",
    "update_settings",
    "utc_today",
    "wrong_note_details",
    "wrong_notes",
]
