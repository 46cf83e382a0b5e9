"""Korean-aware full-text search on SQLite FTS5 and PostgreSQL.

Korean attaches particles to words (법령에, 로더가), so whole-word tokens would miss them.
Hangul runs are indexed as overlapping syllable bigrams (법령에 → 법령 령에), and a query
word becomes the phrase of its bigrams: 법령 finds 법령에, 법령을, 관련법령. A query word that
ends in a common particle is also tried without it, so typing 법령에 finds 법령을 too.
Latin words and numbers are lowercased whole tokens with prefix matching on the last word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A Hangul run, or a run of other letters and digits.
_PIECE = re.compile(r"([\uac00-\ud7a3]+)|([^\W_\uac00-\ud7a3]+)")
# Longest first, so 에서 is stripped before 서 could be considered.
PARTICLES = (
    "에서는", "으로는", "이라는", "에게서", "으로서", "으로써", "에서", "에게", "으로", "부터",
    "까지", "처럼", "보다", "라는", "이다", "에는", "과의", "와의", "이나", "에", "의",
    "을", "를", "이", "가", "은", "는", "로", "와", "과", "도", "만",
)  # fmt: skip


def _pieces(text_: str) -> Iterable[tuple[bool, str]]:
    for hangul, other in _PIECE.findall(text_.lower()):
        yield (True, hangul) if hangul else (False, other)


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [a + b for a, b in pairwise(run)]


def index_text(text_: str) -> str:
    """The token string stored in the search index for `text_`."""
    tokens: list[str] = []
    for hangul, other in _PIECE.findall(text_.lower()):
        if other:
            tokens.append(other)
        elif len(hangul) == 1:
            tokens.append(hangul)
        else:
            tokens += [a + b for a, b in pairwise(hangul)]
    return " ".join(tokens)


@dataclass(frozen=True)
class QueryTerm:
    """One query word: alternatives (with and without a particle), each a phrase of tokens."""

    alternatives: tuple[tuple[str, ...], ...]
    prefix: bool = False


def parse_query(query: str) -> list[QueryTerm]:
    terms: list[QueryTerm] = []
    pieces = list(_pieces(query))
    for i, (is_hangul, piece) in enumerate(pieces):
        if not is_hangul:
            terms.append(QueryTerm(((piece,),), prefix=i == len(pieces) - 1))
            continue
        if len(piece) == 1:
            terms.append(QueryTerm(((piece,),), prefix=True))
            continue
        alternatives = [tuple(_bigrams(piece))]
        for particle in PARTICLES:
            stem = piece[: -len(particle)]
            if piece.endswith(particle) and len(stem) >= 2:
                alternatives.append(tuple(_bigrams(stem)))
                break
        terms.append(QueryTerm(tuple(alternatives)))
    return terms


def fts5_match(terms: list[QueryTerm]) -> str:
    """An FTS5 MATCH expression on the `body` column (quoted tokens: no syntax injection)."""

    def phrase(tokens: tuple[str, ...], prefix: bool) -> str:
        quoted = '"' + " ".join(tokens) + '"'
        return quoted + ("*" if prefix else "")

    parts = []
    for term in terms:
        options = [phrase(alt, term.prefix) for alt in term.alternatives]
        parts.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
    return "body : (" + " AND ".join(parts) + ")"


def tsquery(terms: list[QueryTerm]) -> str:
    """A PostgreSQL to_tsquery('simple', ...) expression; tokens are letters and digits only."""

    def phrase(tokens: tuple[str, ...], prefix: bool) -> str:
        words = [f"'{t}'" for t in tokens]
        if prefix:
            words[-1] += ":*"
        return "(" + " <-> ".join(words) + ")"

    parts = []
    for term in terms:
        options = [phrase(alt, term.prefix) for alt in term.alternatives]
        parts.append("(" + " | ".join(options) + ")")
    return " & ".join(parts)


async def replace_documents(session: AsyncSession, docs: list[tuple[str, str]]) -> None:
    """Index (question_id, text) pairs, replacing what was indexed for those questions."""
    if not docs:
        return
    rows = [{"qid": qid, "body": index_text(body)} for qid, body in docs]
    if session.get_bind().dialect.name == "sqlite":
        for row in rows:
            await session.execute(
                text("DELETE FROM question_search WHERE question_search MATCH :m"),
                {"m": f'qid : "{row["qid"]}"'},
            )
        await session.execute(
            text("INSERT INTO question_search (qid, body) VALUES (:qid, :body)"), rows
        )
    else:
        await session.execute(
            text(
                "INSERT INTO question_search (question_id, document) "
                "VALUES (:qid, to_tsvector('simple', :body)) "
                "ON CONFLICT (question_id) DO UPDATE SET document = EXCLUDED.document"
            ),
            rows,
        )


async def insert_documents(session: AsyncSession, docs: list[tuple[str, str]]) -> None:
    """Index questions that were never indexed (a fresh import): no delete needed."""
    if not docs:
        return
    rows = [{"qid": qid, "body": index_text(body)} for qid, body in docs]
    if session.get_bind().dialect.name == "sqlite":
        sql = "INSERT INTO question_search (qid, body) VALUES (:qid, :body)"
    else:
        sql = (
            "INSERT INTO question_search (question_id, document) "
            "VALUES (:qid, to_tsvector('simple', :body))"
        )
    await session.execute(text(sql), rows)
