"""Item statistics for authors: what Moodle's quiz statistics show, plus IRT a and b.

Classical statistics use each learner's *first* answer to a question (a later try after
seeing the key is not a fresh answer). A learner's ability for the point-biserial is their
rest score: the share right of their other first answers in the certification.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from certplatform.analytics import queries
from certplatform.analytics.calibration import fit_items, stored_parameters
from certplatform.analytics.port import store_for
from certplatform.content import service as content
from certplatform.kernel.db import UnitOfWork

EASY, HARD = 0.9, 0.2  # facility outside these is flagged
MIN_FOR_FLAGS = 20  # answers before distractor and discrimination flags mean anything
TOP_SHARE = 0.27  # the upper group of Kelley's 27 %


@dataclass(frozen=True)
class ChoiceStat:
    choice_id: str
    text: str
    key: bool
    rate: float  # share of first answers that picked it
    top_rate: float | None  # the same among the top 27 % of learners


@dataclass(frozen=True)
class ItemRow:
    question_id: str
    external_id: str | None
    subject: str | None
    stem: str
    attempts: int
    facility: float | None
    point_biserial: float | None
    mean_seconds: float | None
    a: float | None
    b: float | None
    choices: tuple[ChoiceStat, ...]
    flags: tuple[str, ...]  # negative_discrimination too_easy too_hard unpicked strong_distractor
    c: float | None = None  # the 3PL guessing floor (0 for the 2PL)


async def item_report(uow: UnitOfWork, certification: str, *, irt: bool = True) -> list[ItemRow]:
    rows = await queries.certification_answers(store_for(uow.session), certification)
    first: dict[tuple[str, str], tuple[bool, int, list[str]]] = {}
    for user, qid, right, ms, picked in rows:
        first.setdefault((user, qid), (bool(right), int(ms), list(picked)))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (user, _), (right, _, _) in first.items():
        totals[user][0] += 1
        totals[user][1] += int(right)
    by_item: dict[str, list[tuple[str, bool, int, list[str]]]] = defaultdict(list)
    for (user, qid), (right, ms, picked) in first.items():
        by_item[qid].append((user, right, ms, picked))

    pool = await content.practice_pool(uow, certification)
    ids = [e.question_id for e in pool]
    versions = await content.current_versions(uow, ids)
    params = await _parameters(uow, first, ids) if irt else {}
    out = []
    for entry in pool:
        qid = entry.question_id
        answers = by_item.get(qid, [])
        version = versions[qid]
        n = len(answers)
        rest = np.array(
            [
                (totals[u][1] - int(r)) / (totals[u][0] - 1) if totals[u][0] > 1 else np.nan
                for u, r, _, _ in answers
            ]
        )
        hits = np.array([r for _, r, _, _ in answers], dtype=float)
        pbis = _correlation(hits, rest)
        top = _top_group(rest)
        choices = tuple(
            ChoiceStat(
                choice_id=c.id,
                text=c.text,
                key=c.weight > 0,
                rate=sum(c.id in p for _, _, _, p in answers) / n if n else 0.0,
                top_rate=(sum(c.id in answers[i][3] for i in top) / len(top) if len(top) else None),
            )
            for c in version.content.choices
        )
        facility = float(hits.mean()) if n else None
        flags = []
        if pbis is not None and pbis < 0:
            flags.append("negative_discrimination")
        if facility is not None and n >= MIN_FOR_FLAGS:
            if facility > EASY:
                flags.append("too_easy")
            if facility < HARD:
                flags.append("too_hard")
            if any(not c.key and c.rate == 0 for c in choices):
                flags.append("unpicked")
            keys = [c.top_rate or 0.0 for c in choices if c.key]
            if any(not c.key and (c.top_rate or 0.0) > max(keys, default=0.0) for c in choices):
                flags.append("strong_distractor")
        a, b, c = params.get(qid, (None, None, None))
        out.append(
            ItemRow(
                question_id=qid,
                external_id=entry.external_id,
                subject=entry.subject_code,
                stem=version.content.stem,
                attempts=n,
                facility=facility,
                point_biserial=pbis,
                mean_seconds=(sum(ms for _, _, ms, _ in answers) / n / 1000) if n else None,
                a=a,
                b=b,
                c=c,
                choices=choices,
                flags=tuple(flags),
            )
        )
    return out


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _top_group(rest: np.ndarray) -> list[int]:
    known = [i for i in range(len(rest)) if not np.isnan(rest[i])]
    if len(known) < 4:
        return []
    ranked = sorted(known, key=lambda i: -rest[i])
    return ranked[: max(1, round(len(ranked) * TOP_SHARE))]


async def _parameters(
    uow: UnitOfWork, first: dict[tuple[str, str], tuple[bool, int, list[str]]], ids: list[str]
) -> dict[str, tuple[float, float, float]]:
    """The stored calibration's parameters (ADR 32); before any is stored for these
    questions, a 2PL fitted here with the same code (items nobody answered are left out)."""
    stored = await stored_parameters(uow, ids)
    if stored:
        return {q: (p.a, p.b, p.c) for q, p in stored.items()}
    fitted = fit_items({k: v[0] for k, v in first.items()}, ids)
    if fitted is None:
        return {}
    items = fitted[0].items
    return {
        q: (float(items.a[i]), float(items.b[i]), float(items.c[i]))
        for i, q in enumerate(items.names)
    }
