"""Reader and writer for GIFT, Moodle's plain-text question format.

Reading happens in two steps. `parse_raw` turns the text into the syntax tree used by the
GIFT-grammar-PEG.js test suite (types MC, TF, Short, Numerical, Matching, Essay,
Description, Category); numbers in it are `Decimal`, so percentages such as `%33.33333%`
convert to weights without rounding. `parse` then maps that tree onto `QuestionDraft`:

- MC with an `=` answer is single choice (`=` is full credit, `~%50%` keeps its fraction);
  MC with only `~` answers is multiple response, credit coming from the `%n%` weights.
- TF is true/false; its general feedback (or else its first `#` feedback, the one Moodle
  shows after a wrong answer) becomes the explanation.
- Short answer, numerical (`value`, `value:tolerance`, `min..max`), matching and essay map
  onto the types of the same name. A numerical catch-all (`~#feedback` or `=*`) earns no
  credit and is dropped.
- Description items (text without an answer block) are skipped.
- `####` general feedback is the explanation; `::title::` the title; `// [id:x] [tag:y]`
  comments the external id and tags.
- `$CATEGORY: $course$/top/subject/topic` sets subject and topic for the questions after
  it. Moodle's context (`$course$`) and root (`top`) segments are dropped.
- Answers in the middle of the text leave `_____` where the answer block was.
- A `%n%` weight must be one of the grades Moodle allows (`moodle_grades`) and is read as
  that grade; the positive weights of a multiple-response question must add up to 100%.
  An item that breaks either rule is refused, as Moodle refuses it.

`dump` writes every question type. What GIFT cannot carry is lost: `shuffle_choices`,
`case_sensitive`, law references, sources, media, display names of subjects and topics, and
whitespace at either end of a text. Texts are written as `[markdown]`; line breaks become
`\\n` escapes (a carriage return is written as a line break). Choice ids are not written: the
reader numbers choices A, B, C... `dump` raises ValueError for what GIFT cannot express: a
short answer or the left side of a matching pair containing `->`, or a weight that is not one
of Moodle's grades.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from pydantic import ValidationError

from certplatform.content.contracts import QuestionContent, QuestionDraft, QuestionType
from certplatform.content.formats import moodle_grades
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult, line_at
from certplatform.kernel.errors import N_, Text

RawItem = dict[str, Any]

_ESCAPABLE = frozenset("\\:~=#[]{}n")
_UNESCAPE = re.compile(r"\\([\\:~=#\[\]{}n])")
_FORMAT = re.compile(r"\[(html|markdown|plain|moodle)\]")
_KEEPS_WHITESPACE = ("html", "markdown")
_WEIGHT = re.compile(r"%([+-]?\d+(?:\.\d+)?)%")
_NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d{1,4})?"
_NUMERIC_ANSWER = re.compile(rf"({_NUMBER})(?:\s*:\s*({_NUMBER})|\s*\.\.\s*({_NUMBER}))?")
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
_META = r"((?:\\.|[^\\\[\]\x00-\x1f\x7f])+)"
_ID = re.compile(r"\[id:" + _META + r"\]")
_TAG = re.compile(r"\[tag:" + _META + r"\]")
_CATEGORY = "$CATEGORY:"
_CATEGORY_SPLIT = re.compile(r"(?<!/)/(?!/)")
_CONTEXT = re.compile(r"\$\w+\$")
# No traps: a silly percentage in a file becomes an item error, never an exception.
_DECIMAL = Context(prec=60, traps=[])
_HUNDRED = Decimal(100)


class _GiftSyntaxError(ImportFormatError):
    """One item cannot be read; the message says why."""


@dataclass(frozen=True)
class _Item:
    line: int  # where the question text starts
    text: str  # without comment lines
    comments: tuple[str, ...]


# Reading


def parse(data: bytes) -> ParseResult:
    """Read GIFT questions; items that are not valid questions become `result.errors`."""
    result = ParseResult()
    subject: str | None = None
    topic: str | None = None
    for line, raw in _read(_decode(data)):
        location: str | Text = line_at(line)
        if isinstance(raw, _GiftSyntaxError):
            result.errors.append(ItemError.of(location, raw.text))
            continue
        if raw["type"] == "Category":
            subject, topic = _category(raw["title"])
            continue
        if raw["type"] == "Description":
            continue
        location = _location(line, raw)
        try:
            draft = QuestionDraft(
                content=_content(raw),
                external_id=raw["id"],
                title=raw["title"] or None,
                subject=subject,
                subject_name=subject,
                topic=topic,
                topic_name=topic,
                tags=tuple(raw["tags"] or ()),
                location=str(location),
            )
        except _GiftSyntaxError as exc:
            result.errors.append(ItemError.of(location, exc.text))
        except ValidationError as exc:
            result.errors.append(ItemError.of(location, _describe(exc)))
        else:
            result.drafts.append(draft)
    return result


def _location(line: int, raw: RawItem) -> Text:
    if raw["id"] and raw["title"]:
        return Text(
            N_("line %(line)s (id %(id)s / title %(title)s)"),
            line=line,
            id=raw["id"],
            title=raw["title"],
        )
    if raw["id"]:
        return Text(N_("line %(line)s (id %(id)s)"), line=line, id=raw["id"])
    if raw["title"]:
        return Text(N_("line %(line)s (title %(title)s)"), line=line, title=raw["title"])
    return line_at(line)


def parse_raw(text: str) -> list[RawItem]:
    """The syntax tree of a GIFT text; raises ImportFormatError at the first bad item."""
    items: list[RawItem] = []
    for line, raw in _read(_normalize(text.removeprefix("\ufeff"))):
        if isinstance(raw, _GiftSyntaxError):
            raise ImportFormatError(
                N_("%(where)s: %(problem)s"), where=line_at(line), problem=raw.text
            )
        items.append(raw)
    return items


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            N_("The file is not UTF-8 text (undecodable byte at offset %(offset)s)."),
            offset=exc.start,
        ) from None
    return _normalize(text)


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read(text: str) -> Iterator[tuple[int, RawItem | _GiftSyntaxError]]:
    for item in _items(text):
        try:
            yield item.line, _read_item(item)
        except _GiftSyntaxError as exc:
            yield item.line, exc


def _items(text: str) -> Iterator[_Item]:
    """Split the text into items at blank lines; a `$CATEGORY:` line is an item of its own."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip(" \t")
        if stripped.startswith(_CATEGORY):
            yield from _item(block)
            block = []
            yield _Item(number, stripped, ())
        elif stripped:
            block.append((number, line))
        else:
            yield from _item(block)
            block = []
    yield from _item(block)


