"""Languages of the pages: Korean by default, English second.

Messages are English msgids translated by `locales/<lang>/LC_MESSAGES/messages.po`; the
catalogs are read from the .po files at start-up, so running needs no compile step.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

if TYPE_CHECKING:
    from certplatform.kernel.errors import AppError

Lang = Literal["ko", "en"]
LANGUAGES: tuple[Lang, ...] = ("ko", "en")
DEFAULT: Lang = "ko"
LOCALES = Path(__file__).parent / "locales"
_current: ContextVar[Lang] = ContextVar("lang", default=DEFAULT)


@cache
def catalog(lang: Lang) -> NullTranslations:
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        messages = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, messages)
    buffer.seek(0)
    return Translations(buffer)


def set_language(lang: Lang) -> None:
    _current.set(lang)


def current() -> Lang:
    return _current.get()


def gettext(message: str) -> str:
    return catalog(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the conventional name extractors look for
    """Mark a message for extraction; it is translated later, where it is shown."""
    return message


def pick(value: str | None) -> Lang:
    return value if value in LANGUAGES else DEFAULT


def error_text(exc: AppError) -> str:
    """An error's message in the page's language, its named parameters filled in."""
    return exc.localized(gettext)


def api_language(cookie: str | None, accept_language: str | None) -> Lang:
    """The language of a JSON error: the `lang` cookie (pages calling the API), else the
    first supported language of Accept-Language, else English, the API's own language."""
    if cookie in LANGUAGES:
        return pick(cookie)
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            weight = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return pick(min(ranked)[2]) if ranked else "en"
