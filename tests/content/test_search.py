"""Full-text search: Korean two-syllable words with particles, ranking, filters."""

from __future__ import annotations

import pytest

from certplatform.content import search, service
from certplatform.content.contracts import QuestionStatus
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.content import choice_question


@pytest.fixture
async def bank(db: Database, storage: LocalStorage) -> Database:
    drafts = [
        choice_question(
            "관련 법령에 따라 개인정보를 처리할 때 옳은 것은?", external_id="K1", tags=("법규",)
        ),
        choice_question("법령을 개정하면 문항을 다시 검토해야 한다. 옳은 것은?", external_id="K2"),
        choice_question(
            "로더가 수행하는 기능이 아닌 것은?",
            ("할당", "연결", "재배치", "컴파일"),
            3,
            external_id="K3",
            subject="S4",
            explanation="컴파일은 컴파일러의 일이다.",
        ),
        choice_question("운영체제의 기억장치 관리 기법은?", external_id="K4", subject="S4"),
        choice_question(
            "Which agency regulates the Amateur Radio Service?",
            ("ARRL", "The FCC", "NASA", "ITU"),
            1,
            external_id="T1A02",
            subject="T1",
        ),
        # 법령 three times: should rank above the questions that mention it once.
        choice_question(
            "법령 해석: 법령 개정 시 법령 적용 순서로 옳은 것은?", external_id="K5", subject="S5"
        ),
    ]
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-X", drafts)
    return db


async def _codes(db: Database, query: str, **filters: object) -> list[str | None]:
    async with db.transaction() as uow:
        found = await service.find_questions(uow, query=query, **filters)  # type: ignore[arg-type]
    return [q.external_id for q in found]


async def test_two_syllable_word_finds_it_with_particles_attached(bank: Database) -> None:
    assert set(await _codes(bank, "법령")) == {"K1", "K2", "K5"}
    assert await _codes(bank, "로더") == ["K3"]


async def test_query_with_a_particle_finds_other_particles(bank: Database) -> None:
    assert set(await _codes(bank, "법령에")) == {"K1", "K2", "K5"}
    assert await _codes(bank, "로더의") == ["K3"]


async def test_results_are_ranked(bank: Database) -> None:
    assert (await _codes(bank, "법령"))[0] == "K5"


async def test_choices_and_explanations_are_searched(bank: Database) -> None:
    assert await _codes(bank, "재배치") == ["K3"]
    assert await _codes(bank, "컴파일러") == ["K3"]


async def test_english_words_and_prefixes(bank: Database) -> None:
    assert await _codes(bank, "amateur radio") == ["T1A02"]
    assert await _codes(bank, "regul") == ["T1A02"]
    assert await _codes(bank, "Agency") == ["T1A02"]


async def test_filters_combine_with_the_query(bank: Database) -> None:
    assert await _codes(bank, "법령", certification_code="KR-X", tag="법규") == ["K1"]
    assert await _codes(bank, "법령", certification_code="KR-X", subject_code="S5") == ["K5"]
    assert await _codes(bank, "법령", status=QuestionStatus.PUBLISHED) == []


async def test_nothing_matches_nonsense_and_syntax_is_harmless(bank: Database) -> None:
    assert await _codes(bank, "없는단어") == []
    # Quotes and operators are taken as words, never as query syntax.
    assert set(await _codes(bank, '"법령" OR *')) <= {"K1", "K2", "K5"}
    assert await _codes(bank, "법령) AND (") == []
    assert await _codes(bank, "   ") != []  # blank query lists instead of searching


async def test_search_follows_a_new_version(
    db: Database, bank: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        [k4] = await service.find_questions(uow, query="기억장치")
        edited = choice_question(
            "페이지 교체 알고리즘으로 옳은 것은?", external_id="K4", subject="S4"
        )
        await service.edit_question(uow, storage, k4.id, edited, None)
    assert await _codes(db, "기억장치") == []
    assert await _codes(db, "페이지") == ["K4"]


async def test_ranking_considers_at_most_rank_limit_matches(
    bank: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certplatform.content import repository

    monkeypatch.setattr(repository, "RANK_LIMIT", 2)
    found = await _codes(bank, "법령")
    assert len(found) == 2
    assert set(found) <= {"K1", "K2", "K5"}
    assert await _codes(bank, "로더") == ["K3"]


def test_index_tokens_are_bigrams_for_hangul() -> None:
    assert search.index_text("법령에 T1A01") == "법령 령에 t1a01"
    assert search.index_text("강") == "강"