def _item(block: list[tuple[int, str]]) -> Iterator[_Item]:
    # Like Moodle, a line starting with // is a comment wherever it is in the item.
    comments = tuple(line for _, line in block if line.lstrip(" \t").startswith("//"))
    content = [(n, line) for n, line in block if not line.lstrip(" \t").startswith("//")]
    if content:
        yield _Item(content[0][0], "\n".join(line for _, line in content), comments)


def _read_item(item: _Item) -> RawItem:
    rest = item.text.lstrip()
    if rest.startswith(_CATEGORY):
        return {"type": "Category", "title": rest[len(_CATEGORY) :].strip()}
    question_id, tags = _id_and_tags(item.comments)
    title = None
    if rest.startswith("::"):
        end = _find(rest[2:], "::")
        if end < 0:
            raise _GiftSyntaxError(N_("the title has no closing '::'"))
        title = _unescape(rest[2 : 2 + end]).strip()
        rest = rest[end + 4 :]
    common: RawItem = {"id": question_id, "tags": tags, "title": title}
    opening, closing = _find(rest, "{"), _find(rest, "}")
    if closing >= 0 and (opening < 0 or closing < opening):
        raise _GiftSyntaxError(N_("a '}' comes before any '{' (write \\} for a literal brace)"))
    if opening < 0:
        stem = _rich(rest, "moodle")
        return {**common, "type": "Description", "stem": stem, "hasEmbeddedAnswers": False}
    head, after = rest[:opening], rest[opening + 1 :]
    closing = _find(after, "}")
    if closing < 0:
        raise _GiftSyntaxError(N_("the answer block '{' is never closed with '}'"))
    block, tail = after[:closing], after[closing + 1 :]
    if _find(block, "{") >= 0:
        raise _GiftSyntaxError(N_("a '{' inside the answer block (write \\{ for a literal brace)"))
    if _find(tail, "{") >= 0 or _find(tail, "}") >= 0:
        raise _GiftSyntaxError(
            N_("a question has one answer block; write \\{ and \\} for literal braces")
        )
    stem1 = _rich(head, "moodle") if head.strip() else None
    answer_format = stem1["format"] if stem1 else "moodle"
    trailing = tail.strip()
    embedded = bool(trailing) and not trailing.startswith("//")
    stem2 = _rich(tail, answer_format) if embedded else None
    text = stem1["text"] if stem1 else ""
    if stem2 is not None:
        text = (text + " " if stem1 else "") + "_____ " + stem2["text"]
    stem_format = stem1["format"] if stem1 else stem2["format"] if stem2 else "moodle"
    return {
        **common,
        "stem": {"format": stem_format, "text": text},
        "hasEmbeddedAnswers": embedded,
        **_answers(block, answer_format),
    }


