"""Errors people read go through the catalog with named parameters (ADR 0026): no message is
built by string formatting, every parameterised message has its Korean entry with the same
placeholders, and the examples read in Korean where Korean is asked for."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from certplatform.content.formats import gift
from certplatform.content.formats.base import ImportFormatError, ItemError
from certplatform.identity import service as identity
from certplatform.kernel import errors
from certplatform.kernel.db import Database
from certplatform.kernel.errors import AppError, Conflict, Invalid, NotFound, Term, Terms
from certplatform.web import i18n
from tests.support.accounts import bearer
from tests.web.test_catalog import MESSAGES, PLACEHOLDER

SRC = Path(__file__).resolve().parents[2] / "src" / "certplatform"
KOREAN = {m.id if isinstance(m.id, str) else m.id[0]: m for m in MESSAGES}
NAMED = re.compile(r"%\((\w+)\)[sdif]")
# Exceptions whose first argument is a message a person may read.
MESSAGE_ERRORS = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, AppError)
} | {"ImportFormatError", "_GiftSyntaxError", "ImportRejected", "OwnVersion"}


def _calls() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(SRC.rglob("*.py")):
        where = str(path.relative_to(SRC))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield where, node


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _template(arg: ast.expr) -> str | None:
    """The literal message of `N_("...")` or `"..."`."""
    if isinstance(arg, ast.Call) and _name(arg) == "N_" and arg.args:
        arg = arg.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def test_no_error_message_is_built_by_formatting() -> None:
    """An f-string, `+` or `%` puts dynamic parts where the catalog cannot translate them;
    they go in as named parameters instead."""
    built = [
        f"{where}:{call.lineno}"
        for where, call in _calls()
        if _name(call) in MESSAGE_ERRORS
        and call.args
        and isinstance(call.args[0], ast.JoinedStr | ast.BinOp)
    ]
    assert built == []


def test_named_parameters_match_the_message_and_its_korean_entry() -> None:
    problems = []
    for where, call in _calls():
        if _name(call) not in MESSAGE_ERRORS and _name(call) not in ("Text",):
            continue
        template = _template(call.args[0]) if call.args else None
        if template is None:
            continue
        given = {k.arg for k in call.keywords if k.arg not in (None, "details", "retry_after")}
        wanted = set(NAMED.findall(template))
        if given != wanted:
            problems.append(f"{where}:{call.lineno}: {sorted(given)} for {template!r}")
        if wanted:
            entry = KOREAN.get(template)
            if entry is None:
                problems.append(f"{where}:{call.lineno}: no Korean entry for {template!r}")
                continue
            translated = entry.string if isinstance(entry.string, str) else entry.string[0]
            if sorted(PLACEHOLDER.findall(template)) != sorted(PLACEHOLDER.findall(translated)):
                problems.append(f"{where}:{call.lineno}: placeholders differ in Korean")
    assert problems == []


def test_every_marked_message_with_parameters_outside_the_pages_is_in_the_catalog() -> None:
    missing = {
        template
        for _, call in _calls()
        if _name(call) == "N_"
        and (template := _template(call)) is not None
        and "%(" in template
        and template not in KOREAN
    }
    assert missing == set()


@pytest.fixture
def korean() -> Iterator[i18n.Lang]:
    i18n.set_language("ko")
    yield "ko"
    i18n.set_language(i18n.DEFAULT)


async def test_the_examples_of_the_report_read_in_korean(db: Database, korean: str) -> None:
    async with db.transaction() as uow:
        await identity.create_user(uow, "kim@example.com", "correct horse battery")
    with pytest.raises(Conflict) as duplicate:
        async with db.transaction() as uow:
            await identity.create_user(uow, "kim@example.com", "correct horse battery")
    assert i18n.error_text(duplicate.value) == "kim@example.com 계정이 이미 있습니다."
    assert duplicate.value.message == "An account for kim@example.com already exists."

    with pytest.raises(ImportFormatError) as broken:
        gift.parse_raw("::Open::never closed {=a ~b\n")
    assert broken.value.localized(i18n.gettext) == (
        "1행: 답 블록 '{'이(가) '}'로 닫히지 않았습니다"
    )
    [item] = gift.parse(b"// [id:Q1]\n::T::Match {=a b =c -> d =e -> f}\n").errors
    assert isinstance(item, ItemError)
    assert item.localized(i18n.gettext) == "2행: 짝 맞추기 1번에 '->'가 없습니다"
    assert str(item) == "line 2: matching pair 1 has no '->'"


def test_terms_and_plain_messages_render_and_a_broken_translation_falls_back() -> None:
    role = errors.Forbidden("Your role (%(role)s) does not allow this.", role=Term("learner"))
    assert (
        role.localized(i18n.catalog("ko").gettext) == "현재 역할(학습자)로는 할 수 없는 작업입니다."
    )
    listed = Invalid(
        "Unknown role %(role)s; choose one of %(roles)s.",
        role="x",
        roles=Terms(["admin", "author"]),
    )
    assert listed.localized(i18n.catalog("ko").gettext) == (
        "알 수 없는 역할 x입니다. 관리자, 저자 가운데 하나를 고르세요."
    )
    # A message without parameters, as engineers have always raised them, still works.
    plain = NotFound("No such question.")
    assert plain.localized(i18n.catalog("ko").gettext) == i18n.catalog("ko").gettext(
        "No such question."
    )
    # A translation that lost a parameter shows the English text rather than failing.
    assert errors.render("%(a)s and %(b)s", {"a": 1, "b": 2}, lambda _: "%(c)s") == "1 and 2"


async def test_json_errors_keep_their_code_and_speak_the_requests_language(
    client: httpx.AsyncClient, db: Database
) -> None:
    learner = await bearer(client, db)
    korean = {"accept-language": "ko-KR,ko;q=0.9,en;q=0.8"}
    missing = await client.get("/api/v1/certifications/NOPE", headers=korean)
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "코드가 NOPE인 자격증이 없습니다.",
    }
    english = await client.get("/api/v1/certifications/NOPE")
    assert english.json()["error"]["message"] == "No certification with code NOPE."

    refused = await client.get("/api/v1/questions", headers={**learner, **korean})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "현재 역할(학습자)로는 할 수 없는 작업입니다."
    assert refused.json()["error"]["details"] == {"resource": "question", "action": "read"}

    author = await bearer(client, db, "author")
    rejected = await client.post(
        "/api/v1/certifications/KR-GIFT/import",
        headers={**author, **korean},
        files={"file": ("q.gift", b"::A::2 + 2? {=4 ~3}\n\n::B::open {=a ~b\n")},
        data={"format": "gift"},
    )
    assert rejected.status_code == 422
    body = rejected.json()["error"]
    assert body["message"].startswith("가져오기 거부: 읽을 수 없는 항목이 1개 있어")
    assert "skip_invalid" not in body["message"]
    assert body["details"]["errors"] == ["3행: 답 블록 '{'이(가) '}'로 닫히지 않았습니다"]
