"""Item statistics of one exam form (a blueprint or a past paper), as Moodle's quiz
statistics show them for a quiz (ADR 32).

Everything is computed within the form's graded sittings: an item's discrimination is the
correlation of its score with the rest of the sitting's score (the sitting's total less the
item, as Moodle's discrimination index), the upper group of the distractor analysis is the
top 27 % of the sittings that contained the item by their total score, and the form's
figures (mean, median, SD, skewness, kurtosis, Cronbach's alpha, standard error) are over
the sittings' percent scores. By default each learner's first sitting counts, as the item
report counts first answers.

Cronbach's alpha needs the same items in every sitting: a past paper has them (items are
its questions); a blueprint draws each sitting anew, so, like Moodle's random-question
slots, its items are the positions of the form (`items_by`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from certplatform.analytics import queries
from certplatform.analytics.calibration import stored_parameters
from certplatform.analytics.contracts import (
    FormChoiceStat,
    FormItemStat,
    FormListing,
    FormReport,
    FormSummary,
)
from certplatform.analytics.items import EASY, HARD, MIN_FOR_FLAGS, TOP_SHARE
from certplatform.analytics.port import store_for
from certplatform.content import service as content
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import NotFound
from certplatform.learning import service as learning
from certplatform.learning.contracts import FormAttempt, FormItemResponse


@dataclass(frozen=True)
class ChoiceInfo:
    choice_id: str
    text: str
    key: bool


@dataclass(frozen=True)
class QuestionInfo:
    external_id: str | None
    stem: str
    choices: tuple[ChoiceInfo, ...]


Parameters = dict[str, tuple[float, float, float]]


# ---- the figures -------------------------------------------------------------------------------


def correlation(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r; None with fewer than 3 pairs or no spread."""
    if len(x) < 3:
        return None
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.std() == 0 or ys.std() == 0:
        return None
    return float(np.corrcoef(xs, ys)[0, 1])


def cronbach_alpha(matrix: np.ndarray) -> float | None:
    """Sittings × items scores → α = k/(k-1)·(1 - Σ var(item) / var(total))."""
    n, k = matrix.shape
    if n < 2 or k < 2:
        return None
    total_var = matrix.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return None
    return float(k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / total_var))


def summary_figures(percents: Sequence[float], alpha: float | None, items_by: str) -> FormSummary:
    """Moodle's quiz figures over the sittings' percent scores (its k-statistics for
    skewness and kurtosis)."""
    x = np.asarray(percents, dtype=float)
    n = len(x)
    if n == 0:
        return FormSummary(
            attempts=0, mean=None, median=None, sd=None, skewness=None, kurtosis=None,
            alpha=None, standard_error=None, items_by=items_by,
        )  # fmt: skip
    d = x - x.mean()
    m2, m3, m4 = (float((d**p).mean()) for p in (2, 3, 4))
    sd = float(x.std(ddof=1)) if n >= 2 else None
    k2 = n * m2 / (n - 1) if n >= 2 else 0.0
    skew = kurt = None
    if n >= 3 and k2 > 0:
        k3 = n * n * m3 / ((n - 1) * (n - 2))
        skew = k3 / k2**1.5
    if n >= 4 and k2 > 0:
        k4 = n * n * ((n + 1) * m4 - 3 * (n - 1) * m2 * m2) / ((n - 1) * (n - 2) * (n - 3))
        kurt = k4 / (k2 * k2)
    sem = sd * math.sqrt(1 - alpha) if sd is not None and alpha is not None and alpha <= 1 else None
    return FormSummary(
        attempts=n,
        mean=float(x.mean()),
        median=float(np.median(x)),
        sd=sd,
        skewness=skew,
        kurtosis=kurt,
        alpha=alpha,
        standard_error=sem,
        items_by=items_by,
    )


def _by_question(item: FormItemResponse) -> str:
    return item.question_id


def _by_position(item: FormItemResponse) -> str:
    return str(item.position)


def _alpha(attempts: Sequence[FormAttempt]) -> tuple[float | None, str]:
    question_sets = {frozenset(i.question_id for i in a.items) for a in attempts}
    by, key = ("question", _by_question) if len(question_sets) <= 1 else ("position", _by_position)
    columns = sorted({key(i) for a in attempts for i in a.items})
    index = {c: j for j, c in enumerate(columns)}
    full = [a for a in attempts if len(a.items) == len(columns)]
    matrix = np.zeros((len(full), len(columns)))
    for r, a in enumerate(full):
        for i in a.items:
            matrix[r, index[key(i)]] = i.earned
    return cronbach_alpha(matrix), by


