"""FCC pool JSON reader: the three real pools, figures, references and bad items."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certplatform.content.contracts import LawReference, QuestionType
from certplatform.content.formats import fcc_json
from certplatform.content.formats.base import ImportFormatError, ParseResult

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
POOLS = Path(os.environ.get("SHARED_DATA", SHARED_DATA)) / "fcc-ham-pools"
TECHNICIAN = POOLS / "technician-2026-2030" / "technician-2026-2030.json"
TECHNICIAN_2022 = POOLS / "technician-2022-2026" / "technician.json"
GENERAL = POOLS / "general-2023-2027" / "general-2023-2027.json"


def load(path: Path, *, media: bool = True) -> ParseResult:
    return fcc_json.parse(path.read_bytes(), media_dir=path.parent if media else None)


def item(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "T1A01",
        "correct": 2,
        "correct_letter": "C",
        "refs": "[97.1]",
        "question": "Which agency regulates amateur radio?",
        "answers": ["ARRL", "Homeland Security", "The FCC", "The ITU"],
        "figure": "",
    }
    base.update(changes)
    return base


def read(*items: object, media_dir: Path | None = None) -> ParseResult:
    return fcc_json.parse(json.dumps(list(items)).encode(), media_dir=media_dir)


@pytest.mark.parametrize(
    ("path", "count"), [(TECHNICIAN, 409), (TECHNICIAN_2022, 411), (GENERAL, 423)]
)
def test_real_pools_load_without_errors(path: Path, count: int) -> None:
    result = load(path)
    assert result.errors == []
    assert len(result.drafts) == count
    assert all(d.content.type is QuestionType.SINGLE_CHOICE for d in result.drafts)
    assert all(len(d.content.choices) == 4 for d in result.drafts)
    assert all(sum(c.correct for c in d.content.choices) == 1 for d in result.drafts)


def test_technician_pool_has_35_groups_in_10_subelements() -> None:
    drafts = load(TECHNICIAN).drafts
    # An exam draws one question from each group: 35 questions.
    assert len({d.topic for d in drafts}) == 35
    assert {d.subject for d in drafts} == {f"T{n}" for n in range(10)}
    first = drafts[0]
    assert (first.external_id, first.subject, first.topic) == ("T1A01", "T1", "T1A")
    assert first.subject_name is None
    assert first.topic_name is None
    assert first.location == "id T1A01"
    assert first.source == "NCVEC Technician question pool"
    assert [c.id for c in first.content.choices] == ["A", "B", "C", "D"]
    assert [c.weight for c in first.content.choices] == [0.0, 0.0, 1.0, 0.0]


def test_figures_are_referenced_from_the_stem_and_attached() -> None:
    drafts = {d.external_id: d for d in load(TECHNICIAN).drafts}
    with_figures = [d for d in drafts.values() if d.media]
    assert len(with_figures) == 12
    t6c02 = drafts["T6C02"]
    assert t6c02.content.stem.endswith("\n\n![Figure T-1](media:t-1.png)")
    (media,) = t6c02.media
    assert media.filename == "t-1.png"
    assert media.content_type == "image/png"
    assert media.data == (TECHNICIAN.parent / "t-1.png").read_bytes()
    general = {d.external_id: d for d in load(GENERAL).drafts}
    assert general["G7A09"].content.stem.endswith("![Figure G7-1](media:g7-1.png)")
    assert general["G7A09"].media[0].data[:4] == b"\x89PNG"


def test_without_media_dir_the_stem_still_refers_to_the_figure() -> None:
    drafts = {d.external_id: d for d in load(TECHNICIAN, media=False).drafts}
    assert drafts["T6C02"].media == ()
    assert "(media:t-1.png)" in drafts["T6C02"].content.stem
    # The content is the same whether or not the files were at hand.
    with_media = {d.external_id: d for d in load(TECHNICIAN).drafts}
    assert drafts["T6C02"].content == with_media["T6C02"].content


def test_missing_figure_is_an_item_error(tmp_path: Path) -> None:
    result = read(item(id="T6C02", figure="t-1.png"), item(id="T1A02"), media_dir=tmp_path)
    assert [d.external_id for d in result.drafts] == ["T1A02"]
    (error,) = result.errors
    assert error.location == "id T6C02"
    assert "t-1.png" in error.message


def test_figure_outside_media_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"x")
    media_dir = tmp_path / "pool"
    media_dir.mkdir()
    result = read(item(figure="../secret.png"), media_dir=media_dir)
    assert result.drafts == []
    assert "plain file name" in result.errors[0].message


def test_references_are_parsed_into_47_cfr_sections() -> None:
    drafts = {d.external_id: d for d in load(TECHNICIAN).drafts}
    assert drafts["T1A03"].law_refs == (LawReference(law="47 CFR", article="97.119(b)(2)"),)
    # "(c)" continues the section before it.
    assert drafts["T1B07"].law_refs == (
        LawReference(law="47 CFR", article="97.305(a)"),
        LawReference(law="47 CFR", article="97.305(c)"),
    )
    assert drafts["T1C07"].law_refs == (
        LawReference(law="47 CFR", article="97.21"),
        LawReference(law="47 CFR", article="1.949"),
    )
    general = {d.external_id: d for d in load(GENERAL).drafts}
    assert general["G1B06"].law_refs == (
        LawReference(law="47 CFR", article="97.15(b)"),
        LawReference(law="PRB-1"),
        LawReference(law="101 FCC 2d 952 (1985)"),
    )


@pytest.mark.parametrize(
    ("refs", "articles"),
    [
        ("", []),
        ("[97.1]", ["97.1"]),
        ("[97.119 (a)]", ["97.119(a)"]),
        ("[97.5a; 97.7(a)]", ["97.5a", "97.7(a)"]),
        ("97.303", ["97.303"]),
        ("[97.101(b), (c)]", ["97.101(b)", "97.101(c)"]),
    ],
)
def test_reference_forms(refs: str, articles: list[str]) -> None:
    parsed = fcc_json.parse_refs(refs)
    assert [r.article for r in parsed] == articles
    assert all(r.law == "47 CFR" for r in parsed)


def test_answers_that_point_at_other_answers_keep_their_order() -> None:
    drafts = {d.external_id: d for d in load(TECHNICIAN).drafts}
    assert drafts["T1A01"].content.choices[3].text == "All these choices are correct"
    assert drafts["T1A01"].content.shuffle_choices is False
    assert drafts["T1A04"].content.shuffle_choices is True
    general = {d.external_id: d for d in load(GENERAL).drafts}
    none_of_these = [
        d for d in general.values() if any("None of these" in c.text for c in d.content.choices)
    ]
    assert none_of_these
    assert all(not d.content.shuffle_choices for d in none_of_these)
    both = read(item(answers=["North", "South", "A and B", "Neither"])).drafts[0]
    assert both.content.shuffle_choices is False


def test_older_pool_without_correct_letter_or_figure() -> None:
    result = read({k: v for k, v in item().items() if k not in ("correct_letter", "figure")})
    assert result.errors == []
    assert result.drafts[0].content.choices[2].correct


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"correct_letter": "B"}, "correct 2 (answer C) disagrees with correct_letter B"),
        ({"correct": 4}, "correct 4 is not an answer index (0-3)"),
        ({"correct": True}, "correct True is not an answer index"),
        ({"correct": None, "correct_letter": None}, "the correct answer is missing"),
        ({"correct_letter": "E"}, "correct_letter 'E' is not one of A-D"),
        ({"answers": ["one", "two", "three"]}, "answers must be a list of 4 texts"),
        ({"answers": ["one", "", "three", "four"]}, "a choice is empty"),
        ({"question": " "}, "the question text is missing"),
        ({"refs": 97}, "refs must be a text like [97.1]"),
        ({"figure": 3}, "figure must be a file name"),
    ],
)
def test_bad_items_are_reported_by_id(changes: dict[str, Any], message: str) -> None:
    result = read(item(id="T1A05", **changes), item())
    assert [d.external_id for d in result.drafts] == ["T1A01"]
    assert [str(e) for e in result.errors] == [f"id T1A05: {message}"]


def test_an_id_that_is_not_a_pool_id_is_an_item_error() -> None:
    result = read(item(id="97.1"))
    assert [str(e) for e in result.errors] == [
        "id 97.1: id '97.1' is not a pool question id like T1A01"
    ]


def test_items_without_id_are_reported_by_position() -> None:
    no_id = {k: v for k, v in item().items() if k != "id"}
    result = read(item(), no_id, "T1A02")
    assert [str(e) for e in result.errors] == [
        "item 2: id None is not a pool question id like T1A01",
        "item 3: a question is a JSON object",
    ]


def test_repeated_id_is_an_item_error() -> None:
    result = read(item(), item())
    assert len(result.drafts) == 1
    assert result.errors[0].message == "id T1A01 appears more than once"


@pytest.mark.parametrize(
    "data", [b"", b"{not json", b'{"id": "T1A01"}', b"\xff\xfe\x00garbage", b"[" * 100_000]
)
def test_unreadable_files_are_format_errors(data: bytes) -> None:
    with pytest.raises(ImportFormatError):
        fcc_json.parse(data)


@given(st.binary(max_size=300))
def test_no_bytes_crash_the_reader(data: bytes) -> None:
    with contextlib.suppress(ImportFormatError):
        fcc_json.parse(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.sampled_from(["T1A01", "G2B03", "x"]) | json_values,
                "correct": st.integers(-1, 4) | json_values,
                "correct_letter": st.sampled_from("ABCDE") | json_values,
                "refs": st.sampled_from(["[97.1]", "[(c), 97.3]", "[;]"]) | json_values,
                "question": st.text(max_size=10) | json_values,
                "answers": st.lists(st.text(max_size=5), min_size=3, max_size=5) | json_values,
                "figure": st.sampled_from(["", "t-1.png", ".."]) | json_values,
            },
        )
        | json_values,
        max_size=4,
    )
)
def test_no_json_items_crash_the_reader(items: list[Any]) -> None:
    result = fcc_json.parse(json.dumps(items).encode())
    assert len(result.drafts) + len(result.errors) == len(items)
