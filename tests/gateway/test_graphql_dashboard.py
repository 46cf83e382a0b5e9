"""The learner's dashboard over GraphQL: the same figures as REST, only my own data."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from certplatform.analytics.store import study_day
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from tests.analytics.test_pipeline import CERT, learner, practise
from tests.gateway.test_graphql import data, error
from tests.support.events import relay_events
from tests.support.exams import load

DASHBOARD = """
query D($cert: String) {
  dashboard(certification: $cert) {
    certification certificationName today examDate daysToExam dueToday streakDays dailyGoal
    answeredToday seen bankSize
    daily { day count }
    scores { attemptId formName submittedAt percent passed }
    subjects { code name answered accuracy meanSeconds weeks { week answered correct seconds } }
    forecast { day count }
    passChance {
      blueprint pPass low high mostAtRisk mostAtRiskName tooLittleData thinSubjects
      subjects { code name expectedPercent pBelowFloor answered }
      provisionalItems studyNext studyNextName studyNextGain
    }
    regrades { attemptId percent }
  }
}
"""


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _as_rest(value: object) -> object:
    """GraphQL's camelCase reply in REST's snake_case shape."""
    if isinstance(value, dict):
        return {_snake(k): _as_rest(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_rest(v) for v in value]
    return value


async def test_my_dashboard_over_graphql_matches_rest(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    anna = await learner(client, db, "anna")
    nothing = await error(client, DASHBOARD, {}, anna)
    assert nothing["extensions"]["code"] == "not_found"  # nothing studied yet
    exam_day = study_day(utcnow()) + timedelta(days=30)
    await client.put(
        "/api/v1/learning/settings",
        json={"desired_retention": 0.9, "exam_dates": {CERT: exam_day.isoformat()}},
        headers=anna,
    )
    await practise(client, db, anna, right=5, wrong=3)
    await relay_events(app)

    board = (await data(client, DASHBOARD, {}, anna))["dashboard"]
    assert board["certification"] == CERT
    assert board["daysToExam"] == 30
    assert board["answeredToday"] == 8
    assert board["seen"] == 8
    assert board["passChance"]["low"] <= board["passChance"]["pPass"] <= board["passChance"]["high"]
    rest = (await client.get("/api/v1/analytics/dashboard", headers=anna)).json()
    assert _as_rest(board) == {k: v for k, v in rest.items() if k in _as_rest(board)}

    # Only my own data: another learner sees their own (empty) state, never Anna's.
    ben = await learner(client, db, "ben")
    theirs = (await data(client, DASHBOARD, {"cert": CERT}, ben))["dashboard"]
    assert (theirs["seen"], theirs["answeredToday"], theirs["daysToExam"]) == (0, 0, None)
    assert all(s["answered"] == 0 for s in theirs["subjects"])


async def test_anonymous_callers_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    problem = await error(client, DASHBOARD, {"cert": CERT})
    assert problem["extensions"] == {"code": "not_authenticated", "status": 401}
