"""Spaced-repetition review scheduling: FSRS, bent towards the learner's exam date.

Without an exam date this is plain FSRS (the `fsrs` package). With one, two things change
while the exam is ahead (see docs/adr/0005-exam-date-aware-review-scheduling.md):

* in the last two weeks the desired retention is raised stepwise to `EXAM_RETENTION`, so
  intervals shrink as the exam comes closer;
* no card is due after the exam. A card that the review just made already carries through
  the exam (predicted retrievability at the exam ≥ the exam-day retention) is due at the
  exam itself; any other due date past the exam is pulled in to the eve, or closer for a
  weak card, so that a successful review then carries it.

The card state is the `fsrs.Card.to_dict()` dictionary, to be kept in a JSON column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fsrs import DEFAULT_PARAMETERS, Card, Rating, Scheduler, State
from fsrs.fsrs import DECAY, FACTOR

CardState = dict[str, int | float | str | None]

# An answer that took more than 1.5 times the expected time was recalled with effort. Below
# that, timing says too little (reading speed, a slow click) to lower the rating.
SLOW_FACTOR = 1.5

MIN_RETENTION = 0.7
MAX_RETENTION = 0.97

# The retention aimed at on exam day, unless the learner asked for more.
EXAM_RETENTION = 0.95
# (days before the exam, share of the gap between desired and exam retention closed)
RETENTION_RAMP: tuple[tuple[float, float], ...] = ((3, 1.0), (7, 2 / 3), (14, 1 / 3))
# The latest moment a pulled-in review is normally placed: a day before the exam starts.
EXAM_EVE = timedelta(days=1)


def rating_for(correct: bool, elapsed_ms: int, expected_ms: int) -> Rating:
    """The FSRS rating of a graded practice answer.

    Wrong is `Again`; right but slower than `SLOW_FACTOR` times the expected time is `Hard`;
    otherwise `Good`. `Easy` is never inferred: a quick right answer to a choice question may
    be a guess, and `Easy` grows stability the most.
    """
    if expected_ms <= 0:
        raise ValueError("the expected answer time must be positive")
    if elapsed_ms < 0:
        raise ValueError("the elapsed answer time cannot be negative")
    if not correct:
        return Rating.Again
    if elapsed_ms > SLOW_FACTOR * expected_ms:
        return Rating.Hard
    return Rating.Good


def forgetting_curve(elapsed_days: float, stability: float) -> float:
    """FSRS predicted retrievability `(1 + FACTOR·t/S)^DECAY` after `elapsed_days`."""
    return float((1 + FACTOR * max(0.0, elapsed_days) / stability) ** DECAY)


def interval_days(stability: float, retention: float) -> float:
    """Days after a review until retrievability falls to `retention` (inverse of the curve)."""
    return float(stability / FACTOR * (retention ** (1 / DECAY) - 1))


def retrievability(card_state: Mapping[str, Any] | None, at: datetime) -> float:
    """Predicted probability of recalling the card at `at`; 0 for a card never reviewed.

    Unlike `fsrs.Card.get_retrievability`, elapsed time counts in fractions of a day.
    """
    if card_state is None:
        return 0.0
    card = _card(card_state)
    if card.last_review is None or card.stability is None:
        return 0.0
    elapsed = (_utc(at) - card.last_review) / timedelta(days=1)
    return forgetting_curve(elapsed, float(card.stability))


class ReviewScheduler:
    """Schedules the next review of one card after each answer."""

    def __init__(
        self,
        desired_retention: float = 0.9,
        exam_date: date | None = None,
        *,
        enable_fuzzing: bool = True,
        parameters: Sequence[float] = DEFAULT_PARAMETERS,
    ) -> None:
        if not MIN_RETENTION <= desired_retention <= MAX_RETENTION:
            raise ValueError(
                f"desired retention must be between {MIN_RETENTION} and {MAX_RETENTION}, "
                f"got {desired_retention}"
            )
        self.desired_retention = desired_retention
        self.exam_date = exam_date
        self.enable_fuzzing = enable_fuzzing
        self.parameters = tuple(parameters)
        # The exam starts at 00:00 UTC of its day (09:00 in Korea); all times are UTC.
        self.exam_at = (
            None if exam_date is None else datetime.combine(exam_date, time.min, tzinfo=UTC)
        )

    @property
    def exam_retention(self) -> float:
        """The retrievability aimed at for the exam moment."""
        return max(self.desired_retention, EXAM_RETENTION)

    def exam_ahead(self, now: datetime) -> bool:
        return self.exam_at is not None and _utc(now) < self.exam_at

    def effective_retention(self, now: datetime) -> float:
        """The desired retention used for FSRS intervals at `now`, raised near the exam."""
        if self.exam_at is None or not self.exam_ahead(now):
            return self.desired_retention
        days_left = (self.exam_at - _utc(now)) / timedelta(days=1)
        for within, share in RETENTION_RAMP:
            if days_left <= within:
                gap = self.exam_retention - self.desired_retention
                return self.desired_retention + share * gap
        return self.desired_retention

    def review(
        self, card_state: Mapping[str, Any] | None, rating: Rating, now: datetime
    ) -> tuple[CardState, datetime]:
        """Apply one review at `now`; return the new card state and when it is due next.

        `card_state` is None for a card never reviewed. `now` must be timezone-aware.
        """
        now = _utc(now)
        card = Card(card_id=0, due=now) if card_state is None else _card(card_state)
        if card.last_review is not None and now < card.last_review:
            raise ValueError("a review cannot come before the card's last review")
        scheduler = Scheduler(
            parameters=self.parameters,
            desired_retention=self.effective_retention(now),
            enable_fuzzing=self.enable_fuzzing,
        )
        card, _ = scheduler.review_card(card, Rating(rating), review_datetime=now)
        if self.exam_ahead(now):
            card.due = min(card.due, self._latest_useful_review(card, now))
        state: CardState = card.to_dict()
        due: datetime = card.due
        return state, due

    def _latest_useful_review(self, card: Any, now: datetime) -> datetime:
        """The latest due time that still serves the exam (exam ahead, card just reviewed)."""
        assert self.exam_at is not None
        if card.state != State.Review or card.stability is None:
            # Learning steps are minutes long; they only need to stay before the exam.
            return self.exam_at
        stability = float(card.stability)
        target = self.exam_retention
        to_exam = (self.exam_at - now) / timedelta(days=1)
        if to_exam <= interval_days(stability, target):
            # This review already carries the card through the exam.
            return self.exam_at
        # A successful review never lowers stability, except `Hard` within a day of the last
        # review (FSRS short-term stability); plan with that lower bound so any successful
        # review at the returned time keeps retrievability at the exam ≥ target.
        lower = stability * self._same_day_hard_factor()
        window = timedelta(days=interval_days(lower, target))
        pulled = self.exam_at - min(EXAM_EVE, window)
        # Whole seconds, rounded later, so the exam is never a microsecond beyond the window.
        return _ceil_second(pulled)

    def _same_day_hard_factor(self) -> float:
        w17, w18 = self.parameters[17], self.parameters[18]
        return min(1.0, float(math.e ** (w17 * (w18 - 1))))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def _ceil_second(moment: datetime) -> datetime:
    if moment.microsecond:
        return moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def new_card_state(now: datetime) -> CardState:
    """The state of a card never reviewed, due at `now` (what a first review starts from)."""
    state: CardState = Card(card_id=0, due=_utc(now)).to_dict()
    return state


def _card(card_state: Mapping[str, Any]) -> Any:
    try:
        card = Card.from_dict(dict(card_state))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a card state: {exc}") from exc
    card.due = _utc(card.due)
    if card.last_review is not None:
        card.last_review = _utc(card.last_review)
    return card
