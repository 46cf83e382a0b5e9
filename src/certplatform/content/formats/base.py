"""What every format reader returns and raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from certplatform.content.contracts import QuestionDraft
from certplatform.kernel.errors import N_, Gettext, Invalid, Term, Text


class ImportFormatError(Exception):
    """The file as a whole cannot be read (not XML, wrong encoding, missing header...).

    The message is a catalog message with named parameters (see `kernel.errors`)."""

    def __init__(self, message: str | Text, /, **params: Any) -> None:
        self.text = message if isinstance(message, Text) else Text(message, **params)
        super().__init__(str(self.text))

    def localized(self, gettext: Gettext) -> str:
        return self.text.localized(gettext)


def unreadable_file(filename: str | None, exc: ImportFormatError) -> Invalid:
    """The error a person sees for a file that cannot be read."""
    return Invalid(
        N_("%(file)s: %(problem)s"),
        file=filename or Term(N_("The file")),
        problem=exc.text,
    )


def line_at(number: int) -> Text:
    return Text(N_("line %(line)s"), line=number)


@dataclass(frozen=True)
class ItemError:
    """One item that could not be turned into a question: where it is and what is wrong
    (in English; `localized` gives the reader's language where the reader wrote `Text`)."""

    location: str
    message: str
    location_text: Text | None = field(default=None, compare=False, repr=False)
    message_text: Text | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, location: str | Text, message: str | Text) -> ItemError:
        return cls(
            str(location),
            str(message),
            location if isinstance(location, Text) else None,
            message if isinstance(message, Text) else None,
        )

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def localized(self, gettext: Gettext) -> str:
        where = self.location_text.localized(gettext) if self.location_text else self.location
        what = self.message_text.localized(gettext) if self.message_text else gettext(self.message)
        return f"{where}: {what}"


@dataclass
class ParseResult:
    """The questions a reader found, in file order, and the items it had to refuse."""

    drafts: list[QuestionDraft] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
