"""The learner's dashboard as GraphQL types, field by field from the analytics contracts
(the same figures as REST GET /api/v1/analytics/dashboard)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from certplatform.analytics import contracts as board


@strawberry.type(description="A count on one day.")
class DayCount:
    day: date
    count: int

    @classmethod
    def of(cls, d: board.DayCount) -> DayCount:
        return cls(day=d.day, count=d.count)


@strawberry.type(description="A submitted mock exam's score.")
class ScorePoint:
    attempt_id: strawberry.ID
    form_name: str
    submitted_at: datetime
    percent: float
    passed: bool

    @classmethod
    def of(cls, s: board.ScorePoint) -> ScorePoint:
        return cls(
            attempt_id=strawberry.ID(s.attempt_id),
            form_name=s.form_name,
            submitted_at=s.submitted_at,
            percent=s.percent,
            passed=s.passed,
        )


@strawberry.type(description="One week of a subject, starting on its Monday.")
class SubjectWeek:
    week: date
    answered: int
    correct: int
    seconds: float

    @classmethod
    def of(cls, w: board.SubjectWeek) -> SubjectWeek:
        return cls(week=w.week, answered=w.answered, correct=w.correct, seconds=w.seconds)


@strawberry.type(description="My accuracy and time in one subject, overall and per week.")
class SubjectProgress:
    code: str
    name: str
    answered: int
    accuracy: float | None = strawberry.field(description="0..1; null before any answer.")
    mean_seconds: float | None
    weeks: list[SubjectWeek]

    @classmethod
    def of(cls, s: board.SubjectProgress) -> SubjectProgress:
        return cls(
            code=s.code,
            name=s.name,
            answered=s.answered,
            accuracy=s.accuracy,
            mean_seconds=s.mean_seconds,
            weeks=[SubjectWeek.of(w) for w in s.weeks],
        )


@strawberry.type(description="How one subject is expected to go in the exam.")
class SubjectRisk:
    code: str
    name: str
    expected_percent: float
    p_below_floor: float | None = strawberry.field(
        description="P(below the section floor); null when the rule has none."
    )
    answered: int

    @classmethod
    def of(cls, r: board.SubjectRiskOut) -> SubjectRisk:
        return cls(
            code=r.code,
            name=r.name,
            expected_percent=r.expected_percent,
            p_below_floor=r.p_below_floor,
            answered=r.answered,
        )


@strawberry.type(description="P(pass) under the exam's real rule with its 90 % interval.")
class PassChance:
    blueprint: str
    p_pass: float
    low: float
    high: float
    most_at_risk: str
    most_at_risk_name: str
    too_little_data: bool
    thin_subjects: list[str]
    subjects: list[SubjectRisk]
    provisional_items: bool = strawberry.field(
        description="Some item difficulties come from answer rates, not a stored calibration."
    )
    study_next: str | None
    study_next_name: str | None
    study_next_gain: float | None

    @classmethod
    def of(cls, p: board.PassChance) -> PassChance:
        return cls(
            blueprint=p.blueprint,
            p_pass=p.p_pass,
            low=p.low,
            high=p.high,
            most_at_risk=p.most_at_risk,
            most_at_risk_name=p.most_at_risk_name,
            too_little_data=p.too_little_data,
            thin_subjects=list(p.thin_subjects),
            subjects=[SubjectRisk.of(s) for s in p.subjects],
            provisional_items=p.provisional_items,
            study_next=p.study_next,
            study_next_name=p.study_next_name,
            study_next_gain=p.study_next_gain,
        )


@strawberry.type(description="A regrade that changed one of my scores or results.")
class RegradeNotice:
    attempt_id: strawberry.ID
    form_name: str
    previous_percent: float
    percent: float
    previous_passed: bool
    passed: bool
    regraded_at: datetime

    @classmethod
    def of(cls, r: board.RegradeNotice) -> RegradeNotice:
        return cls(
            attempt_id=strawberry.ID(r.attempt_id),
            form_name=r.form_name,
            previous_percent=r.previous_percent,
            percent=r.percent,
            previous_passed=r.previous_passed,
            passed=r.passed,
            regraded_at=r.regraded_at,
        )


@strawberry.type(description="My progress in one certification.")
class Dashboard:
    certification: str
    certification_name: str
    today: date
    exam_date: date | None
    days_to_exam: int | None = strawberry.field(description="D-day; null without an exam date.")
    due_today: int
    streak_days: int
    daily_goal: int
    answered_today: int
    daily: list[DayCount] = strawberry.field(description="Answers per day, the last 14 days.")
    scores: list[ScorePoint]
    subjects: list[SubjectProgress]
    seen: int
    bank_size: int
    forecast: list[DayCount] = strawberry.field(description="Reviews falling due, 30 days.")
    pass_chance: PassChance | None
    regrades: list[RegradeNotice]

    @classmethod
    def of(cls, d: board.Dashboard) -> Dashboard:
        return cls(
            certification=d.certification,
            certification_name=d.certification_name,
            today=d.today,
            exam_date=d.exam_date,
            days_to_exam=d.days_to_exam,
            due_today=d.due_today,
            streak_days=d.streak_days,
            daily_goal=d.daily_goal,
            answered_today=d.answered_today,
            daily=[DayCount.of(x) for x in d.daily],
            scores=[ScorePoint.of(s) for s in d.scores],
            subjects=[SubjectProgress.of(s) for s in d.subjects],
            seen=d.seen,
            bank_size=d.bank_size,
            forecast=[DayCount.of(x) for x in d.forecast],
            pass_chance=PassChance.of(d.pass_chance) if d.pass_chance else None,
            regrades=[RegradeNotice.of(r) for r in d.regrades],
        )
