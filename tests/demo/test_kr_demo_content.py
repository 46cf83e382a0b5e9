"""Shape checks for the Korean demo question set (정보처리기사 필기 모의).

The content itself is reviewed by people; these tests only guard the structure the loader
and the mock-exam blueprint rely on (5 subjects, at least 22 four-choice questions each,
valid keys and topics) and the words the search tests look for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_FILE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "certplatform"
    / "demo"
    / "data"
    / "kr_info_engineer.yaml"
)

SUBJECT_CODES = ["S1", "S2", "S3", "S4", "S5"]
MIN_QUESTIONS_PER_SUBJECT = 22


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    assert isinstance(loaded, dict)
    return loaded


def _questions(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [q for subject in data["subjects"] for q in subject["questions"]]


def _text(question: dict[str, Any]) -> str:
    return f"{question['stem']}\n{question['explanation']}"


def test_certification_header(data: dict[str, Any]) -> None:
    cert = data["certification"]
    assert cert["code"] == "KR-INFO-ENGINEER"
    assert cert["name"] == "정보처리기사 필기 (모의)"
    assert cert["description"].strip()


def test_five_subjects_in_order(data: dict[str, Any]) -> None:
    assert [s["code"] for s in data["subjects"]] == SUBJECT_CODES
    assert all(s["name"].strip() for s in data["subjects"])


@pytest.mark.parametrize("index", range(len(SUBJECT_CODES)))
def test_subject_has_enough_questions_and_topics(data: dict[str, Any], index: int) -> None:
    subject = data["subjects"][index]
    assert len(subject["questions"]) >= MIN_QUESTIONS_PER_SUBJECT, subject["code"]
    topic_codes = [t["code"] for t in subject["topics"]]
    assert 3 <= len(topic_codes) <= 5, subject["code"]
    assert len(set(topic_codes)) == len(topic_codes), subject["code"]
    assert all(t["name"].strip() for t in subject["topics"])


def test_question_codes_are_unique(data: dict[str, Any]) -> None:
    codes = [q["code"] for q in _questions(data)]
    duplicates = [code for code, n in Counter(codes).items() if n > 1]
    assert not duplicates


def test_every_question_is_well_formed(data: dict[str, Any]) -> None:
    problems: list[str] = []
    for subject in data["subjects"]:
        topic_codes = {t["code"] for t in subject["topics"]}
        for q in subject["questions"]:
            code = q["code"]
            if not isinstance(q.get("stem"), str) or not q["stem"].strip():
                problems.append(f"{code}: empty stem")
            choices = q.get("choices")
            if not isinstance(choices, list) or len(choices) != 4:
                problems.append(f"{code}: needs exactly 4 choices")
            else:
                texts = [c.strip() if isinstance(c, str) else "" for c in choices]
                if not all(texts):
                    problems.append(f"{code}: empty choice")
                if len(set(texts)) != 4:
                    problems.append(f"{code}: duplicate choices")
            answer = q.get("answer")
            if type(answer) is not int or not 1 <= answer <= 4:
                problems.append(f"{code}: answer {answer!r} not in 1..4")
            if not isinstance(q.get("explanation"), str) or not q["explanation"].strip():
                problems.append(f"{code}: empty explanation")
            if q.get("topic") not in topic_codes:
                problems.append(f"{code}: topic {q.get('topic')!r} not in {subject['code']}")
            tags = q.get("tags")
            if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
                problems.append(f"{code}: tags must be a list of words (quote NULL, yes, no)")
            law_refs = q.get("law_refs")
            if not isinstance(law_refs, list) or not all(
                isinstance(r, dict) and str(r.get("law", "")).strip() for r in law_refs
            ):
                problems.append(f"{code}: law_refs must be a list of {{law, article}}")
    assert not problems, "\n".join(problems)


def test_key_positions_vary(data: dict[str, Any]) -> None:
    positions = Counter(q["answer"] for q in _questions(data))
    assert len(positions) > 1
    for subject in data["subjects"]:
        assert len({q["answer"] for q in subject["questions"]}) > 1, subject["code"]


@pytest.mark.parametrize("word", ["로더", "법령"])
def test_search_words_are_present(data: dict[str, Any], word: str) -> None:
    hits = [q["code"] for q in _questions(data) if word in _text(q)]
    assert len(hits) >= 2, f"{word!r} found only in {hits}"
