"""Review scheduling: FSRS, and what an exam date changes."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fsrs import Card, Rating, Scheduler, State
from hypothesis import assume, given
from hypothesis import strategies as st

from certplatform.learning.scheduling import (
    EXAM_EVE,
    EXAM_RETENTION,
    ReviewScheduler,
    forgetting_curve,
    interval_days,
    rating_for,
    retrievability,
)

T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def replay(
    scheduler: ReviewScheduler, steps: list[tuple[Rating, timedelta]], start: datetime = T0
) -> tuple[dict[str, Any] | None, datetime, datetime]:
    """Review at `start + sum(gaps)`; return the last state, its due time and the last time."""
    state: dict[str, Any] | None = None
    now = due = start
    for rating, gap in steps:
        now += gap
        state, due = scheduler.review(state, rating, now)
    return state, due, now


def plain_fsrs(
    retention: float, state: dict[str, Any] | None, rating: Rating, now: datetime
) -> tuple[dict[str, Any], datetime]:
    card = Card(card_id=0, due=now) if state is None else Card.from_dict(state)
    card, _ = Scheduler(desired_retention=retention, enable_fuzzing=False).review_card(
        card, rating, review_datetime=now
    )
    return card.to_dict(), card.due


def review_state(stability_days: float) -> dict[str, Any]:
    """A card in review, last seen at T0 with the given stability."""
    state: dict[str, Any] = Card(
        card_id=0,
        state=State.Review,
        stability=stability_days,
        difficulty=5.0,
        due=T0 + timedelta(days=stability_days),
        last_review=T0,
    ).to_dict()
    return state


# --------------------------------------------------------------------------------------------
# Ratings from practice answers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("correct", "elapsed", "expected", "rating"),
    [
        (False, 1_000, 30_000, Rating.Again),
        (False, 90_000, 30_000, Rating.Again),
        (True, 1_000, 30_000, Rating.Good),
        (True, 30_000, 30_000, Rating.Good),
        (True, 45_000, 30_000, Rating.Good),  # exactly 1.5 × expected is not slow yet
        (True, 45_001, 30_000, Rating.Hard),
        (True, 0, 1, Rating.Good),
    ],
)
def test_rating_for(correct: bool, elapsed: int, expected: int, rating: Rating) -> None:
    assert rating_for(correct, elapsed, expected) == rating


@pytest.mark.parametrize(("elapsed", "expected"), [(1, 0), (1, -5), (-1, 10)])
def test_rating_for_refuses_bad_times(elapsed: int, expected: int) -> None:
    with pytest.raises(ValueError, match="time"):
        rating_for(True, elapsed, expected)


# --------------------------------------------------------------------------------------------
# Plain scheduling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retention", [0.69, 0.975, 1.0, 0.0])
def test_desired_retention_is_bounded(retention: float) -> None:
    with pytest.raises(ValueError, match="desired retention"):
        ReviewScheduler(retention)


@pytest.mark.parametrize("retention", [0.7, 0.85, 0.97])
def test_desired_retention_bounds_are_inclusive(retention: float) -> None:
    assert ReviewScheduler(retention).desired_retention == retention


def test_times_must_be_aware_and_are_kept_in_utc() -> None:
    scheduler = ReviewScheduler(0.9, enable_fuzzing=False)
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduler.review(None, Rating.Good, datetime(2025, 1, 1, 9))  # noqa: DTZ001
    kst = timezone(timedelta(hours=9))
    local = scheduler.review(None, Rating.Easy, T0.astimezone(kst))
    assert local == scheduler.review(None, Rating.Easy, T0)
    assert local[1].tzinfo == UTC


def test_state_is_json_and_round_trips() -> None:
    scheduler = ReviewScheduler(0.9, enable_fuzzing=False)
    state, due = scheduler.review(None, Rating.Good, T0)
    stored = json.loads(json.dumps(state))
    again = scheduler.review(stored, Rating.Good, due)
    assert again == scheduler.review(state, Rating.Good, due)
    assert again[0]["state"] == State.Review


@pytest.mark.parametrize(
    "state",
    [{}, {"card_id": 0}, {**review_state(3), "due": "not a date"}, {**review_state(3), "state": 9}],
)
def test_bad_state_is_refused(state: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a card state"):
        ReviewScheduler().review(state, Rating.Good, T0 + DAY)


def test_naive_times_in_state_are_refused() -> None:
    state = {**review_state(3), "last_review": "2025-01-06T09:30:00"}
    with pytest.raises(ValueError, match="timezone-aware"):
        ReviewScheduler().review(state, Rating.Good, T0 + DAY)


def test_review_cannot_precede_the_last_one() -> None:
    with pytest.raises(ValueError, match="before the card's last review"):
        ReviewScheduler().review(review_state(3), Rating.Good, T0 - DAY)


def test_rating_accepts_plain_integers() -> None:
    scheduler = ReviewScheduler(enable_fuzzing=False)
    assert scheduler.review(None, 3, T0) == scheduler.review(None, Rating.Good, T0)


ratings = st.sampled_from(list(Rating))
gaps = st.integers(0, 90 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))
histories = st.lists(st.tuples(ratings, gaps), min_size=1, max_size=12)
retentions = st.floats(0.7, 0.97)


@given(retentions, histories)
def test_without_exam_date_it_is_plain_fsrs(
    retention: float, steps: list[tuple[Rating, timedelta]]
) -> None:
    scheduler = ReviewScheduler(retention, enable_fuzzing=False)
    state: dict[str, Any] | None = None
    now = T0
    for rating, gap in steps:
        now += gap
        expected = plain_fsrs(retention, state, rating, now)
        state, due = scheduler.review(state, rating, now)
        assert (state, due) == expected


def test_without_exam_date_fuzzing_is_fsrs_fuzzing() -> None:
    scheduler = ReviewScheduler(0.9)
    state: dict[str, Any] | None = None
    now = T0
    for seed, rating in enumerate([Rating.Good, Rating.Good, Rating.Good, Rating.Hard] * 3):
        card = Card(card_id=0, due=now) if state is None else Card.from_dict(state)
        random.seed(seed)
        card, _ = Scheduler(desired_retention=0.9).review_card(card, rating, now)
        random.seed(seed)
        state, due = scheduler.review(state, rating, now)
        assert (state, due) == (card.to_dict(), card.due)
        now = due


@given(retentions, histories, st.integers(-400, -1))
def test_after_the_exam_it_is_plain_fsrs(
    retention: float, steps: list[tuple[Rating, timedelta]], exam_offset: int
) -> None:
    exam = ReviewScheduler(retention, T0.date() + timedelta(days=exam_offset), enable_fuzzing=False)
    plain = ReviewScheduler(retention, enable_fuzzing=False)
    assert replay(exam, steps) == replay(plain, steps)


def test_retrievability_follows_the_fsrs_curve() -> None:
    state = review_state(10)
    assert retrievability(state, T0) == 1.0
    assert retrievability(state, T0 + 10 * DAY) == pytest.approx(0.9)  # stability's meaning
    assert retrievability(state, T0 + 30 * DAY) < retrievability(state, T0 + 29.5 * DAY)
    assert retrievability(None, T0) == 0.0
    card = Card.from_dict(state)
    for days in (1, 7, 40):
        at = T0 + days * DAY
        assert retrievability(state, at) == pytest.approx(card.get_retrievability(at))
    assert interval_days(10, 0.9) == pytest.approx(10)
    assert forgetting_curve(interval_days(4, 0.95), 4) == pytest.approx(0.95)


# --------------------------------------------------------------------------------------------
# With an exam date
# --------------------------------------------------------------------------------------------


def exam_in(days: float, retention: float = 0.9, **kwargs: Any) -> ReviewScheduler:
    """A scheduler whose exam starts `days` after T0, rounded to a whole date."""
    exam_day = (T0 + timedelta(days=days)).date()
    return ReviewScheduler(retention, exam_day, enable_fuzzing=False, **kwargs)


def test_exam_starts_at_midnight_utc() -> None:
    scheduler = ReviewScheduler(0.9, date(2025, 3, 8))
    assert scheduler.exam_at == datetime(2025, 3, 8, tzinfo=UTC)
    assert scheduler.exam_ahead(datetime(2025, 3, 7, 23, 59, tzinfo=UTC))
    assert not scheduler.exam_ahead(datetime(2025, 3, 8, tzinfo=UTC))


@pytest.mark.parametrize(
    ("desired", "days_left", "expected"),
    [
        (0.9, 30, 0.9),
        (0.9, 14.5, 0.9),
        (0.9, 14, 0.9 + 0.05 / 3),
        (0.9, 7.5, 0.9 + 0.05 / 3),
        (0.9, 7, 0.9 + 0.1 / 3),
        (0.9, 3.5, 0.9 + 0.1 / 3),
        (0.9, 3, 0.95),
        (0.9, 0.01, 0.95),
        (0.8, 5, 0.9),
        (0.97, 2, 0.97),  # never lowered
        (0.9, -1, 0.9),  # exam over
    ],
)
def test_retention_rises_stepwise_before_the_exam(
    desired: float, days_left: float, expected: float
) -> None:
    scheduler = ReviewScheduler(desired, date(2025, 3, 8))
    assert scheduler.exam_at is not None
    now = scheduler.exam_at - timedelta(days=days_left)
    assert scheduler.effective_retention(now) == pytest.approx(expected)


def test_exam_retention() -> None:
    assert ReviewScheduler(0.8).exam_retention == EXAM_RETENTION
    assert ReviewScheduler(0.97).exam_retention == 0.97


def test_exam_date_never_changes_memory_state() -> None:
    steps = [(Rating.Good, timedelta()), (Rating.Good, 10 * DAY), (Rating.Hard, 20 * DAY)]
    aware, _, _ = replay(exam_in(25), steps)
    plain, _, _ = replay(ReviewScheduler(enable_fuzzing=False), steps)
    assert aware is not None
    assert plain is not None
    assert {k: v for k, v in aware.items() if k != "due"} == {
        k: v for k, v in plain.items() if k != "due"
    }


def test_far_exam_changes_nothing_while_fsrs_stays_before_it() -> None:
    state = review_state(5)
    now = T0 + 5 * DAY
    assert exam_in(200).review(state, Rating.Good, now) == plain_fsrs(0.9, state, Rating.Good, now)


def test_review_due_after_the_exam_is_pulled_to_the_eve() -> None:
    scheduler = exam_in(60)
    assert scheduler.exam_at is not None
    now = T0 + 20 * DAY
    _, plain_due = plain_fsrs(0.9, review_state(20), Rating.Good, now)
    assert plain_due > scheduler.exam_at
    state, due = scheduler.review(review_state(20), Rating.Good, now)
    assert due == scheduler.exam_at - EXAM_EVE
    assert state["due"] == due.isoformat()


def test_card_that_lasts_through_the_exam_is_due_at_the_exam() -> None:
    # reviewed a day and a half ahead with a long memory: no review needed before the exam
    now = T0 + 20 * DAY
    scheduler = ReviewScheduler(0.9, (now + 2 * DAY).date(), enable_fuzzing=False)
    state, due = scheduler.review(review_state(60), Rating.Good, now)
    assert due == scheduler.exam_at
    assert retrievability(state, due) >= EXAM_RETENTION


def test_weak_card_is_reviewed_close_to_the_exam() -> None:
    scheduler = exam_in(10)
    assert scheduler.exam_at is not None
    now = scheduler.exam_at - timedelta(hours=21)
    state, due = scheduler.review(review_state(2), Rating.Again, now)
    assert due - now == timedelta(minutes=10)  # relearning step, untouched
    state, due = scheduler.review(state, Rating.Good, due)
    assert state["state"] == State.Review
    # FSRS would wait a day, past the exam; the review comes the evening before instead
    assert scheduler.exam_at - EXAM_EVE < due < scheduler.exam_at - timedelta(hours=12)
    # even a laboured recall then leaves the card at exam-day retention
    state, after = scheduler.review(state, Rating.Hard, due)
    assert after == scheduler.exam_at
    assert retrievability(state, scheduler.exam_at) >= EXAM_RETENTION


@pytest.mark.parametrize("stability", [2.0, 8.0, 20.0, 60.0])
def test_due_dates_move_earlier_as_the_exam_approaches(stability: float) -> None:
    now = T0 + 0.8 * stability * DAY
    far = ReviewScheduler(0.9, (now + 30 * DAY).date(), enable_fuzzing=False)
    near = ReviewScheduler(0.9, (now + 5 * DAY).date(), enable_fuzzing=False)
    _, plain_due = plain_fsrs(0.9, review_state(stability), Rating.Good, now)
    _, far_due = far.review(review_state(stability), Rating.Good, now)
    _, near_due = near.review(review_state(stability), Rating.Good, now)
    assert near_due - now < far_due - now
    assert far_due <= plain_due


def test_stepwise_ramp_shortens_intervals_that_fit_before_the_exam() -> None:
    # 13 days out, FSRS at 0.9 would wait 5 days; the raised retention waits less.
    state = review_state(3)
    now = T0 + 3 * DAY
    _, plain_due = plain_fsrs(0.9, state, Rating.Good, now)
    scheduler = ReviewScheduler(0.9, (now + 13 * DAY).date(), enable_fuzzing=False)
    _, due = scheduler.review(state, Rating.Good, now)
    assert scheduler.exam_at is not None
    assert plain_due < scheduler.exam_at - EXAM_EVE
    assert due < plain_due


exam_offsets = st.integers(1, 150)


@given(retentions, histories, exam_offsets, st.booleans())
def test_due_never_falls_after_an_exam_ahead(
    retention: float, steps: list[tuple[Rating, timedelta]], exam_offset: int, fuzz: bool
) -> None:
    exam_day = T0.date() + timedelta(days=exam_offset)
    scheduler = ReviewScheduler(retention, exam_day, enable_fuzzing=fuzz)
    assert scheduler.exam_at is not None
    state: dict[str, Any] | None = None
    now = T0
    for rating, gap in steps:
        now += gap
        state, due = scheduler.review(state, rating, now)
        assert due > now
        if now < scheduler.exam_at:
            assert due <= scheduler.exam_at
            assert due.date() <= exam_day


successes = st.sampled_from([Rating.Hard, Rating.Good, Rating.Easy])


@given(
    retentions,
    st.lists(st.tuples(ratings, gaps), max_size=8),
    st.integers(0, 150),
    st.lists(ratings, max_size=15),
    st.lists(successes, min_size=1, max_size=5),
    st.booleans(),
)
def test_following_the_schedule_meets_retention_at_the_exam(
    retention: float,
    history: list[tuple[Rating, timedelta]],
    exam_offset: int,
    ratings_on_due: list[Rating],
    final: list[Rating],
    fuzz: bool,
) -> None:
    """A learner who reviews on each returned due date, and finally recalls the card, meets
    the exam with predicted retrievability ≥ the desired (indeed the exam-day) retention."""
    state, due, now = replay(ReviewScheduler(retention, enable_fuzzing=False), history)
    scheduler = ReviewScheduler(
        retention, (now + timedelta(days=exam_offset)).date(), enable_fuzzing=fuzz
    )
    exam_at = scheduler.exam_at
    assert exam_at is not None
    assume(now < exam_at)
    if state is not None and due > exam_at:
        due = now  # a card due after the exam: the learner studies it today
    queue = [*ratings_on_due, *final, Rating.Good]
    for _ in range(200):
        rating = queue.pop(0) if len(queue) > 1 else queue[0]
        now = max(now, due)
        state, due = scheduler.review(state, rating, now)
        assert due <= exam_at
        if due == exam_at:
            break
    else:
        pytest.fail("the schedule kept asking for reviews before the exam")
    # A learning step that would cross the exam start is cut at it; FSRS has no memory
    # model of such a card yet, so there is nothing to guarantee.
    assume(state["state"] == State.Review)
    at_exam = retrievability(state, exam_at)
    assert at_exam >= retention
    assert at_exam >= scheduler.exam_retention