def _answers(block: str, fmt: str) -> RawItem:
    """The answer block's type, answers and general feedback."""
    general = None
    at = _find(block, "####")
    if at >= 0:
        general = _feedback(block[at + 4 :], fmt)
        block = block[:at]
    body = block.strip()
    if not body:
        return {"type": "Essay", "globalFeedback": general}
    if body.startswith("#"):
        return {
            "type": "Numerical",
            "globalFeedback": general,
            "choices": _numerical(body[1:], fmt),
        }
    parts = _split(body, "#")
    if parts[0][1].strip() in _TRUE_FALSE:
        if len(parts) > 3:
            raise _GiftSyntaxError(N_("a true/false answer takes at most two '#' feedbacks"))
        feedback = [_feedback(part, fmt) for _, part in parts[1:]] + [None, None]
        return {
            "type": "TF",
            "globalFeedback": general,
            "isTrue": _TRUE_FALSE[parts[0][1].strip()],
            "trueFeedback": feedback[0],
            "falseFeedback": feedback[1],
        }
    entries = _split(body, "=~")
    if len(entries) == 1:  # `{answer}`: one correct short answer without '='
        return {"type": "Short", "globalFeedback": general, "choices": [_choice("=", body, fmt)]}
    _no_lead(entries[0][1])
    entries = entries[1:]
    if all(mark == "=" for mark, _ in entries) and any(_is_pair(piece) for _, piece in entries):
        pairs = [_pair(number, piece, fmt) for number, (_, piece) in enumerate(entries, 1)]
        return {"type": "Matching", "globalFeedback": general, "matchPairs": pairs}
    choices = [_choice(mark, piece, fmt) for mark, piece in entries]
    kind = "Short" if all(choice["isCorrect"] for choice in choices) else "MC"
    return {"type": kind, "globalFeedback": general, "choices": choices}


def _choice(mark: str, piece: str, fmt: str) -> RawItem:
    weight, piece = _weight(piece)
    parts = _split(piece, "#")
    if len(parts) > 2:
        raise _GiftSyntaxError(
            N_("an answer has more than one '#' feedback (write \\# for a literal '#')")
        )
    return {
        "isCorrect": mark == "=",
        "weight": weight,
        "text": _rich(parts[0][1], fmt),
        "feedback": _feedback(parts[1][1], fmt) if len(parts) == 2 else None,
    }


def _is_pair(piece: str) -> bool:
    # A '->' in feedback does not make a pair: `=answer#see a -> b` is a short answer.
    return _find(_split(piece, "#")[0][1], "->") >= 0


