"""Reader and writer for questions as CSV, one question a row (see docs/import-csv.md).

Cells holding lists (`answer`, `tags`, `law_refs`) separate entries with `|`; a backslash
makes the next character literal, so `\\|`, `\\:`, `\\#` and `\\\\` stand for themselves.

A cell a spreadsheet would run as a formula is written with a leading `'` (OWASP CSV
injection), and so is a cell that starts with `'` itself; the reader drops exactly that one
quote, so every text reads back as it was written.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
import string
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import ValidationError

from certplatform.content.contracts import (
    Choice,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult, line_at
from certplatform.kernel.errors import N_

LETTERS = string.ascii_uppercase
CHOICE_COLUMNS = tuple(f"choice_{letter.lower()}" for letter in LETTERS)
HEAD_FIELDS = ("code", "type", "subject", "subject_name", "topic", "topic_name", "question")
TAIL_FIELDS = (
    "answer",
    "explanation",
    "tags",
    "law_refs",
    "source",
    "title",
    "shuffle",
    "case_sensitive",
)
FIELDS = HEAD_FIELDS + TAIL_FIELDS
ANSWER_MODES = ("letter", "0-based", "1-based")

_KNOWN = frozenset(FIELDS + CHOICE_COLUMNS)

_CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE)
_TYPES = {t.value: t for t in QuestionType}
_TRUE = ("true", "t", "o", "yes", "y", "1")
_FALSE = ("false", "f", "x", "no", "n", "0")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)

# Excel, LibreOffice and Google Sheets run a cell starting with one of these as a formula
# (OWASP "CSV Injection"); the full-width forms are what Korean and Japanese input methods
# type, and a line break stands in for the carriage return the reader turns into one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
GUARD = "'"
_GUARDED = (*FORMULA_STARTS, GUARD)


class _BadItemError(Exception):
    """A row cannot be read; the message says why."""


@dataclass
class _Layout:
    """Where each field sits in the file's rows."""

    columns: dict[str, int] = field(default_factory=dict)
    # (choice id, column) in choice order.
    choices: list[tuple[str, int]] = field(default_factory=list)
    answer_mode: str = "letter"
    width: int = 0


# Reading


def parse(data: bytes, *, mapping: str | None = None) -> ParseResult:
    """Read questions from CSV; `mapping` is the `--map` text for files with other headers."""
    text = _decode(data).replace("\r\n", "\n").replace("\r", "\n")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff(text))
    result = ParseResult()
    seen: dict[str, int] = {}
    try:
        header = next((row for row in rows if any(cell.strip() for cell in row)), None)
        if header is None:
            raise ImportFormatError("the file is empty; it needs a header row")
        layout = _layout(header, mapping)
        line = rows.line_num
        with _collector_paused():
            for row in rows:
                start, line = line + 1, rows.line_num
                if not "".join(row).strip():
                    continue
                location = f"line {start}"
                try:
                    draft = _draft(row, layout, location)
                    if draft.external_id in seen:
                        raise _BadItemError(
                            f"code {draft.external_id!r} is already used on line "
                            f"{seen[draft.external_id]}"
                        )
                except _BadItemError as exc:
                    result.errors.append(ItemError(location, str(exc)))
                except ValidationError as exc:
                    result.errors.append(ItemError(location, _validation_message(exc)))
                else:
                    if draft.external_id is not None:
                        seen[draft.external_id] = start
                    result.drafts.append(draft)
    except csv.Error as exc:
        raise ImportFormatError(
            N_("%(where)s: %(problem)s"), where=line_at(rows.line_num), problem=str(exc)
        ) from exc
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    # A large file keeps millions of small objects alive; the cycle collector's full passes
    # over them cost more than the parse itself, and parsing creates no garbage cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(data: bytes) -> str:
    # Korean Excel saves CSV as CP949 (a superset of EUC-KR) unless told to use UTF-8.
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFormatError("the file is neither UTF-8 nor CP949 (EUC-KR) text")


def _sniff(text: str) -> str:
    """The delimiter used most in the header line: ',' ';' or tab."""
    header = next((line for line in io.StringIO(text) if line.strip()), "")
    return max(",;\t", key=header.count)


