"""The Korean catalog: every message translated, each translation its own and in proportion."""

from __future__ import annotations

import re

from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from certplatform.web.i18n import LOCALES

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


def _messages() -> list[Message]:
    with (LOCALES / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return [m for m in read_po(handle, locale="ko") if m.id]


def _first(value: str | tuple[str, ...] | list[str]) -> str:
    return value if isinstance(value, str) else value[0]


MESSAGES = _messages()


def _problems(message: Message) -> list[str]:
    msgid, msgstr = _first(message.id), _first(message.string)
    if not msgstr.strip():
        return [f"{msgid!r} has no Korean translation"]
    problems = []
    if message.fuzzy:
        problems.append(f"{msgid!r} is marked fuzzy")
    # Korean is denser than English; a translation many times longer is another text.
    if len(msgstr) > 3 * len(msgid) + 20:
        problems.append(f"{msgid!r} → {msgstr!r} is out of proportion")
    if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
        problems.append(f"{msgid!r} → {msgstr!r} changes the placeholders")
    return problems


def test_every_message_is_translated_in_proportion() -> None:
    assert [p for m in MESSAGES for p in _problems(m)] == []


def test_no_translation_carries_another_message() -> None:
    ids = {_first(m.id) for m in MESSAGES}
    strays = [
        (_first(m.id), other)
        for m in MESSAGES
        for other in ids
        if other != _first(m.id) and len(other) > 15 and other in _first(m.string)
    ]
    assert strays == []
