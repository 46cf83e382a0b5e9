"""Item statistics per exam form: hand-computed figures on a small fixture, and the whole
path from real sittings of a past paper to the page and the REST route."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from certplatform.analytics.form_report import (
    ChoiceInfo,
    QuestionInfo,
    cronbach_alpha,
    form_statistics,
)
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import FormAttempt, FormItemResponse
from tests.support.accounts import bearer
from tests.support.events import relay_events
from tests.support.forms import CERT, LEARNERS, sit_paper

# Five sittings of three one-point questions (1 = right):
#        q1 q2 q3  total
#   s1    1  1  1   3
#   s2    1  1  0   2
#   s3    1  0  0   1
#   s4    0  1  0   1
#   s5    0  0  0   0
SCORES = [(1, 1, 1), (1, 1, 0), (1, 0, 0), (0, 1, 0), (0, 0, 0)]
# Choices picked for q3 (key "k"): s1 the key, s2..s4 distractor "d1", s5 nothing.
Q3_PICKS = [("k",), ("d1",), ("d1",), ("d1",), ()]


def sittings() -> list[FormAttempt]:
    out = []
    for s, row in enumerate(SCORES):
        items = tuple(
            FormItemResponse(
                position=j,
                section_code="S",
                question_id=f"q{j + 1}",
                version_id=f"v{j + 1}",
                points=1.0,
                earned=float(right),
                fraction=float(right),
                answered=not (j == 2 and s == 4),
                choice_ids=Q3_PICKS[s] if j == 2 else (),
                time_ms=10_000 * (j + 1) + 1_000 * s,
            )
            for j, right in enumerate(row)
        )
        out.append(
            FormAttempt(
                attempt_id=f"a{s}",
                user_id=f"u{s}",
                submitted_at=datetime(2026, 12, 1, tzinfo=UTC),
                percent=100 * sum(row) / 3,
                items=items,
            )
        )
    return out


QUESTIONS = {
    "q3": QuestionInfo(
        external_id="Q3",
        stem="third",
        choices=(
            ChoiceInfo("k", "key", True),
            ChoiceInfo("d1", "one", False),
            ChoiceInfo("d2", "two", False),
        ),
    )
}


def test_hand_computed_form_figures() -> None:
    summary, items = form_statistics(sittings(), QUESTIONS, {"q1": (1.2, -0.5, 0.0)})
    # Item variances .24 .24 .16 (Σ .64), total variance 1.04 (both population; the
    # ratio is the same with n - 1): α = 3/2 · (1 - .64/1.04) = 15/26.
    assert summary.alpha == pytest.approx(15 / 26)
    assert summary.items_by == "question"
    assert summary.attempts == 5
    assert summary.mean == pytest.approx(100 * 7 / 15)
    assert summary.median == pytest.approx(100 / 3)
    # Totals' sample variance 5.2 / 4 = 1.3 points² → SD √1.3 points = √1.3 · 100/3 percent.
    sd = math.sqrt(1.3) * 100 / 3
    assert summary.sd == pytest.approx(sd)
    assert summary.standard_error == pytest.approx(sd * math.sqrt(11 / 26))
    # m2 = 1.04, m3 = 1.44/5 = .288 (points): k3/k2^1.5 = √(n(n-1))/(n-2) · m3/m2^1.5.
    assert summary.skewness == pytest.approx(math.sqrt(20) / 3 * 0.288 / 1.04**1.5)
    # m4 = (1.6⁴ + .6⁴ + 2·.4⁴ + 1.4⁴)/5; k4 = n²((n+1)m4 - 3(n-1)m2²)/((n-1)(n-2)(n-3)).
    m4 = (1.6**4 + 0.6**4 + 2 * 0.4**4 + 1.4**4) / 5
    k2, k4 = 5 * 1.04 / 4, 25 * (6 * m4 - 12 * 1.04**2) / (4 * 3 * 2)
    assert summary.kurtosis == pytest.approx(k4 / k2**2)

    q1, q2, q3 = items
    assert [r.question_id for r in items] == ["q1", "q2", "q3"]
    # q1 against the rest (2, 1, 0, 1, 0): r = .6 / √(1.2 · 2.8).
    assert q1.discrimination == pytest.approx(0.6 / math.sqrt(1.2 * 2.8))
    assert q1.facility == pytest.approx(0.6)
    assert (q1.a, q1.b, q1.c) == (1.2, -0.5, 0.0)
    assert q2.a is None  # no stored calibration
    # q3 against the rest (2, 2, 1, 1, 0): r = .8 / √(.8 · 2.8).
    assert q3.discrimination == pytest.approx(0.8 / math.sqrt(0.8 * 2.8))
    assert q3.facility == pytest.approx(0.2)
    assert q3.blank_rate == pytest.approx(0.2)
    assert q3.mean_seconds == pytest.approx((30 + 31 + 32 + 33) / 4)  # s5 left it blank
    rates = {c.choice_id: (c.rate, c.top_rate) for c in q3.choices}
    # The top 27 % of five sittings is one: s1 (total 3), who picked the key.
    assert rates == {"k": (0.2, 1.0), "d1": (0.6, 0.0), "d2": (0.0, 0.0)}


def test_flags_within_the_form() -> None:
    rows = sittings()
    # q2 reversed: the strong get it wrong → negative discrimination. The strongest
    # sitting (s1, total 2 after the flip, first of the tie with s3) picks distractor d1
    # of q3 and still scores its point: a distractor strong learners pick.
    flipped = []
    for a in rows:
        items = tuple(
            i.model_copy(update={"earned": 1 - i.earned, "fraction": 1 - i.fraction})
            if i.question_id == "q2"
            else i.model_copy(update={"choice_ids": ("d1",)})
            if i.question_id == "q3" and a.attempt_id == "a0"
            else i
            for i in a.items
        )
        flipped.append(a.model_copy(update={"items": items}))
    _, items = form_statistics(flipped, QUESTIONS, {}, min_for_flags=5)
    flags = {r.question_id: r.flags for r in items}
    assert "negative_discrimination" in flags["q2"]
    assert "negative_discrimination" not in flags["q1"]
    assert "too_hard" not in flags["q3"]  # facility .2 is not below .2
    assert "unpicked" in flags["q3"]  # nobody picked d2
    assert "strong_distractor" in flags["q3"]
    assert "strong_distractor" not in flags["q1"]


def test_alpha_of_a_known_matrix_and_degenerate_cases() -> None:
    m = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert cronbach_alpha(np.array(m, dtype=float)) == pytest.approx(15 / 26)
    assert cronbach_alpha(np.ones((4, 3))) is None  # no spread in the totals
    assert cronbach_alpha(np.ones((1, 3))) is None


async def test_real_sittings_of_a_past_paper_through_rest_and_the_page(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    sat = await sit_paper(client, db, storage)
    await relay_events(app)
    author = await bearer(client, db, "author")
    listing = await client.get(
        "/api/v1/analytics/forms", params={"certification": CERT}, headers=author
    )
    assert listing.status_code == 200, listing.text
    assert [(f["form_id"], f["attempts"]) for f in listing.json()] == [(sat.paper, LEARNERS)]

    reply = await client.get(f"/api/v1/analytics/forms/{sat.paper}/items", headers=author)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    summary, items = report["summary"], {r["question_id"]: r for r in report["items"]}
    assert report["form_kind"] == "paper"
    assert summary["attempts"] == LEARNERS
    assert summary["items_by"] == "question"
    # The figures are those of the planted grid, computed here from scratch.
    grid = np.array([[1.0 if r else 0.0 for r in row] for row in sat.right])
    totals = grid.sum(axis=1)
    assert summary["mean"] == pytest.approx((100 * totals / len(sat.questions)).mean())
    assert summary["alpha"] == pytest.approx(cronbach_alpha(grid))
    for j, q in enumerate(sat.questions):
        rest = totals - grid[:, j]
        assert items[q]["facility"] == pytest.approx(grid[:, j].mean())
        assert items[q]["discrimination"] == pytest.approx(np.corrcoef(grid[:, j], rest)[0, 1])
    reversed_q, blank_q = sat.questions[4], sat.questions[3]
    assert "negative_discrimination" in items[reversed_q]["flags"]
    assert items[blank_q]["blank_rate"] == pytest.approx(1 / LEARNERS)
    picks = {c["text"]: c["rate"] for c in items[reversed_q]["choices"]}
    assert picks == {"V = IR": 0.5, "V = I/R": 0.0, "V = R/I": 0.5, "V = I + R": 0.0}
    assert items[sat.questions[0]]["mean_seconds"] > 0  # bounded by the server's clock

    page = await client.get(f"/admin/forms/{sat.paper}/items", headers=author)
    assert page.status_code == 200
    assert "2026년 1회 모의" in page.text
    learner = await bearer(client, db)
    for path in (f"/admin/forms/{sat.paper}/items", f"/api/v1/analytics/forms/{sat.paper}/items"):
        assert (await client.get(path, headers=learner)).status_code in (403, 404)
    missing = await client.get("/api/v1/analytics/forms/nosuchform/items", headers=author)
    assert missing.status_code == 404


def test_a_drawn_form_takes_its_positions_as_the_items_of_alpha() -> None:
    """Sittings of a blueprint see different questions: alpha is over positions, while
    each question's figures come from the sittings that had it."""
    rows = sittings()
    # The second and fourth sittings got another question "q9" at position 2.
    drawn = [
        a.model_copy(
            update={
                "items": tuple(
                    i.model_copy(update={"question_id": "q9"}) if i.position == 2 else i
                    for i in a.items
                )
            }
        )
        if s in (1, 3)
        else a
        for s, a in enumerate(rows)
    ]
    summary, items = form_statistics(drawn, QUESTIONS, {})
    assert summary.items_by == "position"
    assert summary.alpha == pytest.approx(15 / 26)  # the same scores in the same positions
    by_id = {r.question_id: r for r in items}
    assert (by_id["q3"].attempts, by_id["q9"].attempts) == (3, 2)
    assert by_id["q3"].facility == pytest.approx(1 / 3)
    assert by_id["q9"].facility == 0.0