def _layout(header: list[str], mapping: str | None) -> _Layout:
    names = [name.strip().casefold() for name in header]
    if mapping is None:
        unknown = [h for h, n in zip(header, names, strict=True) if n and n not in _KNOWN]
        if unknown:
            raise ImportFormatError(
                N_(
                    "unknown columns %(columns)s; rename them to the documented names or "
                    "describe the file with a column map"
                ),
                columns=_quoted(unknown),
            )
        fields: dict[str, str] = {}
        choice_headers = list(CHOICE_COLUMNS)
        mode = "letter"
    else:
        fields, mapped_choices, mode = _parse_mapping(mapping)
        choice_headers = mapped_choices or list(CHOICE_COLUMNS)
        wanted = [*fields.values(), *(mapped_choices or [])]
        missing = [h for h in wanted if h.casefold() not in names]
        if missing:
            raise ImportFormatError(
                N_("the column map names columns the file does not have: %(columns)s"),
                columns=_quoted(missing),
            )

    def column(name: str) -> int | None:
        found = [i for i, n in enumerate(names) if n == name.casefold()]
        if len(found) > 1:
            raise ImportFormatError(
                N_("column '%(column)s' appears %(count)s times in the header"),
                column=name,
                count=len(found),
            )
        return found[0] if found else None

    layout = _Layout(answer_mode=mode, width=len(header))
    for name in FIELDS:
        index = column(fields.get(name, name))
        if index is not None:
            layout.columns[name] = index
    for letter, name in zip(LETTERS, choice_headers, strict=False):
        index = column(name)
        if index is not None:
            layout.choices.append((letter, index))
    for required in ("question", "answer"):
        if required not in layout.columns:
            raise ImportFormatError(
                N_("the header has no '%(column)s' column; name one so or use a column map"),
                column=required,
            )
    return layout


def _parse_mapping(mapping: str) -> tuple[dict[str, str], list[str] | None, str]:
    """`question=Q,answer=Ans:1-based,choices=A|B|C|D` → fields, choice headers, answer mode."""
    fields: dict[str, str] = {}
    choices: list[str] | None = None
    mode = "letter"
    unknown: list[str] = []
    for part in mapping.split(","):
        if not part.strip():
            continue
        name, sep, header = (s.strip() for s in part.partition("="))
        name = name.casefold()
        if not sep or not header:
            raise ImportFormatError(
                N_("column map entry '%(entry)s' is not field=Header"), entry=part.strip()
            )
        if name in fields or (name == "choices" and choices is not None):
            raise ImportFormatError(N_("the column map names '%(field)s' twice"), field=name)
        if name == "choices":
            choices = [h.strip() for h in header.split("|")]
            if not all(choices) or len(choices) > len(LETTERS):
                raise ImportFormatError(
                    N_("column map choices=%(header)s is not Header|Header|..."), header=header
                )
        elif name in FIELDS:
            if name == "answer":
                base, colon, suffix = header.rpartition(":")
                if colon and suffix.strip().casefold() in ANSWER_MODES:
                    header, mode = base.strip(), suffix.strip().casefold()
            fields[name] = header
        else:
            unknown.append(name)
    if unknown:
        raise ImportFormatError(
            N_("the column map has unknown fields %(fields)s; known are %(known)s"),
            fields=_quoted(unknown),
            known=", ".join([*FIELDS, "choices"]),
        )
    return fields, choices, mode


def _draft(row: list[str], layout: _Layout, location: str) -> QuestionDraft:
    if len(row) > layout.width and any(cell.strip() for cell in row[layout.width :]):
        raise _BadItemError(
            f"the row has {len(row)} cells but the header has {layout.width} "
            "(is there a comma in a cell without quotes?)"
        )
    width = len(row)
    cells = {
        name: restore(row[index].strip()) if index < width else ""
        for name, index in layout.columns.items()
    }
    choices = [
        (letter, restore(row[index].strip())) for letter, index in layout.choices if index < width
    ]
    # One validation of the whole draft: separate model calls per choice cost twice the time.
    return QuestionDraft.model_validate(
        {
            "content": _content(cells, choices, layout),
            "external_id": cells.get("code") or None,
            "title": cells.get("title") or None,
            "subject": cells.get("subject") or None,
            "subject_name": cells.get("subject_name") or None,
            "topic": cells.get("topic") or None,
            "topic_name": cells.get("topic_name") or None,
            "tags": [t for t in _entries(cells.get("tags", "")) if t],
            "law_refs": _law_refs(cells.get("law_refs", "")),
            "source": cells.get("source") or None,
            "location": location,
        }
    )


