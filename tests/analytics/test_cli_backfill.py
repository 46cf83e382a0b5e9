"""`certplatform analytics backfill` rebuilds the store from the learning tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from certplatform.analytics.models import AnswerFact, LearnerDay
from certplatform.kernel.db import Database, new_id, utcnow
from certplatform.learning.models import AnswerRecord
from tests.cli.test_cli import cli  # noqa: F401 - the fixture


async def test_backfill_command_rebuilds_from_answer_records(
    cli: object,  # noqa: F811
    db: Database,
) -> None:
    run = cli  # type: ignore[assignment]
    now = utcnow()
    async with db.transaction() as uow:
        for n in range(3):
            uow.session.add(
                AnswerRecord(
                    id=new_id(), user_id="u1", certification_code="C", question_id=f"q{n}",
                    version_id=f"v{n}", subject_code="S1", context="exam", fraction=1.0,
                    correct=n != 1, elapsed_ms=1000, answered_at=now - timedelta(minutes=n),
                )
            )  # fmt: skip
    done = run("analytics", "backfill")
    assert done.returncode == 0, done.stderr
    assert "3 answers" in done.stdout
    async with db.transaction() as uow:
        facts = await uow.session.scalar(select(func.count()).select_from(AnswerFact))
        day = (await uow.session.execute(select(LearnerDay.answered, LearnerDay.correct))).one()
    assert facts == 3
    assert tuple(day) == (3, 2)
