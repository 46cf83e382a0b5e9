"""What a learner finds to study beyond the practice modes: past papers by year and round,
and a search of the published questions (ADR 25 records both).

Both go through the exam lock of ADR 15: nothing here names, shows or opens a question
of the learner's own open attempt, and neither ever returns a key; a found question is
opened as a practice run, where the key comes only after an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from certplatform.content import service as content
from certplatform.content.contracts import PastPaperSummary, QuestionStatus
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import NotFound
from certplatform.learning.contracts import PracticeSessionOut
from certplatform.learning.models import Attempt
from certplatform.learning.service import locked_questions, practice_run

# The 회차 in a paper's code or name: "2024-1", "2024-03", "2024년 1회", "2024_R2".
_YEAR_ROUND = re.compile(r"((?:19|20)\d{2})\D{0,4}?(\d{1,2})(?!\d)")
_YEAR = re.compile(r"(?:19|20)\d{2}")
SEARCH_LIMIT = 20
# An attempt holds at most this many questions in practice (500 per blueprint section is
# the cap, papers are far shorter); asking this many more keeps a full page after the lock
# takes out an open attempt's questions.
LOCK_SLACK = 200
PAPER_EMPTY = "No published questions match this choice yet."


@dataclass(frozen=True, slots=True)
class PaperEntry:
    """A past paper on the learner's list: year and round when its code or name tells
    them, the summary (counts, time, pass rule; never question ids) and my best sitting."""

    paper: PastPaperSummary
    year: int | None
    round: int | None
    best_percent: float | None
    passed: bool | None
    sittings: int


@dataclass(frozen=True, slots=True)
class FoundQuestion:
    """A search result: where the question belongs and the opening of its stem, no key."""

    question_id: str
    certification: str
    subject_code: str | None
    stem: str


def year_and_round(paper: PastPaperSummary) -> tuple[int | None, int | None]:
    """Read 연도·회차 from the code first (authors keep it regular), then from the name."""
    for text in (paper.code, paper.name):
        found = _YEAR_ROUND.search(text)
        if found:
            return int(found[1]), int(found[2])
    for text in (paper.code, paper.name):
        year = _YEAR.search(text)
        if year:
            return int(year[0]), None
    return None, None


async def past_papers(
    uow: UnitOfWork, principal: Principal | None, certification: str
) -> list[PaperEntry]:
    """The certification's fixed papers, newest year and round first, with the signed-in
    learner's best submitted result on each."""
    summaries = await content.past_paper_summaries(uow, certification)
    best: dict[str, tuple[float, bool | None, int]] = {}
    if principal is not None and summaries:
        query = select(Attempt.form_id, Attempt.score_percent, Attempt.passed).where(
            Attempt.user_id == principal.user_id,
            Attempt.form_kind == "paper",
            Attempt.status == "submitted",
            Attempt.form_id.in_([s.id for s in summaries]),
        )
        for form_id, percent, passed in await uow.session.execute(query):
            if percent is None:
                continue
            seen = best.get(form_id)
            count = (seen[2] if seen else 0) + 1
            if seen is None or percent > seen[0]:
                best[form_id] = (percent, passed, count)
            else:
                best[form_id] = (seen[0], seen[1], count)
    entries = []
    for summary in summaries:
        year, round_ = year_and_round(summary)
        mine = best.get(summary.id)
        entries.append(
            PaperEntry(
                paper=summary,
                year=year,
                round=round_,
                best_percent=mine[0] if mine else None,
                passed=mine[1] if mine else None,
                sittings=mine[2] if mine else 0,
            )
        )
    entries.sort(key=lambda e: (-(e.year or 0), -(e.round or 0), e.paper.code))
    return entries


async def practice_paper(
    uow: UnitOfWork, principal: Principal, paper_id: str
) -> PracticeSessionOut:
    """A practice run over the paper's questions in the paper's order (keys after each
    answer, as in every run), less any the learner's open attempt locks."""
    paper, items = await content.paper_form(uow, paper_id)
    return await practice_run(
        uow,
        principal,
        paper.certification_code,
        [item.question_id for item in items],
        mode="paper",
        empty_message=PAPER_EMPTY,
    )


async def search_questions(
    uow: UnitOfWork,
    principal: Principal,
    query: str,
    *,
    certification: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[FoundQuestion]:
    """Published questions matching `query` (ADR 2's full-text search), best first, less
    those of the learner's open attempt; stems only."""
    if not query.strip():
        return []
    found = await content.find_questions(
        uow,
        query=query,
        certification_code=certification,
        status=QuestionStatus.PUBLISHED,
        limit=limit + LOCK_SLACK,
    )
    locked = await locked_questions(uow, principal, [q.id for q in found])
    return [
        FoundQuestion(
            question_id=q.id,
            certification=q.certification_code,
            subject_code=q.subject_code,
            stem=q.version.content.stem,
        )
        for q in found
        if q.id not in locked and q.status == QuestionStatus.PUBLISHED
    ][:limit]


async def practice_found(
    uow: UnitOfWork, principal: Principal, question_id: str
) -> PracticeSessionOut:
    """Open a search result as a one-question practice run (refused while locked)."""
    question = await content.get_question(uow, question_id)
    if question.status != QuestionStatus.PUBLISHED:
        raise NotFound("No such question.")
    return await practice_run(
        uow,
        principal,
        question.certification_code,
        [question_id],
        mode="search",
        empty_message=PAPER_EMPTY,
    )