def form_statistics(
    attempts: Sequence[FormAttempt],
    questions: dict[str, QuestionInfo],
    parameters: Parameters,
    *,
    min_for_flags: int = MIN_FOR_FLAGS,
) -> tuple[FormSummary, tuple[FormItemStat, ...]]:
    """The form's figures and one row per question that appeared in its sittings, in the
    order of first appearance (position)."""
    totals = [sum(i.earned for i in a.items) for a in attempts]
    alpha, items_by = _alpha(attempts)
    summary = summary_figures([a.percent for a in attempts], alpha, items_by)

    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)  # question → (sitting, item)
    order: dict[str, tuple[int, int]] = {}
    for s, a in enumerate(attempts):
        for j, i in enumerate(a.items):
            if all(t != s for t, _ in seen[i.question_id]):
                seen[i.question_id].append((s, j))
            order.setdefault(i.question_id, (i.position, s))
    rows = []
    for qid in sorted(seen, key=lambda q: order[q]):
        cells = [(s, attempts[s].items[j]) for s, j in seen[qid]]
        n = len(cells)
        score = [i.earned for _, i in cells]
        rest = [totals[s] - i.earned for s, i in cells]
        facility = float(np.mean([i.fraction for _, i in cells]))
        discrimination = correlation(score, rest)
        ranked = sorted(range(n), key=lambda k: -totals[cells[k][0]])
        top = ranked[: max(1, round(n * TOP_SHARE))] if n >= 4 else []
        info = questions.get(qid)
        choices = tuple(
            FormChoiceStat(
                choice_id=c.choice_id,
                text=c.text,
                key=c.key,
                rate=sum(c.choice_id in i.choice_ids for _, i in cells) / n,
                top_rate=(
                    sum(c.choice_id in cells[k][1].choice_ids for k in top) / len(top)
                    if top
                    else None
                ),
            )
            for c in (info.choices if info else ())
        )
        answered = [i for _, i in cells if i.answered]
        flags = []
        if discrimination is not None and discrimination < 0:
            flags.append("negative_discrimination")
        if n >= min_for_flags:
            if facility > EASY:
                flags.append("too_easy")
            if facility < HARD:
                flags.append("too_hard")
            if any(not c.key and c.rate == 0 for c in choices):
                flags.append("unpicked")
            best_key = max((c.top_rate or 0.0 for c in choices if c.key), default=0.0)
            if any(not c.key and (c.top_rate or 0.0) > best_key for c in choices):
                flags.append("strong_distractor")
        stored = parameters.get(qid)
        rows.append(
            FormItemStat(
                question_id=qid,
                external_id=info.external_id if info else None,
                section_code=cells[0][1].section_code,
                stem=info.stem if info else "",
                attempts=n,
                facility=facility,
                discrimination=discrimination,
                mean_seconds=(
                    sum(i.time_ms for i in answered) / len(answered) / 1000 if answered else None
                ),
                blank_rate=1 - len(answered) / n,
                a=stored[0] if stored else None,
                b=stored[1] if stored else None,
                c=stored[2] if stored else None,
                choices=choices,
                flags=tuple(flags),
            )
        )
    return summary, tuple(rows)


# ---- reading ---------------------------------------------------------------------------------


async def _form(uow: UnitOfWork, form_id: str) -> tuple[str, str, str]:
    """(kind, name, certification) of a blueprint or past paper."""
    try:
        bp = await content.get_blueprint(uow, form_id)
        return "blueprint", bp.name, bp.certification_code
    except NotFound:
        pass
    try:
        paper = await content.past_paper_summary(uow, form_id)
    except NotFound:
        raise NotFound("No such exam form.") from None
    return "paper", paper.name, paper.certification_code


async def form_report(uow: UnitOfWork, form_id: str, *, first_only: bool = True) -> FormReport:
    kind, name, certification = await _form(uow, form_id)
    attempts = await learning.form_attempts(uow, form_id, first_only=first_only)
    ids = sorted({i.question_id for a in attempts for i in a.items})
    versions = await content.current_versions(uow, ids) if ids else {}
    pool = {e.question_id: e.external_id for e in await content.practice_pool(uow, certification)}
    questions = {
        q: QuestionInfo(
            external_id=pool.get(q),
            stem=v.content.stem,
            choices=tuple(ChoiceInfo(c.id, c.text, c.weight > 0) for c in v.content.choices),
        )
        for q, v in versions.items()
    }
    parameters = {q: (p.a, p.b, p.c) for q, p in (await stored_parameters(uow, ids)).items()}
    summary, items = form_statistics(attempts, questions, parameters)
    return FormReport(
        form_id=form_id,
        form_kind=kind,
        form_name=name,
        certification=certification,
        first_only=first_only,
        summary=summary,
        items=items,
    )


async def forms_of(uow: UnitOfWork, certification: str) -> list[FormListing]:
    """The certification's blueprints and past papers with their graded sittings."""
    counts = await queries.form_sittings(store_for(uow.session), certification)
    out = [
        FormListing(form_id=b.id, form_kind="blueprint", name=b.name, attempts=counts.get(b.id, 0))
        for b in await content.blueprints(uow, certification)
    ]
    out += [
        FormListing(form_id=p.id, form_kind="paper", name=p.name, attempts=counts.get(p.id, 0))
        for p in await content.past_paper_summaries(uow, certification)
    ]
    return out