def _pair(number: int, piece: str, fmt: str) -> RawItem:
    arrow = _find(piece, "->")
    if arrow < 0:
        raise _GiftSyntaxError(N_("matching pair %(number)s has no '->'"), number=number)
    right = piece[arrow + 2 :]
    if _find(right, "#") >= 0:
        raise _GiftSyntaxError(
            N_(
                "matching pair %(number)s has a '#', but pairs take no feedback "
                "(write \\# for a literal '#')"
            ),
            number=number,
        )
    return {"subquestion": _rich(piece[:arrow], fmt), "subanswer": _plain(right, fmt)}


def _numerical(body: str, fmt: str) -> RawItem | list[RawItem]:
    body = body.strip()
    if not body:
        raise _GiftSyntaxError(N_("the numerical answer block '{#}' holds no number"))
    if body[0] not in "=~":
        if len(_split(body, "#")) == 1:
            return _number(_unescape(body))
        body = "=" + body  # one answer with feedback: read it like a list of one
    entries = _split(body, "=~")
    _no_lead(entries[0][1])
    return [_numerical_choice(mark, piece, fmt) for mark, piece in entries[1:]]


def _numerical_choice(mark: str, piece: str, fmt: str) -> RawItem:
    weight, piece = _weight(piece)
    parts = _split(piece, "#")
    if len(parts) > 2:
        raise _GiftSyntaxError(N_("a numerical answer has more than one '#' feedback"))
    value = _unescape(parts[0][1]).strip()
    # An answer without a number (`~#Completely wrong`) is Moodle's catch-all '*'.
    text = {"format": fmt, "text": "*"} if value in ("", "*") else _number(value)
    return {
        "isCorrect": mark == "=",
        "weight": weight,
        "text": text,
        "feedback": _feedback(parts[1][1], fmt) if len(parts) == 2 else None,
    }


def _number(text: str) -> RawItem:
    match = _NUMERIC_ANSWER.fullmatch(text.strip())
    if match is None:
        raise _GiftSyntaxError(
            N_("'%(text)s' is not a number, 'value:tolerance' or 'min..max'"), text=text.strip()
        )
    value, tolerance, high = match.groups()
    if tolerance is not None:
        return {"type": "range", "number": Decimal(value), "range": Decimal(tolerance)}
    if high is not None:
        return {"type": "high-low", "numberHigh": Decimal(high), "numberLow": Decimal(value)}
    return {"type": "simple", "number": Decimal(value)}


def _weight(piece: str) -> tuple[Decimal | None, str]:
    piece = piece.lstrip()
    match = _WEIGHT.match(piece)
    if match is None:
        return None, piece
    return Decimal(match.group(1)), piece[match.end() :]


def _no_lead(text: str) -> None:
    if text.strip():
        raise _GiftSyntaxError(
            N_("unexpected text '%(text)s' before the first '=' or '~' answer"),
            text=_unescape(text.strip()),
        )


def _id_and_tags(comments: Sequence[str]) -> tuple[str | None, list[str] | None]:
    question_id: str | None = None
    tags: list[str] = []
    for comment in comments:
        for match in _ID.finditer(comment):
            question_id = _unescape_meta(match.group(1)) or question_id
        tags.extend(tag for m in _TAG.finditer(comment) if (tag := _unescape_meta(m.group(1))))
    return question_id, tags or None


def _unescape_meta(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).strip()


# Text: escapes are decoded last, so that `\:` or `\{` never counts as syntax.


def _positions(text: str) -> Iterator[int]:
    """Indexes of the characters that are not part of an escape sequence."""
    i, end = 0, len(text)
    while i < end:
        if text[i] == "\\" and i + 1 < end and text[i + 1] in _ESCAPABLE:
            i += 2
            continue
        yield i
        i += 1


def _find(text: str, token: str) -> int:
    return next((i for i in _positions(text) if text.startswith(token, i)), -1)


