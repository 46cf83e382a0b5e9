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