def _content(
    cells: dict[str, str], all_choices: list[tuple[str, str]], layout: _Layout
) -> dict[str, object]:
    """The content fields of a row, for `QuestionContent` to validate."""
    kind = _type(cells.get("type", ""))
    answer = cells["answer"]
    if not answer and kind is not QuestionType.ESSAY:
        raise _BadItemError("the answer is empty")
    filled = [(letter, text) for letter, text in all_choices if text]
    content: dict[str, object] = {
        "type": kind,
        "stem": cells["question"],
        "explanation": cells.get("explanation", ""),
        "shuffle_choices": _truth(cells.get("shuffle", ""), "shuffle", default=True),
        "case_sensitive": _truth(cells.get("case_sensitive", ""), "case_sensitive", default=False),
    }
    if kind in _CHOICE_TYPES:
        weights = _choice_weights(answer, filled, layout, kind is QuestionType.SINGLE_CHOICE)
        content["choices"] = [
            {"id": letter, "text": text, "weight": weights.get(letter, 0.0)}
            for letter, text in filled
        ]
    elif filled:
        raise _BadItemError(
            f"a {kind.value} question has no choices, but choice {filled[0][0]} is filled in"
        )
    elif kind is QuestionType.TRUE_FALSE:
        content["true_false_answer"] = _truth(answer, "answer")
    elif kind is QuestionType.SHORT_ANSWER:
        content["accepted_answers"] = [
            {"text": text, "weight": weight}
            for text, weight in _weighted_entries(answer, "accepted answer")
        ]
    elif kind is QuestionType.NUMERIC:
        content["numeric_answers"] = [
            _numeric(text, weight) for text, weight in _weighted_entries(answer, "number")
        ]
    elif kind is QuestionType.MATCHING:
        content["pairs"] = [_pair(entry) for entry in _split(answer, "|") if entry.strip()]
    elif answer:
        raise _BadItemError("an essay question has no answer; put a model answer in explanation")
    return content


def _type(text: str) -> QuestionType:
    if not text:
        return QuestionType.SINGLE_CHOICE
    kind = _TYPES.get(text.casefold())
    if kind is None:
        raise _BadItemError(f"type {text!r} is not one of {', '.join(_TYPES)}")
    return kind


def _truth(text: str, name: str, default: bool | None = None) -> bool:
    value = text.casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if not value and default is not None:
        return default
    raise _BadItemError(f"{name} {text!r} is neither true nor false")


def _choice_weights(
    answer: str, choices: list[tuple[str, str]], layout: _Layout, single: bool
) -> dict[str, float]:
    """Weights by choice id from `B`, `A|C`, `A:0.5|C:0.5|D:-0.5` (or choice numbers)."""
    filled = [letter for letter, _ in choices]
    columns = [letter for letter, _ in layout.choices]
    explicit: dict[str, float] = {}
    shared: list[str] = []
    for raw in _split(answer, "|"):
        name, weight = _weighted(raw)
        letter = _choice_letter(name, filled, columns, layout.answer_mode)
        if letter in explicit or letter in shared:
            raise _BadItemError(f"the answer names choice {letter} twice")
        if weight is None:
            shared.append(letter)
        elif not -1.0 <= weight <= 1.0:
            raise _BadItemError(f"weight {weight:g} of choice {letter} is not between -1 and 1")
        else:
            explicit[letter] = weight
    if single:
        if len(shared) > 1:
            raise _BadItemError(
                f"a single_choice answer names one choice, not {'|'.join(shared)}; "
                "use type multiple_response"
            )
        return explicit | dict.fromkeys(shared, 1.0)
    if not shared:
        return explicit
    left = 1.0 - sum(w for w in explicit.values() if w > 0)
    if left <= 0:
        raise _BadItemError(f"no credit is left for {'|'.join(shared)} after the given weights")
    return explicit | dict.fromkeys(shared, left / len(shared))


def _choice_letter(name: str, filled: list[str], columns: list[str], mode: str) -> str:
    if mode == "letter":
        letter = name.upper()
        if letter not in filled:
            raise _BadItemError(f"answer {name!r} does not name a choice ({_span(filled)})")
        return letter
    base = 0 if mode == "0-based" else 1
    numbers = f"{base}-{base + len(columns) - 1}"
    try:
        index = int(name) - base
    except ValueError:
        raise _BadItemError(f"answer {name!r} is not a choice number ({numbers})") from None
    if not 0 <= index < len(columns):
        raise _BadItemError(f"answer {name!r} is not a choice number ({numbers})")
    if columns[index] not in filled:
        raise _BadItemError(f"answer {name!r} names a choice that is empty")
    return columns[index]


