"""The read queries of the dashboard and the item report, written once.

Each is plain SQL that SQLite, PostgreSQL and ClickHouse run as it stands (ADR 0031):
`SELECT … FROM analytics_… WHERE … [GROUP BY …] [ORDER BY …] [LIMIT n]`, `:name`
parameters, `count(DISTINCT …)`, `sum`, `IN :list`, `IS [NOT] NULL`, `<>`. Nothing
engine-specific: no casts, no JSON or array functions, no FINAL (the ClickHouse adapter
applies it by setting), no alias equal to a column name. Ties in an ORDER BY are broken by
a key, so every engine returns the same order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date
from sqlalchemy.types import TypeEngine

from certplatform.analytics.port import AnalyticsStore, Query
from certplatform.kernel.db import JSONType, UTCDateTime

_DAY = Date()
_WHEN = UTCDateTime()
_FLAG = Boolean()

LAST_CERTIFICATION = Query(
    "SELECT certification FROM analytics_learner_days WHERE user_id = :user "
    "ORDER BY day DESC, certification LIMIT 1"
)
ANSWERS_PER_DAY = Query(
    "SELECT day, sum(answered) AS n FROM analytics_learner_days "
    "WHERE user_id = :user AND certification = :certification AND day > :since "
    "GROUP BY day",
    columns={"day": _DAY},
    params={"since": _DAY},
)
STUDY_DAYS = Query(
    "SELECT DISTINCT day FROM analytics_learner_days WHERE user_id = :user AND day > :since",
    columns={"day": _DAY},
    params={"since": _DAY},
)
SEEN = Query(
    "SELECT count(DISTINCT question_id) AS n FROM analytics_answers "
    "WHERE user_id = :user AND certification = :certification"
)
SCORES = Query(
    "SELECT attempt_id, form_name, submitted_at, percent, passed FROM analytics_attempts "
    "WHERE user_id = :user AND certification = :certification AND submitted_at IS NOT NULL "
    "ORDER BY submitted_at DESC, attempt_id DESC LIMIT 20",
    columns={"submitted_at": _WHEN, "passed": _FLAG},
)
SUBJECT_DAYS = Query(
    "SELECT subject, day, answered, correct, elapsed_ms FROM analytics_learner_days "
    "WHERE user_id = :user AND certification = :certification",
    columns={"day": _DAY},
)
_REGRADE = (
    "SELECT attempt_id, form_name, previous_percent, percent, previous_passed, passed, "
    "regraded_at FROM analytics_attempts WHERE user_id = :user AND regraded_at IS NOT NULL "
    "AND (previous_percent <> percent OR previous_passed <> passed) "
)
_REGRADE_COLUMNS: dict[str, TypeEngine[Any]] = {
    "previous_passed": _FLAG,
    "passed": _FLAG,
    "regraded_at": _WHEN,
}
RECENT_REGRADES = Query(
    _REGRADE + "AND regraded_at > :since ORDER BY regraded_at DESC, attempt_id",
    columns=_REGRADE_COLUMNS,
    params={"since": _WHEN},
)
REGRADE_OF = Query(
    _REGRADE + "AND attempt_id = :attempt ORDER BY regraded_at DESC, attempt_id",
    columns=_REGRADE_COLUMNS,
)
ITEM_COUNTS = Query(
    "SELECT question_id, attempts, correct FROM analytics_items WHERE question_id IN :questions",
    lists=("questions",),
)
MY_ANSWERS = Query(
    "SELECT question_id, correct FROM analytics_answers "
    "WHERE user_id = :user AND certification = :certification "
    "ORDER BY answered_at, answer_id",
    columns={"correct": _FLAG},
)
CERTIFICATION_ANSWERS = Query(
    "SELECT user_id, question_id, correct, elapsed_ms, choice_ids FROM analytics_answers "
    "WHERE certification = :certification ORDER BY answered_at, answer_id",
    columns={"correct": _FLAG, "choice_ids": JSONType},
)
# The item calibration (ADR 32): the certifications with answers, and their answers.
ANSWERED_CERTIFICATIONS = Query(
    "SELECT DISTINCT certification FROM analytics_answers ORDER BY certification"
)
CERTIFICATION_RESULTS = Query(
    "SELECT user_id, question_id, correct FROM analytics_answers "
    "WHERE certification = :certification ORDER BY answered_at, answer_id",
    columns={"correct": _FLAG},
)
# What a cached P(pass) depends on of the learner's answers: their number (facts are
# written once, so every new answer changes it).
MY_ANSWER_COUNT = Query(
    "SELECT count(*) AS n FROM analytics_answers "
    "WHERE user_id = :user AND certification = :certification"
)
# Graded sittings per exam form (the per-form item report's list).
FORM_SITTINGS = Query(
    "SELECT form_id, count(*) AS n FROM analytics_attempts "
    "WHERE certification = :certification AND submitted_at IS NOT NULL GROUP BY form_id"
)

ALL = {
    name: value for name, value in globals().items() if isinstance(value, Query) and name.isupper()
}


# ---- the same queries as typed answers ------------------------------------------------------


async def last_certification(store: AnalyticsStore, user: str) -> str | None:
    rows = await store.rows(LAST_CERTIFICATION, user=user)
    return str(rows[0][0]) if rows else None


async def answers_per_day(
    store: AnalyticsStore, user: str, certification: str, since: date
) -> dict[date, int]:
    rows = await store.rows(ANSWERS_PER_DAY, user=user, certification=certification, since=since)
    return {day: int(n) for day, n in rows}


async def study_days(store: AnalyticsStore, user: str, since: date) -> set[date]:
    return {day for (day,) in await store.rows(STUDY_DAYS, user=user, since=since)}


async def seen(store: AnalyticsStore, user: str, certification: str) -> int:
    rows = await store.rows(SEEN, user=user, certification=certification)
    return int(rows[0][0] or 0) if rows else 0


async def scores(store: AnalyticsStore, user: str, certification: str) -> list[tuple[Any, ...]]:
    """(attempt_id, form_name, submitted_at, percent, passed), newest first."""
    return await store.rows(SCORES, user=user, certification=certification)


async def subject_days(
    store: AnalyticsStore, user: str, certification: str
) -> list[tuple[str, date, int, int, int]]:
    rows = await store.rows(SUBJECT_DAYS, user=user, certification=certification)
    return [(str(s), d, int(n), int(r), int(ms)) for s, d, n, r, ms in rows]


async def regrades(
    store: AnalyticsStore, user: str, *, since: datetime | None = None, attempt: str | None = None
) -> list[tuple[Any, ...]]:
    """(attempt_id, form_name, previous_percent, percent, previous_passed, passed,
    regraded_at) of regrades that changed a score or a result, newest first."""
    if attempt is not None:
        return await store.rows(REGRADE_OF, user=user, attempt=attempt)
    return await store.rows(RECENT_REGRADES, user=user, since=since)


async def item_counts(store: AnalyticsStore, questions: list[str]) -> dict[str, tuple[int, int]]:
    """question → (answers, right answers) over everyone."""
    if not questions:
        return {}
    rows = await store.rows(ITEM_COUNTS, questions=questions)
    return {str(q): (int(n), int(right)) for q, n, right in rows}


async def my_latest_answers(
    store: AnalyticsStore, user: str, certification: str
) -> dict[str, bool]:
    """My latest answer to each question: right or not."""
    latest: dict[str, bool] = {}
    for q, right in await store.rows(MY_ANSWERS, user=user, certification=certification):
        latest[str(q)] = bool(right)
    return latest


async def certification_answers(
    store: AnalyticsStore, certification: str
) -> list[tuple[str, str, bool, int, list[str]]]:
    """Every answer in the certification, oldest first: (user, question, right, ms, picks)."""
    rows = await store.rows(CERTIFICATION_ANSWERS, certification=certification)
    return [(str(u), str(q), bool(r), int(ms), list(picked)) for u, q, r, ms, picked in rows]


async def answered_certifications(store: AnalyticsStore) -> list[str]:
    return [str(c) for (c,) in await store.rows(ANSWERED_CERTIFICATIONS)]


async def certification_results(
    store: AnalyticsStore, certification: str
) -> list[tuple[str, str, bool]]:
    """Every answer in the certification, oldest first: (user, question, right)."""
    rows = await store.rows(CERTIFICATION_RESULTS, certification=certification)
    return [(str(u), str(q), bool(r)) for u, q, r in rows]


async def my_answer_count(store: AnalyticsStore, user: str, certification: str) -> int:
    rows = await store.rows(MY_ANSWER_COUNT, user=user, certification=certification)
    return int(rows[0][0] or 0) if rows else 0


async def form_sittings(store: AnalyticsStore, certification: str) -> dict[str, int]:
    rows = await store.rows(FORM_SITTINGS, certification=certification)
    return {str(f): int(n) for f, n in rows}