def _split(text: str, marks: str) -> list[tuple[str, str]]:
    """Pieces of `text` cut at the unescaped `marks`, each with the mark before it."""
    pieces: list[tuple[str, str]] = []
    mark, start = "", 0
    for i in _positions(text):
        if text[i] in marks:
            pieces.append((mark, text[start:i]))
            mark, start = text[i], i + 1
    pieces.append((mark, text[start:]))
    return pieces


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _rich(raw: str, default_format: str) -> RawItem:
    """Text with an optional `[format]` in front."""
    text = raw.lstrip()
    fmt = default_format
    match = _FORMAT.match(text)
    if match:
        fmt, text = match.group(1), text[match.end() :]
    return {"format": fmt, "text": _plain(text, fmt)}


def _plain(raw: str, fmt: str) -> str:
    text = raw.strip()
    if fmt not in _KEEPS_WHITESPACE:
        # Moodle and plain text are reflowed: line breaks and runs of spaces become one space.
        text = re.sub(r"\s\s+", " ", text.replace("\n", " "))
    return _unescape(text)


def _feedback(raw: str, fmt: str) -> RawItem | None:
    feedback = _rich(raw, fmt)
    return feedback if feedback["text"] else None


# From the syntax tree to our model


def _content(raw: RawItem) -> QuestionContent:
    fields: RawItem = {
        "stem": raw["stem"]["text"],
        "explanation": _text(raw["globalFeedback"]) or "",
    }
    kind = raw["type"]
    if kind == "Essay":
        fields["type"] = QuestionType.ESSAY
    elif kind == "TF":
        fields["type"] = QuestionType.TRUE_FALSE
        fields["true_false_answer"] = raw["isTrue"]
        # The first '#' feedback is the one Moodle shows after a wrong answer.
        fields["explanation"] = fields["explanation"] or _text(raw["trueFeedback"]) or ""
    elif kind == "MC":
        fields.update(_choice_fields(raw["choices"]))
    elif kind == "Short":
        fields["type"] = QuestionType.SHORT_ANSWER
        fields["accepted_answers"] = [
            {
                "text": _nonempty(choice["text"]["text"], number),
                "weight": _fraction(choice["weight"], 1.0, number, allow_negative=False),
                "feedback": _text(choice["feedback"]),
            }
            for number, choice in enumerate(raw["choices"], 1)
        ]
    elif kind == "Numerical":
        fields["type"] = QuestionType.NUMERIC
        fields["numeric_answers"] = _numeric_answers(raw["choices"])
    elif kind == "Matching":
        fields["type"] = QuestionType.MATCHING
        fields["pairs"] = [
            {"left": pair["subquestion"]["text"], "right": pair["subanswer"]}
            for pair in raw["matchPairs"]
        ]
    return QuestionContent.model_validate(fields)


def _choice_fields(choices: list[RawItem]) -> RawItem:
    single = any(choice["isCorrect"] for choice in choices)
    rows = [
        {
            "id": _choice_id(number),
            "text": choice["text"]["text"],
            "weight": _fraction(choice["weight"], 1.0 if choice["isCorrect"] else 0.0, number + 1),
            "feedback": _text(choice["feedback"]),
        }
        for number, choice in enumerate(choices)
    ]
    if not any(row["weight"] > 0 for row in rows):
        raise _GiftSyntaxError(
            N_("no answer earns credit: mark the right one with '=' or give '%n%' weights")
        )
    if not single:
        try:
            moodle_grades.check_multiple_response(row["weight"] for row in rows)
        except moodle_grades.GradeError as exc:
            raise _GiftSyntaxError(str(exc)) from None  # the grade rules' own words
    kind = QuestionType.SINGLE_CHOICE if single else QuestionType.MULTIPLE_RESPONSE
    return {"type": kind, "choices": rows}