def _span(letters: list[str]) -> str:
    if not letters:
        return "no choice is filled in"
    if len(letters) > 1 and "".join(letters) == LETTERS[: len(letters)]:
        return f"A-{letters[-1]}"
    return ", ".join(letters)


def _weighted(raw: str) -> tuple[str, float | None]:
    """`text:0.5` → ("text", 0.5); `text` → ("text", None). Unescapes the text."""
    pieces = _split(raw, ":")
    if len(pieces) == 1:
        return _unescape(raw.strip()), None
    text, number = ":".join(pieces[:-1]), pieces[-1].strip()
    try:
        weight = float(number)
    except ValueError:
        raise _BadItemError(
            f"weight {number!r} in {raw.strip()!r} is not a number (write \\: for a colon)"
        ) from None
    if not math.isfinite(weight):
        raise _BadItemError(f"weight {number!r} in {raw.strip()!r} is not a number")
    return _unescape(text.strip()), weight


def _weighted_entries(answer: str, what: str) -> list[tuple[str, float]]:
    entries: list[tuple[str, float]] = []
    for raw in _split(answer, "|"):
        if not raw.strip():
            continue
        text, weight = _weighted(raw)
        if weight is not None and not 0.0 <= weight <= 1.0:
            raise _BadItemError(
                f"weight {weight:g} of {what} {text!r} is not between 0 and 1 "
                "(write \\: for a colon)"
            )
        entries.append((text, 1.0 if weight is None else weight))
    return entries


def _numeric(text: str, weight: float) -> dict[str, float]:
    """`3.14`, `3.14±0.01` (or `+-`), `1..2`."""
    if ".." in text:
        low, high = text.split("..", 1)
        return {"min": _float(low, text), "max": _float(high, text), "weight": weight}
    for sign in ("±", "+/-", "+-"):
        if sign in text:
            value, tolerance = text.split(sign, 1)
            return {
                "value": _float(value, text),
                "tolerance": _float(tolerance, text),
                "weight": weight,
            }
    return {"value": _float(text, text), "weight": weight}


def _float(number: str, answer: str) -> float:
    try:
        return float(number)
    except ValueError:
        raise _BadItemError(
            f"answer {answer!r} is not a number, a value±tolerance or a min..max range"
        ) from None


def _pair(entry: str) -> dict[str, str]:
    pieces = _split(entry, "=>")
    if len(pieces) < 2:
        raise _BadItemError(f"pair {entry.strip()!r} is not left=>right")
    return {
        "left": _unescape(pieces[0].strip()),
        "right": _unescape("=>".join(pieces[1:]).strip()),
    }


def _law_refs(cell: str) -> list[dict[str, str]]:
    refs: list[dict[str, str]] = []
    for raw in _split(cell, "|"):
        if not raw.strip():
            continue
        pieces = _split(raw, "#")
        law = _unescape(pieces[0].strip())
        if not law:
            raise _BadItemError(f"law reference {raw.strip()!r} names no law (write law#article)")
        refs.append({"law": law, "article": _unescape("#".join(pieces[1:]).strip())})
    return refs


def _entries(cell: str) -> list[str]:
    return [_unescape(piece.strip()) for piece in _split(cell, "|")]


def _split(text: str, sep: str) -> list[str]:
    """Split at each `sep` not escaped by a backslash; the pieces keep their escapes."""
    if "\\" not in text:
        return text.split(sep)
    pieces: list[str] = []
    start = i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(sep, i):
            pieces.append(text[start:i])
            i += len(sep)
            start = i
        else:
            i += 1
    pieces.append(text[start:])
    return pieces


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"] if part != "content")
    return f"{where}: {message}" if where else message


# Writing


