"""What the QTI 2.1 reader and writer share: namespaces, limits, element helpers."""

from __future__ import annotations

import mimetypes
import re
from xml.etree.ElementTree import Element

from pydantic import ValidationError

BLANK = "____"

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_PACKAGE_BYTES = 256 * 1024 * 1024
MAX_PACKAGE_FILES = 10_000

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_QTI_XSD = "http://www.imsglobal.org/xsd/imsqti_v2p1.xsd"
_CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
_LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
_MANIFEST = "imsmanifest.xml"
_TEST_FILE = "assessmentTest.xml"

# Elements whose text is not part of what every candidate sees.
_HIDDEN = frozenset(
    [
        "feedbackBlock",
        "feedbackInline",
        "modalFeedback",
        "templateBlock",
        "templateInline",
        "printedVariable",
        "infoControl",
        "stylesheet",
    ]
)
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "blockquote",
        "pre",
        "address",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "caption",
        "tr",
        "hr",
        "prompt",
        "rubricBlock",
    ]
)
# Marks a <br/> while whitespace is collapsed; XML text can never contain NUL.
_BREAK = "\x00"
_INLINE_INTERACTIONS = {"textEntryInteraction", "inlineChoiceInteraction"}
_MEDIA_LINK = re.compile(r"!\[([^\]]*)\]\(media:([^)]+)\)")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class _BadItemError(Exception):
    """An item (or a file it needs) cannot be read; the message says why."""


# --- small helpers -----------------------------------------------------------------------


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(parent: Element, name: str) -> list[Element]:
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: Element, name: str) -> Element | None:
    return next(iter(_children(parent, name)), None)


def _descendants(parent: Element, name: str) -> list[Element]:
    return [element for element in parent.iter() if _local(element.tag) == name]


def _content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _number(text: str, what: str) -> float:
    number = _optional_number(text)
    if number is None:
        raise _BadItemError(f"{what} {text.strip()!r} is not a number")
    return number


def _optional_number(text: str | None) -> float | None:
    try:
        return float(text or "")
    except ValueError:
        return None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _letters(index: int) -> str:
    """A, B, ... Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