def _numeric_answers(choices: RawItem | list[RawItem]) -> list[RawItem]:
    if isinstance(choices, dict):
        return [_numeric_range(choices)]
    answers: list[RawItem] = []
    for number, choice in enumerate(choices, 1):
        default = 1.0 if choice["isCorrect"] else 0.0
        weight = _fraction(choice["weight"], default, number, allow_negative=False)
        if "format" in choice["text"]:  # the catch-all '*'
            if weight > 0:
                raise _GiftSyntaxError(N_("a numerical answer without a number cannot earn credit"))
            continue
        feedback = _text(choice["feedback"])
        answers.append({**_numeric_range(choice["text"]), "weight": weight, "feedback": feedback})
    return answers


def _numeric_range(number: RawItem) -> RawItem:
    if number["type"] == "high-low":
        return {"min": float(number["numberLow"]), "max": float(number["numberHigh"])}
    tolerance = float(number["range"]) if number["type"] == "range" else 0.0
    return {"value": float(number["number"]), "tolerance": tolerance}


def _fraction(
    percent: Decimal | None, default: float, number: int, allow_negative: bool = True
) -> float:
    """A `%n%` weight as the Moodle grade it matches, as Moodle stores it."""
    if percent is None:
        return default
    low = -100 if allow_negative else 0
    if not low <= percent <= 100:
        raise _GiftSyntaxError(
            N_("the weight %(weight)s%% is outside %(low)s%%..100%%"), weight=percent, low=low
        )
    try:
        return float(moodle_grades.grade(_DECIMAL.divide(percent, _HUNDRED)))
    except moodle_grades.GradeError as exc:
        raise _GiftSyntaxError(
            N_("answer %(number)s: %(problem)s"), number=number, problem=str(exc)
        ) from None


