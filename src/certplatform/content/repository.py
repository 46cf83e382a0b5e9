"""Every query of the content context. Takes the session; never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, Select, Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.content import search
from certplatform.content.models import (
    Blueprint,
    BlueprintSection,
    Certification,
    MediaFile,
    PastPaper,
    PastPaperItem,
    Question,
    QuestionTag,
    QuestionVersion,
    Subject,
    Topic,
)
from certplatform.kernel.db import Base


async def certification_by_code(session: AsyncSession, code: str) -> Certification | None:
    return await session.scalar(select(Certification).where(Certification.code == code))


async def certifications(session: AsyncSession) -> list[Certification]:
    return list((await session.scalars(select(Certification).order_by(Certification.code))).all())


async def subjects_of(session: AsyncSession, certification_id: str) -> list[Subject]:
    query = (
        select(Subject)
        .where(Subject.certification_id == certification_id)
        .order_by(Subject.position, Subject.code)
    )
    return list((await session.scalars(query)).all())


async def topics_of(session: AsyncSession, subject_ids: Sequence[str]) -> list[Topic]:
    if not subject_ids:
        return []
    query = (
        select(Topic).where(Topic.subject_id.in_(subject_ids)).order_by(Topic.position, Topic.code)
    )
    return list((await session.scalars(query)).all())


async def question_index(
    session: AsyncSession, certification_id: str
) -> list[tuple[str, str | None, str, int, str, int | None]]:
    """(id, external_id, fingerprint, current_version, status, published_version) of every
    question."""
    rows = await session.execute(
        select(
            Question.id,
            Question.external_id,
            Question.fingerprint,
            Question.current_version,
            Question.status,
            Question.published_version,
        ).where(Question.certification_id == certification_id)
    )
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


async def question(session: AsyncSession, question_id: str) -> Question | None:
    return await session.get(Question, question_id)


async def version(session: AsyncSession, question_id: str, number: int) -> QuestionVersion | None:
    return await session.scalar(
        select(QuestionVersion).where(
            QuestionVersion.question_id == question_id, QuestionVersion.number == number
        )
    )


async def versions_of(session: AsyncSession, question_id: str) -> list[QuestionVersion]:
    query = (
        select(QuestionVersion)
        .where(QuestionVersion.question_id == question_id)
        .order_by(QuestionVersion.number)
    )
    return list((await session.scalars(query)).all())


async def versions_by_id(session: AsyncSession, ids: Sequence[str]) -> list[QuestionVersion]:
    if not ids:
        return []
    return list(
        (await session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))).all()
    )


def served_version() -> Any:
    """The number of the version learners are served: the published one, or (for a
    question never published) the newest."""
    return func.coalesce(Question.published_version, Question.current_version)


async def current_versions(
    session: AsyncSession, question_ids: Sequence[str], *, served: bool = False
) -> list[tuple[Question, QuestionVersion]]:
    """Each question with its newest version, or with `served`, the version learners see."""
    if not question_ids:
        return []
    number = served_version() if served else Question.current_version
    rows = await session.execute(
        select(Question, QuestionVersion)
        .join(
            QuestionVersion,
            (QuestionVersion.question_id == Question.id) & (QuestionVersion.number == number),
        )
        .where(Question.id.in_(question_ids))
    )
    return [(r[0], r[1]) for r in rows]


async def current_version_ids(session: AsyncSession, question_ids: Sequence[str]) -> dict[str, str]:
    """Question id → the id of the version learners are served (no contents: a draw needs
    only the ids); a newer draft stays with the authors (ADR 0026)."""
    if not question_ids:
        return {}
    rows = await session.execute(
        select(Question.id, QuestionVersion.id)
        .join(
            QuestionVersion,
            (QuestionVersion.question_id == Question.id)
            & (QuestionVersion.number == served_version()),
        )
        .where(Question.id.in_(question_ids))
    )
    return {str(q): str(v) for q, v in rows.all()}


@dataclass(frozen=True)
class QuestionFilter:
    certification_id: str | None = None
    subject_id: str | None = None
    topic_id: str | None = None
    tag: str | None = None
    status: str | None = None


def _filtered(query: Select[Any], f: QuestionFilter) -> Select[Any]:
    if f.certification_id:
        query = query.where(Question.certification_id == f.certification_id)
    if f.subject_id:
        query = query.where(Question.subject_id == f.subject_id)
    if f.topic_id:
        query = query.where(Question.topic_id == f.topic_id)
    if f.status:
        query = query.where(Question.status == f.status)
    if f.tag:
        query = query.where(
            Question.id.in_(select(QuestionTag.question_id).where(QuestionTag.tag == f.tag))
        )
    return query


async def list_question_ids(
    session: AsyncSession, f: QuestionFilter, *, limit: int, offset: int
) -> list[str]:
    query = _filtered(select(Question.id), f).order_by(Question.external_id, Question.id)
    return list((await session.scalars(query.limit(limit).offset(offset))).all())


async def count_questions(session: AsyncSession, f: QuestionFilter) -> int:
    query = _filtered(select(func.count()).select_from(Question), f)
    return int(await session.scalar(query) or 0)


RANK_LIMIT = 5000


async def search_question_ids(
    session: AsyncSession, query: str, f: QuestionFilter, *, limit: int, offset: int
) -> list[str]:
    """Ids of matching questions, best first.

    Ranking costs time per match, so a query ranks at most RANK_LIMIT matching questions:
    a word found in more (an exam phrase like 옳은) says little about relevance anyway, and a
    second word narrows the set. Filters are a semi-join on `questions`, so the full-text
    index drives the query.
    """
    terms = search.parse_query(query)
    if not terms:
        return []
    where = []
    params: dict[str, Any] = {"limit": limit, "offset": offset, "cap": RANK_LIMIT}
    for column, value in (
        ("certification_id", f.certification_id),
        ("subject_id", f.subject_id),
        ("topic_id", f.topic_id),
        ("status", f.status),
    ):
        if value:
            where.append(f"q.{column} = :{column}")
            params[column] = value
    if f.tag:
        where.append("q.id IN (SELECT question_id FROM question_tags WHERE tag = :tag)")
        params["tag"] = f.tag
    if session.get_bind().dialect.name == "sqlite":
        params["m"] = search.fts5_match(terms)
        key = "qid"
        inner = (
            "SELECT qid AS id, bm25(question_search, 0.0, 1.0) AS score FROM question_search "
            "WHERE question_search MATCH :m"
        )
    else:
        params["tsq"] = search.tsquery(terms)
        key = "s.question_id"
        inner = (
            "SELECT s.question_id AS id, -ts_rank_cd(s.document, query) AS score "
            "FROM question_search s, to_tsquery('simple', :tsq) query WHERE s.document @@ query"
        )
    if where:
        inner += f" AND {key} IN (SELECT q.id FROM questions q WHERE {' AND '.join(where)})"
    sql = (
        f"SELECT c.id FROM ({inner} LIMIT :cap) c "
        "ORDER BY c.score, c.id LIMIT :limit OFFSET :offset"
    )
    return [row[0] for row in await session.execute(text(sql), params)]


async def bulk_insert(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (an order of
    magnitude faster than INSERT for big imports), batched INSERT elsewhere."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(rows), 2000):
            await session.execute(insert(table), rows[start : start + 2000])
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    records = [
        tuple(
            json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c] for c in columns
        )
        for row in rows
    ]
    await _copy(session, table.name, columns, records)


async def _copy(
    session: AsyncSession, table: str, columns: list[str], records: list[tuple[Any, ...]]
) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table, records=records, columns=columns)


async def bulk_index(session: AsyncSession, docs: list[tuple[str, str]]) -> None:
    """Index never-indexed questions; on PostgreSQL through COPY into a staging table."""
    if session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(docs), 2000):
            await search.insert_documents(session, docs[start : start + 2000])
        return
    await session.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS search_staging (qid text, body text) ON COMMIT DROP")
    )
    await _copy(
        session, "search_staging", ["qid", "body"], [(q, search.index_text(b)) for q, b in docs]
    )
    await session.execute(
        text(
            "INSERT INTO question_search (question_id, document) "
            "SELECT qid, to_tsvector('simple', body) FROM search_staging"
        )
    )
    await session.execute(text("TRUNCATE search_staging"))


async def replace_tags(session: AsyncSession, question_id: str, tags: Sequence[str]) -> None:
    await session.execute(delete(QuestionTag).where(QuestionTag.question_id == question_id))
    for tag in dict.fromkeys(tags):
        session.add(QuestionTag(question_id=question_id, tag=tag))


async def tags_of(session: AsyncSession, question_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(QuestionTag.question_id, QuestionTag.tag).where(
            QuestionTag.question_id.in_(question_ids)
        )
    )
    out: dict[str, list[str]] = {}
    for qid, tag in rows:
        out.setdefault(qid, []).append(tag)
    return out


async def media_by_name(
    session: AsyncSession, certification_id: str, filenames: Sequence[str]
) -> dict[str, MediaFile]:
    if not filenames:
        return {}
    rows = await session.scalars(
        select(MediaFile).where(
            MediaFile.certification_id == certification_id, MediaFile.filename.in_(filenames)
        )
    )
    return {m.filename: m for m in rows}


async def media_of(session: AsyncSession, certification_id: str) -> dict[str, MediaFile]:
    rows = await session.scalars(
        select(MediaFile).where(MediaFile.certification_id == certification_id)
    )
    return {m.filename: m for m in rows}


async def blueprints_of(session: AsyncSession, certification_id: str) -> list[Blueprint]:
    query = (
        select(Blueprint)
        .where(Blueprint.certification_id == certification_id)
        .order_by(Blueprint.code)
    )
    return list((await session.scalars(query)).all())


async def blueprint(session: AsyncSession, blueprint_id: str) -> Blueprint | None:
    return await session.get(Blueprint, blueprint_id)


async def blueprint_by_code(
    session: AsyncSession, certification_id: str, code: str
) -> Blueprint | None:
    return await session.scalar(
        select(Blueprint).where(
            Blueprint.certification_id == certification_id, Blueprint.code == code
        )
    )


async def sections_of(session: AsyncSession, blueprint_id: str) -> list[BlueprintSection]:
    query = (
        select(BlueprintSection)
        .where(BlueprintSection.blueprint_id == blueprint_id)
        .order_by(BlueprintSection.position)
    )
    return list((await session.scalars(query)).all())


async def past_papers_of(session: AsyncSession, certification_id: str) -> list[PastPaper]:
    query = (
        select(PastPaper)
        .where(PastPaper.certification_id == certification_id)
        .order_by(PastPaper.code)
    )
    return list((await session.scalars(query)).all())


async def past_paper(session: AsyncSession, paper_id: str) -> PastPaper | None:
    return await session.get(PastPaper, paper_id)


async def past_paper_items(session: AsyncSession, paper_id: str) -> list[PastPaperItem]:
    query = (
        select(PastPaperItem)
        .where(PastPaperItem.paper_id == paper_id)
        .order_by(PastPaperItem.position)
    )
    return list((await session.scalars(query)).all())


async def published_pool(
    session: AsyncSession, certification_id: str, *, with_external_id: bool = False
) -> list[Any]:
    """(question id, subject code, topic code[, external id]) of every published question."""
    columns: list[Any] = [Question.id, Subject.code, Topic.code]
    if with_external_id:
        columns.append(Question.external_id)
    rows = await session.execute(
        select(*columns)
        .outerjoin(Subject, Subject.id == Question.subject_id)
        .outerjoin(Topic, Topic.id == Question.topic_id)
        .where(Question.certification_id == certification_id, Question.status == "published")
        .order_by(Question.id)
    )
    return [tuple(r) for r in rows]
