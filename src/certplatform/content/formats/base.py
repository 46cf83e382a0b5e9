"""What every format reader returns and raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from certplatform.content.contracts import QuestionDraft


class ImportFormatError(Exception):
    """The file as a whole cannot be read (not XML, wrong encoding, missing header...)."""


@dataclass(frozen=True)
class ItemError:
    """One item that could not be turned into a question: where it is and what is wrong."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class ParseResult:
    """The questions a reader found, in file order, and the items it had to refuse."""

    drafts: list[QuestionDraft] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
