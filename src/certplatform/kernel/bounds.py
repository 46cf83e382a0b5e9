"""Bounds for what clients send, matched to what the columns store.

Every integer a route, a form or a GraphQL argument accepts is bounded by its column (INTEGER
holds 32 bits, BIGINT 64), and every string and list by its column or a limit no honest client
reaches, so a value out of range is a 422 that names the field instead of a database error.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

ID_LENGTH = 32  # IdMixin: uuid4 hex in String(32)
CODE_LENGTH = 64  # certification, subject, topic and section codes: String(64)
NAME_LENGTH = 200
TEXT_LENGTH = 5000  # a memo, an answer text, a choice
LONG_TEXT_LENGTH = 50_000  # a question stem or an explanation (Markdown, maybe a table)
LIST_LENGTH = 500  # items in a list nobody edits by hand beyond a few dozen

Id = Annotated[str, StringConstraints(max_length=ID_LENGTH)]
Code = Annotated[str, StringConstraints(max_length=CODE_LENGTH)]
Name = Annotated[str, StringConstraints(max_length=NAME_LENGTH)]
Text = Annotated[str, StringConstraints(max_length=TEXT_LENGTH)]
# A question's place in an attempt (from 1) or a practice run (from 0): an INTEGER column.
Position = Annotated[int, Field(ge=0, le=INT32_MAX)]


def form_int(value: str, high: int = INT32_MAX) -> int | None:
    """A whole number 0..`high` typed into a form or a query string, else None.

    `str.isdigit` also accepts "²", which `int` refuses; `isdecimal` is exactly what `int`
    reads, and the length check keeps a page of digits from being converted at all."""
    value = value.strip()
    if not value.isdecimal() or len(value) > len(str(high)):
        return None
    number = int(value)
    return number if number <= high else None
