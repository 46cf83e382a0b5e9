"""What the analytics context returns to edges (REST, GraphQL, pages)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class DayCount(_Out):
    day: date
    count: int


class ScorePoint(_Out):
    attempt_id: str
    form_name: str
    submitted_at: datetime
    percent: float
    passed: bool


class SubjectWeek(_Out):
    week: date  # the Monday that starts it
    answered: int
    correct: int
    seconds: float


class SubjectProgress(_Out):
    code: str
    name: str
    answered: int
    accuracy: float | None  # 0..1, None before any answer
    mean_seconds: float | None
    weeks: tuple[SubjectWeek, ...]


class SubjectRiskOut(_Out):
    code: str
    name: str
    expected_percent: float
    p_below_floor: float | None
    answered: int


class PassChance(_Out):
    """P(pass) under the real rule with its 90 % interval (ADR 14)."""

    blueprint: str
    p_pass: float
    low: float
    high: float
    most_at_risk: str
    most_at_risk_name: str
    too_little_data: bool
    thin_subjects: tuple[str, ...]
    subjects: tuple[SubjectRiskOut, ...]
    # Item difficulties from answer rates until a calibration exists (ADR 23).
    provisional_items: bool
    # The subject whose improvement raises P(pass) most, and by how much.
    study_next: str | None
    study_next_name: str | None
    study_next_gain: float | None


class RegradeNotice(_Out):
    attempt_id: str
    form_name: str
    previous_percent: float
    percent: float
    previous_passed: bool
    passed: bool
    regraded_at: datetime


class Dashboard(_Out):
    certification: str
    certification_name: str
    today: date
    exam_date: date | None
    days_to_exam: int | None
    due_today: int
    streak_days: int
    daily_goal: int
    answered_today: int
    daily: tuple[DayCount, ...]  # answers per day, the last 14 days
    scores: tuple[ScorePoint, ...]
    subjects: tuple[SubjectProgress, ...]
    seen: int
    bank_size: int
    forecast: tuple[DayCount, ...]  # review cards falling due, the next 30 days
    pass_chance: PassChance | None
    regrades: tuple[RegradeNotice, ...]


# ---- item statistics of one exam form (ADR 32) -------------------------------------------------


class FormChoiceStat(_Out):
    choice_id: str
    text: str
    key: bool
    rate: float  # share of the form's sittings with this item that picked it
    top_rate: float | None  # the same among the top 27 % of those sittings by total score


class FormItemStat(_Out):
    question_id: str
    external_id: str | None
    section_code: str
    stem: str
    attempts: int  # sittings of the form that contained the item
    facility: float  # mean score fraction on it (0..1)
    discrimination: float | None  # correlation of the item score with the rest of the sitting
    mean_seconds: float | None  # over the sittings that answered it
    blank_rate: float
    a: float | None  # stored calibration (ADR 32), None before one covers the item
    b: float | None
    c: float | None
    choices: tuple[FormChoiceStat, ...]
    flags: tuple[str, ...]  # negative_discrimination too_easy too_hard unpicked strong_distractor


class FormSummary(_Out):
    """What Moodle's quiz statistics show for a quiz, over the form's sittings (percent)."""

    attempts: int
    mean: float | None
    median: float | None
    sd: float | None  # sample standard deviation (n - 1)
    skewness: float | None  # k3 / k2^1.5, as Moodle (needs 3 sittings)
    kurtosis: float | None  # k4 / k2², excess (needs 4 sittings)
    alpha: float | None  # Cronbach's alpha, the coefficient of internal consistency
    standard_error: float | None  # SD·√(1 - alpha), in percent points
    items_by: str  # "question" (every sitting saw the same questions) or "position"


class FormReport(_Out):
    form_id: str
    form_kind: str  # blueprint | paper
    form_name: str
    certification: str
    first_only: bool  # each learner's first sitting only
    summary: FormSummary
    items: tuple[FormItemStat, ...]


class FormListing(_Out):
    form_id: str
    form_kind: str
    name: str
    attempts: int  # graded sittings stored in the analytics store
