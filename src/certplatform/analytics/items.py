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
from certplatform.analytics.irt import Responses, calibrate
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
    params = _irt(first, ids) if irt else {}
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
        a, b = params.get(qid, (None, None))
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


def _irt(
    first: dict[tuple[str, str], tuple[bool, int, list[str]]], ids: list[str]
) -> dict[str, tuple[float, float]]:
    """2PL with the default priors (ADR 14) over the first answers; items nobody answered
    are left out."""
    answered = sorted({q for _, q in first} & set(ids))
    if not answered:
        return {}
    people = sorted({u for u, _ in first})
    p_index = {u: i for i, u in enumerate(people)}
    q_index = {q: i for i, q in enumerate(answered)}
    triples = [
        (p_index[u], q_index[q], int(r)) for (u, q), (r, _, _) in first.items() if q in q_index
    ]
    person, item, correct = (np.array(col) for col in zip(*triples, strict=True))
    result = calibrate(
        Responses.from_triples(
            person, item, correct, n_persons=len(people), n_items=len(answered),
            item_names=tuple(answered),
        )
    )  # fmt: skip
    return {q: (float(result.items.a[i]), float(result.items.b[i])) for i, q in enumerate(answered)}