def _choice_id(index: int) -> str:
    """A, B, ... Z, AA, AB, ..."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def _nonempty(text: str, number: int) -> str:
    if not text.strip():
        raise _GiftSyntaxError(N_("answer %(number)s is empty"), number=number)
    return text


def _text(rich: RawItem | None) -> str | None:
    return None if rich is None else str(rich["text"])


def _category(path: str) -> tuple[str | None, str | None]:
    segments = [s.replace("//", "/").strip() for s in _CATEGORY_SPLIT.split(path)]
    if segments and _CONTEXT.fullmatch(segments[0]):
        segments = segments[1:]
    if segments and segments[0] == "top":
        segments = segments[1:]
    segments = [s for s in segments if s]
    return (
        segments[0] if segments else None,
        segments[1] if len(segments) > 1 else None,
    )


_FIELD_NAMES = {
    "stem": "question text",
    "choices": "answer",
    "accepted_answers": "answer",
    "numeric_answers": "answer",
    "pairs": "pair",
}


def _describe(error: ValidationError) -> str:
    messages = []
    for detail in error.errors():
        where: list[str] = []
        for part in detail["loc"]:
            if isinstance(part, int) and where:
                where[-1] += f" {part + 1}"
            else:
                where.append(_FIELD_NAMES.get(str(part), str(part)))
        message = str(detail["msg"]).removeprefix("Value error, ")
        messages.append(f"{', '.join(where)}: {message}" if where else message)
    return "; ".join(messages)


# Writing


def dump(drafts: Sequence[QuestionDraft]) -> bytes:
    """Write drafts as GIFT; raises ValueError for content GIFT cannot express."""
    blocks: list[str] = []
    category: tuple[str | None, str | None] = (None, None)
    for number, draft in enumerate(drafts, 1):
        subject = draft.subject or None
        wanted = (subject, (draft.topic or None) if subject else None)
        if wanted != category:
            path = "".join("/" + _category_segment(s) for s in wanted if s)
            blocks.append(f"{_CATEGORY} $course$/top{path}")
            category = wanted
        try:
            blocks.append(_question(draft))
        except ValueError as exc:
            name = draft.external_id or draft.title or f"number {number}"
            raise ValueError(f"GIFT cannot write question {name}: {exc}") from None
    return ("\n\n".join(blocks) + "\n").encode() if blocks else b""


def _question(draft: QuestionDraft) -> str:
    content = draft.content
    lines: list[str] = []
    meta = [f"[id:{_meta(draft.external_id)}]"] if draft.external_id else []
    meta += [f"[tag:{_meta(tag)}]" for tag in draft.tags if tag]
    if meta:
        lines.append("// " + " ".join(meta))
    title = f"::{_escape(draft.title)}::" if draft.title else ""
    head = f"{title}[markdown]{_escape(content.stem)}"
    general = f"####{_out(content.explanation)}" if content.explanation else ""
    kind = content.type
    if kind is QuestionType.TRUE_FALSE:
        lines.append(f"{head}{{{'TRUE' if content.true_false_answer else 'FALSE'}{general}}}")
        return "\n".join(lines)
    if kind is QuestionType.ESSAY:
        lines.append(f"{head}{{{general}}}")
        return "\n".join(lines)
    lines.append(head + "{")
    lines.extend("    " + entry for entry in _entries(content))
    if general:
        lines.append("    " + general)
    lines.append("}")
    return "\n".join(lines)


def _entries(content: QuestionContent) -> list[str]:
    kind = content.type
    if kind is QuestionType.SINGLE_CHOICE:
        # One '=' marks the key; the rest are '~' (a block of '=' alone is a short answer).
        best = max(c.weight for c in content.choices)
        key = next(c.id for c in content.choices if c.weight == best)
        entries = []
        for c in content.choices:
            mark, implied = ("=", 1.0) if c.id == key else ("~", 0.0)
            entries.append(
                mark + _answer_text(c.text, c.weight, implied) + _feedback_out(c.feedback)
            )
        return entries
    if kind is QuestionType.MULTIPLE_RESPONSE:
        moodle_grades.check_multiple_response(c.weight for c in content.choices)
        return [
            "~" + _answer_text(c.text, c.weight, 0.0) + _feedback_out(c.feedback)
            for c in content.choices
        ]
    if kind is QuestionType.SHORT_ANSWER:
        entries = []
        for answer in content.accepted_answers:
            if "->" in answer.text:
                raise ValueError(f"the short answer {answer.text!r} contains '->'")
            text = _answer_text(answer.text, answer.weight, 1.0)
            entries.append("=" + text + _feedback_out(answer.feedback))
        return entries
    if kind is QuestionType.NUMERIC:
        entries = ["#"]
        for number in content.numeric_answers:
            weight = "" if number.weight == 1.0 else f"%{_percent(number.weight)}%"
            if number.min is not None and number.max is not None:
                value = f"{number.min!r}..{number.max!r}"
            else:
                value = repr(number.value)
                if number.tolerance:
                    value += f":{number.tolerance!r}"
            entries.append(f"={weight}{value}{_feedback_out(number.feedback)}")
        return entries
    if kind is QuestionType.MATCHING:
        entries = []
        for pair in content.pairs:
            if "->" in pair.left:
                raise ValueError(f"the left side {pair.left!r} of a matching pair contains '->'")
            entries.append(f"={_out(pair.left)} -> {_escape(pair.right)}")
        return entries
    raise ValueError(f"the question type {kind.value} has no GIFT form")


def _answer_text(text: str, weight: float, implied: float) -> str:
    """The answer text, after a `%n%` weight unless the weight is what the mark implies."""
    # A text starting with '%' would read as a weight: then the weight is always written.
    shown = weight != implied or text.startswith("%")
    return (f"%{_percent(weight)}%" if shown else "") + _out(text)


def _percent(weight: float) -> str:
    # The Moodle grade the weight matches, as Moodle writes it: 1/3 is written 33.33333.
    return moodle_grades.percent(moodle_grades.grade_of_weight(weight))


def _feedback_out(feedback: str | None) -> str:
    return "" if feedback is None else "#" + _out(feedback)


def _out(text: str) -> str:
    """A text inside the answer block, guarded against reading as a format marker."""
    return ("[markdown]" if _FORMAT.match(text) else "") + _escape(text)


def _escape(text: str) -> str:
    text = _normalize(text).replace("\\", "\\\\")
    for char in "~=#{}:":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


def _meta(text: str) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _category_segment(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("/", "//")
