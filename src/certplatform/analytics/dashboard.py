"""The learner's dashboard: read from the analytics store (through the port, with the
queries every engine shares: `queries.py`), the learning service (exam date, due reviews,
review load) and the content service (bank, blueprint)."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from certplatform.analytics import queries
from certplatform.analytics.ability import Ability, ability
from certplatform.analytics.calibration import stored_parameters
from certplatform.analytics.contracts import (
    Dashboard,
    DayCount,
    PassChance,
    RegradeNotice,
    ScorePoint,
    SubjectProgress,
    SubjectRiskOut,
    SubjectWeek,
)
from certplatform.analytics.irt import ItemParameters
from certplatform.analytics.models import ItemParameter
from certplatform.analytics.pass_cache import StampedCache, pass_stamp
from certplatform.analytics.port import store_for
from certplatform.analytics.prediction import (
    ExamModel,
    SectionPool,
    predict_pass,
    what_if_pass_rates,
)
from certplatform.analytics.store import STUDY_ZONE
from certplatform.content import service as content
from certplatform.content.contracts import BlueprintOut, PoolEntry
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.learning import history
from certplatform.learning import service as learning

DAILY_GOAL = 20  # answers a day; the number Korean 기출 apps commonly suggest
WEEKS = 8
FORECAST_DAYS = 30
# How far one subject's ability moves for the same study time, in the "what next" what-if.
STUDY_STEP = 0.3
REGRADE_NOTICE_DAYS = 30


def study_today() -> date:
    return utcnow().astimezone(STUDY_ZONE).date()


async def my_certification(uow: UnitOfWork, principal: Principal) -> str | None:
    """The certification a dashboard opens on: the nearest exam date, else the last studied."""
    settings = await learning.get_settings(uow, principal)
    today = study_today()
    upcoming = sorted((d, c) for c, d in settings.exam_dates.items() if d >= today)
    if upcoming:
        return upcoming[0][1]
    last = await queries.last_certification(store_for(uow.session), principal.user_id)
    if last:
        return last
    studied = sorted(await learning.studied_certifications(uow, principal))
    return studied[0] if studied else None


async def dashboard(uow: UnitOfWork, principal: Principal, certification: str) -> Dashboard:
    # 404 when unknown; the tree without the bank's counts per status, which it does not show
    detail = await content.certification_detail(uow, certification, counts=False)
    user, store, today = principal.user_id, store_for(uow.session), study_today()
    settings = await learning.get_settings(uow, principal)
    exam_date = settings.exam_dates.get(certification)

    per_day = await queries.answers_per_day(store, user, certification, today - timedelta(days=14))
    daily = tuple(
        DayCount(day=today - timedelta(days=k), count=per_day.get(today - timedelta(days=k), 0))
        for k in range(13, -1, -1)
    )

    names = {s.code: s.name for s in detail.subjects}
    pool = await content.practice_pool(uow, certification)
    seen = await queries.seen(store, user, certification)
    forecast = await history.review_forecast(
        uow, principal, certification, FORECAST_DAYS, STUDY_ZONE
    )
    blueprints = await content.blueprints(uow, certification)
    return Dashboard(
        certification=certification,
        certification_name=detail.name,
        today=today,
        exam_date=exam_date,
        days_to_exam=(exam_date - today).days if exam_date else None,
        due_today=forecast[0][1] if forecast else 0,
        streak_days=await streak(uow, user, today),
        daily_goal=DAILY_GOAL,
        answered_today=per_day.get(today, 0),
        daily=daily,
        scores=await scores(uow, user, certification),
        subjects=await subjects(uow, user, certification, names, today),
        seen=seen,
        bank_size=len(pool),
        forecast=tuple(DayCount(day=d, count=n) for d, n in forecast),
        pass_chance=(
            await pass_chance(uow, user, blueprints[0], pool, names) if blueprints else None
        ),
        regrades=await regrade_notices(uow, user),
    )


async def streak(uow: UnitOfWork, user_id: str, today: date) -> int:
    """Days in a row with at least one answer, ending today (or yesterday: today is not
    over yet)."""
    days = await queries.study_days(store_for(uow.session), user_id, today - timedelta(days=400))
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


async def scores(uow: UnitOfWork, user_id: str, certification: str) -> tuple[ScorePoint, ...]:
    rows = await queries.scores(store_for(uow.session), user_id, certification)
    return tuple(
        ScorePoint(
            attempt_id=attempt,
            form_name=form,
            submitted_at=submitted,
            percent=percent or 0.0,
            passed=bool(passed),
        )
        for attempt, form, submitted, percent, passed in reversed(rows)
    )


async def subjects(
    uow: UnitOfWork, user_id: str, certification: str, names: dict[str, str], today: date
) -> tuple[SubjectProgress, ...]:
    first_week = today - timedelta(days=today.weekday()) - timedelta(weeks=WEEKS - 1)
    rows = await queries.subject_days(store_for(uow.session), user_id, certification)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    weeks: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for subject, day, n, right, ms in rows:
        totals[subject][0] += n
        totals[subject][1] += right
        totals[subject][2] += ms
        if day >= first_week:
            monday = day - timedelta(days=day.weekday())
            w = weeks[(subject, monday)]
            w[0] += n
            w[1] += right
            w[2] += ms
    codes = list(names) + sorted(c for c in totals if c not in names)
    out = []
    for code in codes:
        n, right, ms = totals.get(code, [0, 0, 0])
        out.append(
            SubjectProgress(
                code=code,
                name=names.get(code) or code or "—",
                answered=n,
                accuracy=right / n if n else None,
                mean_seconds=ms / n / 1000 if n else None,
                weeks=tuple(
                    SubjectWeek(
                        week=first_week + timedelta(weeks=k),
                        answered=weeks[(code, first_week + timedelta(weeks=k))][0],
                        correct=weeks[(code, first_week + timedelta(weeks=k))][1],
                        seconds=weeks[(code, first_week + timedelta(weeks=k))][2] / 1000,
                    )
                    for k in range(WEEKS)
                ),
            )
        )
    return tuple(out)


async def regrade_notices(
    uow: UnitOfWork, user_id: str, attempt_id: str | None = None
) -> tuple[RegradeNotice, ...]:
    """Recent regrades that changed one of my scores or results."""
    rows = await queries.regrades(
        store_for(uow.session),
        user_id,
        since=utcnow() - timedelta(days=REGRADE_NOTICE_DAYS),
        attempt=attempt_id,
    )
    return tuple(
        RegradeNotice(
            attempt_id=attempt,
            form_name=form,
            previous_percent=previous_percent or 0.0,
            percent=percent or 0.0,
            previous_passed=bool(previous_passed),
            passed=bool(passed),
            regraded_at=regraded_at,
        )
        for attempt, form, previous_percent, percent, previous_passed, passed, regraded_at in rows
    )


# ---- chance of passing ---------------------------------------------------------------------


def _members(blueprint: BlueprintOut, pool: Sequence[PoolEntry]) -> list[list[PoolEntry]]:
    out = []
    for s in blueprint.sections:
        topics = set(s.topic_codes)
        out.append(
            [
                e
                for e in pool
                if (not s.subject_code or e.subject_code == s.subject_code)
                and (not topics or e.topic_code in topics)
            ]
        )
    return out


PASS_CACHE: StampedCache[PassChance | None] = StampedCache()


async def pass_chance(
    uow: UnitOfWork,
    user_id: str,
    blueprint: BlueprintOut,
    pool: Sequence[PoolEntry],
    names: dict[str, str],
) -> PassChance | None:
    """P(pass) on the certification's first blueprint, or None when its pools cannot be
    drawn (too few published questions); recomputed only when its inputs changed."""
    stamp = await pass_stamp(uow, user_id, blueprint, pool, names)
    key = (user_id, blueprint.id)
    found = PASS_CACHE.get(key, stamp)
    if found is not None:
        return found
    chance = await _pass_chance(uow, user_id, blueprint, pool, names)
    PASS_CACHE.put(key, stamp, chance)
    return chance


async def _pass_chance(
    uow: UnitOfWork,
    user_id: str,
    blueprint: BlueprintOut,
    pool: Sequence[PoolEntry],
    names: dict[str, str],
) -> PassChance | None:
    store = store_for(uow.session)
    ids = [e.question_id for e in pool]
    stats = await queries.item_counts(store, ids)
    # My latest answer to each question counts once.
    mine = await queries.my_latest_answers(store, user_id, blueprint.certification_code)
    calibrated = await stored_parameters(uow, ids)
    sections, posteriors = [], {}
    provisional = False
    for spec, members in zip(blueprint.sections, _members(blueprint, pool), strict=True):
        items = _items([e.question_id for e in members], stats, calibrated)
        provisional |= any(e.question_id not in calibrated for e in members)
        topics = [e.topic_code or "" for e in members] if spec.draw == "one_per_topic" else None
        try:
            sections.append(SectionPool.from_spec(spec, items, topics))
        except ValueError:
            return None
        answered = [i for i, e in enumerate(members) if e.question_id in mine]
        posteriors[spec.code] = ability(
            items, answered, [mine[members[i].question_id] for i in answered]
        )
    exam = ExamModel(tuple(sections), blueprint.pass_rule)
    seed = zlib.crc32(user_id.encode())  # the same figures on every reload
    try:
        prediction = predict_pass(exam, posteriors, draws=200, sittings_per_draw=10, seed=seed)
    except ValueError:
        return None
    best, gain = _study_next(exam, posteriors, seed)
    section_names = {s.code: s.name for s in blueprint.sections}

    def label(code: str) -> str:
        spec = next(s for s in blueprint.sections if s.code == code)
        return names.get(spec.subject_code or "", section_names[code])

    return PassChance(
        blueprint=blueprint.name,
        p_pass=prediction.p_pass,
        low=prediction.low,
        high=prediction.high,
        most_at_risk=prediction.most_at_risk,
        most_at_risk_name=label(prediction.most_at_risk),
        too_little_data=prediction.too_little_data,
        thin_subjects=tuple(label(c) for c in prediction.thin_sections),
        subjects=tuple(
            SubjectRiskOut(
                code=r.code,
                name=label(r.code),
                expected_percent=r.expected_percent,
                p_below_floor=r.p_below_floor,
                answered=posteriors[r.code].answered,
            )
            for r in prediction.sections
        ),
        provisional_items=provisional,
        study_next=_subject_of(blueprint, best) if best else None,
        study_next_name=label(best) if best else None,
        study_next_gain=gain,
    )


def _subject_of(blueprint: BlueprintOut, section: str) -> str:
    spec = next(s for s in blueprint.sections if s.code == section)
    return spec.subject_code or ""


def _items(
    ids: Sequence[str], stats: dict[str, tuple[int, int]], calibrated: dict[str, ItemParameter]
) -> ItemParameters:
    """The stored calibration's a, b, c (ADR 32); for an item it does not cover yet (new,
    or never answered), a = 1 and b from the item's smoothed answer rate (P(θ = 0) = rate),
    which puts hard items high and easy ones low."""
    rates = np.array([(stats.get(q, (0, 0))[1] + 1) / (stats.get(q, (0, 0))[0] + 2) for q in ids])
    a, b, c = np.ones(len(ids)), -np.log(rates / (1 - rates)), np.zeros(len(ids))
    for i, q in enumerate(ids):
        if q in calibrated:
            a[i], b[i], c[i] = calibrated[q].a, calibrated[q].b, calibrated[q].c
    return ItemParameters(tuple(ids), a, b, c)


def _study_next(
    exam: ExamModel, posteriors: dict[str, Ability], seed: int
) -> tuple[str | None, float | None]:
    """The section whose ability, moved by the same study step, raises P(pass) most."""
    codes = [s.code for s in exam.sections]
    mean = np.array([posteriors[c].mean for c in codes])
    sd = np.array([posteriors[c].sd for c in codes])
    means = np.repeat(mean[None], len(codes) + 1, axis=0)
    for k in range(len(codes)):
        means[k + 1, k] += STUDY_STEP
    sds = np.repeat(sd[None], len(codes) + 1, axis=0)
    p = what_if_pass_rates(exam, means, sds, sittings=600, seed=seed)
    gains = p[1:] - p[0]
    best = int(np.argmax(gains))
    if gains[best] <= 0:
        return None, None
    return codes[best], float(gains[best])