def dump(drafts: Iterable[QuestionDraft]) -> bytes:
    """Write drafts as CSV in the default layout, UTF-8 with a BOM so that Excel reads it.

    Not written: media files (the stem keeps its `media:` references) and feedback texts.
    """
    rows = [_row(draft) for draft in drafts]
    width = max((len(choices) for _, choices, _ in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*HEAD_FIELDS, *CHOICE_COLUMNS[:width], *TAIL_FIELDS])
    for head, choices, tail in rows:
        cells = [*head, *choices, *[""] * (width - len(choices)), *tail]
        writer.writerow([neutralise(cell) for cell in cells])
    return out.getvalue().encode("utf-8-sig")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet shows but never runs: `=1+1` → `'=1+1`.

    A cell already starting with `'` gets one more, so that `restore` can tell them apart.
    """
    return GUARD + cell if cell.startswith(_GUARDED) else cell


def restore(cell: str) -> str:
    """The text `neutralise` was given: drops the one `'` it adds, and only that one.

    A `'` followed by anything else is the text's own (`'Tis` reads as `'Tis`).
    """
    if cell.startswith(GUARD) and cell[1:].startswith(_GUARDED):
        return cell[1:]
    return cell


def _row(draft: QuestionDraft) -> tuple[list[str], list[str], list[str]]:
    content = draft.content
    letters = _choice_letters(content.choices)
    choices = [""] * (max((LETTERS.index(x) + 1 for x in letters), default=0))
    for letter, choice in zip(letters, content.choices, strict=True):
        choices[LETTERS.index(letter)] = choice.text
    head = [
        draft.external_id or "",
        content.type.value,
        draft.subject or "",
        draft.subject_name or "",
        draft.topic or "",
        draft.topic_name or "",
        content.stem,
    ]
    tail = [
        _answer(content, letters),
        content.explanation,
        "|".join(_escape(tag, "|") for tag in draft.tags),
        "|".join(
            _escape(ref.law, "|#") + (f"#{_escape(ref.article, '|#')}" if ref.article else "")
            for ref in draft.law_refs
        ),
        draft.source or "",
        draft.title or "",
        "yes" if content.shuffle_choices else "no",
        "yes" if content.case_sensitive else "no",
    ]
    return head, choices, tail


def _choice_letters(choices: tuple[Choice, ...]) -> list[str]:
    """Column letters: the choice ids when they are letters, else A, B, C... in order."""
    ids = [c.id for c in choices]
    if all(len(i) == 1 and i in LETTERS for i in ids):
        return ids
    if len(ids) > len(LETTERS):
        raise ValueError(f"CSV holds at most {len(LETTERS)} choices, not {len(ids)}")
    return list(LETTERS[: len(ids)])


def _answer(content: QuestionContent, letters: list[str]) -> str:
    kind = content.type
    if kind in _CHOICE_TYPES:
        weights = [c.weight for c in content.choices]
        keys = [w for w in weights if w > 0]
        if kind is QuestionType.SINGLE_CHOICE:
            bare = weights.index(1.0) if 1.0 in weights else -1
            plain = [i == bare for i in range(len(weights))]
        else:
            # Equal shares are written as bare letters; the reader divides them again.
            equal = all(w == 1.0 / len(keys) for w in keys)
            plain = [equal and w > 0 for w in weights]
        return "|".join(
            letter if is_plain else f"{letter}:{_number(w)}"
            for letter, w, is_plain in zip(letters, weights, plain, strict=True)
            if w != 0 or is_plain
        )
    if kind is QuestionType.TRUE_FALSE:
        return "true" if content.true_false_answer else "false"
    if kind is QuestionType.SHORT_ANSWER:
        return "|".join(
            _escape(a.text, "|:") + ("" if a.weight == 1.0 else f":{_number(a.weight)}")
            for a in content.accepted_answers
        )
    if kind is QuestionType.NUMERIC:
        return "|".join(_numeric_text(n) for n in content.numeric_answers)
    if kind is QuestionType.MATCHING:
        return "|".join(f"{_escape(p.left, '|=')}=>{_escape(p.right, '|')}" for p in content.pairs)
    return ""


def _numeric_text(answer: NumericAnswer) -> str:
    if answer.min is not None and answer.max is not None:
        text = f"{_number(answer.min)}..{_number(answer.max)}"
    else:
        assert answer.value is not None
        text = _number(answer.value)
        if answer.tolerance:
            text += f"±{_number(answer.tolerance)}"
    return text if answer.weight == 1.0 else f"{text}:{_number(answer.weight)}"


def _number(x: float) -> str:
    text = repr(x)
    return text.removesuffix(".0")


def _escape(text: str, specials: str) -> str:
    text = text.replace("\\", "\\\\")
    for char in specials:
        text = text.replace(char, "\\" + char)
    return text
