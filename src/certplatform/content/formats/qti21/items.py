"""Reading one QTI 2.1 assessmentItem into a question draft."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    MatchPair,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats.qti21.common import (
    _BLOCKS,
    _BREAK,
    _HIDDEN,
    _INLINE_INTERACTIONS,
    BLANK,
    _BadItemError,
    _child,
    _children,
    _content_type,
    _descendants,
    _int,
    _letters,
    _local,
    _number,
    _optional_number,
)


@dataclass
class _Item:
    """One assessmentItem being read: its parts and the feedback already used by answers."""

    root: Element
    interaction: Element
    declaration: Element
    images: list[str]
    used_feedback: set[tuple[str, str]] = field(default_factory=set)

    @property
    def response_id(self) -> str:
        return self.interaction.get("responseIdentifier", "")

    def text(self, element: Element) -> str:
        return _Text(self.images).flow(element)

    def shuffle(self) -> bool:
        return self.interaction.get("shuffle", "false") == "true"

    def correct_values(self) -> list[str]:
        correct = _child(self.declaration, "correctResponse")
        if correct is None:
            return []
        return [(value.text or "").strip() for value in _children(correct, "value")]

    def mapping(self) -> tuple[list[tuple[str, float, bool]], float]:
        """(key, points, case sensitive) per mapEntry, and the points of unmapped values."""
        mapping = _child(self.declaration, "mapping")
        if mapping is None:
            return [], 0.0
        entries = [
            (
                entry.get("mapKey", ""),
                _number(entry.get("mappedValue", ""), "mappedValue"),
                entry.get("caseSensitive", "true") != "false",
            )
            for entry in _children(mapping, "mapEntry")
        ]
        return entries, _number(mapping.get("defaultValue", "0"), "defaultValue")

    def branches(self) -> list[_Branch]:
        return _branches(self.root, self.response_id)

    def feedback(self, ref: tuple[str, str] | None) -> str | None:
        """The modalFeedback a branch of responseProcessing shows, marked as used."""
        if ref is None:
            return None
        for element in _children(self.root, "modalFeedback"):
            if (element.get("outcomeIdentifier"), element.get("identifier")) == ref:
                self.used_feedback.add(ref)
                return self.text(element) or None
        return None

    def explanation(self) -> str:
        """Feedback not tied to an answer or a choice, as one text."""
        body = _child(self.root, "itemBody")
        in_choices = set(_descendants(self.interaction, "feedbackBlock"))
        blocks = [] if body is None else _descendants(body, "feedbackBlock")
        blocks = [block for block in blocks if block not in in_choices]
        blocks += _children(self.root, "modalFeedback")
        texts = (
            self.text(element)
            for element in blocks
            if (element.get("outcomeIdentifier"), element.get("identifier"))
            not in self.used_feedback
        )
        return "\n\n".join(text for text in texts if text)


def _read_item(root: Element, images: list[str]) -> QuestionDraft:
    body = _child(root, "itemBody")
    if body is None:
        raise _BadItemError("the item has no itemBody")
    interactions = [el for el in body.iter() if _is_interaction(el)]
    if not interactions:
        raise _BadItemError("the item has no interaction to answer")
    names = [_local(el.tag) for el in interactions]
    if len(interactions) > 1:
        raise _BadItemError(
            f"unsupported interaction: {len(names)} interactions in one item "
            f"({', '.join(names)}); only one per item can become a question"
        )
    interaction, name = interactions[0], names[0]
    reader = _INTERACTION_READERS.get(name)
    if reader is None:
        raise _BadItemError(f"unsupported interaction {name}")
    if _child(root, "templateProcessing") is not None:
        raise _BadItemError(
            f"unsupported interaction {name} in a template item: its values and key are "
            "computed by templateProcessing"
        )
    response_id = interaction.get("responseIdentifier", "")
    declarations = _children(root, "responseDeclaration")
    declaration = next((d for d in declarations if d.get("identifier") == response_id), None)
    if declaration is None:
        raise _BadItemError(f"{name} answers {response_id!r}, which has no responseDeclaration")

    item = _Item(root, interaction, declaration, images)
    fields = reader(item)
    fields["stem"] = _Text(images, interaction).flow(body)
    fields["explanation"] = item.explanation()
    return QuestionDraft(
        content=QuestionContent.model_validate(fields),
        external_id=root.get("identifier") or None,
        title=root.get("title") or None,
    )


def _is_interaction(element: Element) -> bool:
    name = _local(element.tag)
    # endAttemptInteraction is a button (e.g. "show hint"), not an answer.
    return name.endswith("Interaction") and name != "endAttemptInteraction"


def _read_choice(item: _Item) -> dict[str, Any]:
    inline = _local(item.interaction.tag) == "inlineChoiceInteraction"
    elements = _children(item.interaction, "inlineChoice" if inline else "simpleChoice")
    multiple = not inline and _int(item.interaction.get("maxChoices"), 1) != 1
    qti_ids = [element.get("identifier", "") for element in elements]
    weights = _choice_weights(item, qti_ids, multiple)
    ids = qti_ids
    if not all(1 <= len(i) <= 16 for i in qti_ids):
        ids = [_letters(n) for n in range(len(qti_ids))]
    choices = []
    for element, qti_id, choice_id, weight in zip(elements, qti_ids, ids, weights, strict=True):
        notes = [
            item.text(note)
            for note in element
            if _local(note.tag) in ("feedbackInline", "feedbackBlock")
            and note.get("identifier") == qti_id
        ]
        feedback = "\n\n".join(note for note in notes if note) or None
        choices.append(
            Choice(id=choice_id, text=item.text(element), weight=weight, feedback=feedback)
        )
    if not multiple and _is_true_false(choices):
        key = next(c for c in choices if c.weight == 1.0)
        return {
            "type": QuestionType.TRUE_FALSE,
            "true_false_answer": key.id.lower() == "true",
            "shuffle_choices": item.shuffle(),
        }
    kind = QuestionType.MULTIPLE_RESPONSE if multiple else QuestionType.SINGLE_CHOICE
    return {"type": kind, "choices": tuple(choices), "shuffle_choices": item.shuffle()}


def _choice_weights(item: _Item, ids: list[str], multiple: bool) -> list[float]:
    """Mapped points scaled so that the key is worth 1 (single) or the positives add up to 1
    (multiple); without a mapping, the correctResponse share the credit."""
    entries, default = item.mapping()
    if entries:
        points = {key.strip(): value for key, value, _ in entries}
        raw = [points.get(i, default) for i in ids]
        if multiple:
            scale = sum(p for p in raw if p > 0)
            tolerance = 0.011  # the sum QuestionContent accepts as 1
        else:
            scale = max(raw, default=0.0)
            tolerance = 1e-9
        if scale <= 0:
            raise _BadItemError("the mapping gives no choice any credit")
        if math.isclose(scale, 1.0, abs_tol=tolerance):
            scale = 1.0
        return [max(-1.0, min(1.0, p / scale)) for p in raw]
    correct = item.correct_values()
    if not correct:
        raise _BadItemError(
            f"{item.response_id} declares no correctResponse or mapping, so the key is unknown"
        )
    unknown = sorted(set(correct) - set(ids))
    if unknown:
        raise _BadItemError(f"the correctResponse names unknown choices: {', '.join(unknown)}")
    share = 1.0 / len(set(correct)) if multiple else 1.0
    return [share if i in correct else 0.0 for i in ids]


def _is_true_false(choices: list[Choice]) -> bool:
    words = {c.id.lower(): c.text.strip().lower() for c in choices}
    return (
        len(choices) == 2
        and words == {"true": "true", "false": "false"}
        and sorted(c.weight for c in choices) == [0.0, 1.0]
        and all(c.feedback is None for c in choices)
    )


def _read_text_entry(item: _Item) -> dict[str, Any]:
    if item.declaration.get("baseType") in ("float", "integer"):
        return _read_numeric(item)
    entries, _ = item.mapping()
    answers = [(key, points) for key, points, _ in entries if points >= 0]
    top = max((points for _, points in answers), default=0.0)
    if top <= 0:
        answers, top = [], 1.0
    keys = {key.strip() for key, _ in answers}
    answers = [(v, top) for v in item.correct_values() if v not in keys] + answers
    if not answers:
        raise _BadItemError(
            f"{item.response_id} declares no correctResponse or mapping, so the key is unknown"
        )
    top = _full_credit(top)
    feedback = {
        b.text.strip(): b.feedback for b in item.branches() if b.kind == "text" and b.feedback
    }
    return {
        "type": QuestionType.SHORT_ANSWER,
        "accepted_answers": tuple(
            AcceptedAnswer(
                text=key,
                weight=points / top,
                feedback=item.feedback(feedback.get(key.strip())),
            )
            for key, points in answers
        ),
        "case_sensitive": all(sensitive for _, _, sensitive in entries),
    }


def _read_numeric(item: _Item) -> dict[str, Any]:
    scored = [b for b in item.branches() if b.score is not None]
    if scored:
        scale = _full_credit(max(b.score or 0.0 for b in scored))
        answers = [_numeric_answer(b, (b.score or 0.0) / scale, item) for b in scored]
    else:
        entries, _ = item.mapping()
        points = [(key, value) for key, value, _ in entries if value >= 0]
        top = max((value for _, value in points), default=0.0)
        if top <= 0:
            points, top = [], 1.0
        keys = {key.strip() for key, _ in points}
        points = [(v, top) for v in item.correct_values() if v not in keys] + points
        scale = _full_credit(top)
        answers = [
            NumericAnswer(value=_number(key, "answer"), weight=value / scale)
            for key, value in points
        ]
    if not answers:
        raise _BadItemError(
            f"{item.response_id} declares no correctResponse, mapping or scored condition, "
            "so the key is unknown"
        )
    return {"type": QuestionType.NUMERIC, "numeric_answers": tuple(answers)}


def _full_credit(top: float) -> float:
    """What to divide points by so that the best answer earns 1 (left alone when it does)."""
    return 1.0 if top <= 0 or math.isclose(top, 1.0) else top


def _numeric_answer(branch: _Branch, weight: float, item: _Item) -> NumericAnswer:
    feedback = item.feedback(branch.feedback)
    if branch.kind == "range":
        return NumericAnswer(min=branch.low, max=branch.high, weight=weight, feedback=feedback)
    value = branch.number if branch.kind == "tolerance" else _number(branch.text, "answer")
    return NumericAnswer(value=value, tolerance=branch.tolerance, weight=weight, feedback=feedback)


def _read_extended_text(item: _Item) -> dict[str, Any]:
    return {"type": QuestionType.ESSAY}


def _read_matching(item: _Item) -> dict[str, Any]:
    interaction = item.interaction
    if _local(interaction.tag) == "matchInteraction":
        sets = _children(interaction, "simpleMatchSet")
        if len(sets) != 2:
            raise _BadItemError("a matchInteraction needs two simpleMatchSets")
        left, right = (_match_texts(item, s) for s in sets)
    else:
        left = right = _match_texts(item, interaction)
    values = item.correct_values()
    if not values:
        raise _BadItemError(
            f"{_local(interaction.tag)} declares no correctResponse pairs, so the key is unknown"
        )
    pairs = []
    for value in values:
        ends = value.split()
        if len(ends) != 2 or ends[0] not in left or ends[1] not in right:
            raise _BadItemError(f"the correctResponse pair {value!r} names unknown choices")
        pairs.append(MatchPair(left=left[ends[0]], right=right[ends[1]]))
    return {"type": QuestionType.MATCHING, "pairs": tuple(pairs), "shuffle_choices": item.shuffle()}


def _match_texts(item: _Item, parent: Element) -> dict[str, str]:
    return {
        choice.get("identifier", ""): item.text(choice)
        for choice in _children(parent, "simpleAssociableChoice")
    }


_INTERACTION_READERS: dict[str, Callable[[_Item], dict[str, Any]]] = {
    "choiceInteraction": _read_choice,
    "inlineChoiceInteraction": _read_choice,
    "textEntryInteraction": _read_text_entry,
    "extendedTextInteraction": _read_extended_text,
    "matchInteraction": _read_matching,
    "associateInteraction": _read_matching,
}


# --- response processing -------------------------------------------------------------------


@dataclass(frozen=True)
class _Branch:
    """A responseIf/responseElseIf that compares the response with a constant."""

    kind: str  # "text" (match, stringMatch), "tolerance" (equal) or "range"
    text: str = ""
    number: float = 0.0
    tolerance: float = 0.0
    low: float = 0.0
    high: float = 0.0
    score: float | None = None
    feedback: tuple[str, str] | None = None  # (outcome, identifier) of a modalFeedback


def _branches(root: Element, response_id: str) -> list[_Branch]:
    processing = _child(root, "responseProcessing")
    if processing is None:
        return []
    found = []
    for rule in processing.iter():
        if _local(rule.tag) not in ("responseIf", "responseElseIf") or len(rule) == 0:
            continue
        branch = _condition(rule[0], response_id)
        if branch is None:
            continue
        score: float | None = None
        feedback: tuple[str, str] | None = None
        for action in list(rule)[1:]:
            value = _child(action, "baseValue")
            if _local(action.tag) != "setOutcomeValue" or value is None:
                continue
            outcome = action.get("identifier", "")
            if outcome == "SCORE":
                score = _optional_number(value.text)
            elif value.get("baseType") == "identifier":
                feedback = (outcome, (value.text or "").strip())
        found.append(replace(branch, score=score, feedback=feedback))
    return found


def _condition(condition: Element, response_id: str) -> _Branch | None:
    name = _local(condition.tag)
    if name in ("match", "stringMatch", "equal"):
        constant = _compared_constant(condition, response_id)
        if constant is None:
            return None
        if name != "equal":
            return _Branch("text", text=constant)
        number = _optional_number(constant)
        tolerances = [_optional_number(t) for t in condition.get("tolerance", "0").split()]
        if number is None or not tolerances or None in tolerances:
            return None
        mode = condition.get("toleranceMode", "exact")
        below = above = 0.0
        if mode in ("absolute", "relative"):
            below, above = tolerances[0] or 0.0, tolerances[-1] or 0.0
            if mode == "relative":
                below, above = abs(number) * below / 100, abs(number) * above / 100
        if below == above:
            return _Branch("tolerance", number=number, tolerance=below)
        return _Branch("range", low=number - below, high=number + above)
    if name == "and" and len(condition) == 2:
        bounds = {}
        for comparison in condition:
            constant = _compared_constant(comparison, response_id)
            bound = _optional_number(constant)
            if constant is None or bound is None:
                return None
            bounds[_local(comparison.tag)] = bound
        if set(bounds) == {"gte", "lte"}:
            return _Branch("range", low=bounds["gte"], high=bounds["lte"])
    return None


def _compared_constant(comparison: Element, response_id: str) -> str | None:
    """The baseValue in `<op><variable identifier=RESPONSE/><baseValue>..</baseValue></op>`."""
    if len(comparison) != 2:
        return None
    variable, constant = comparison[0], comparison[1]
    if _local(variable.tag) != "variable" or variable.get("identifier") != response_id:
        return None
    if _local(constant.tag) != "baseValue":
        return None
    return constant.text or ""


# --- body text ---------------------------------------------------------------------------


def _hidden(element: Element) -> bool:
    """Conditional content, other interactions, and rubrics not meant for the candidate."""
    name = _local(element.tag)
    if name == "rubricBlock":
        return "candidate" not in element.get("view", "candidate")
    return name in _HIDDEN or name.endswith("Interaction")


class _Text:
    """Turns QTI/XHTML content into plain text: blocks become paragraphs (blank line),
    `<br/>` a line break, images `![alt](media:FILE)`, the gap of `interaction` `____`."""

    def __init__(self, images: list[str], interaction: Element | None = None) -> None:
        self.images = images
        self.interaction = interaction
        self.blocks: list[str] = []
        self.parts: list[str] = []

    def flow(self, element: Element) -> str:
        self.blocks, self.parts = [], []
        self._content(element)
        self._end_block()
        return "\n\n".join(self.blocks)

    def _content(self, element: Element) -> None:
        if element.text:
            self.parts.append(element.text)
        for child in element:
            self._node(child)
            if child.tail:
                self.parts.append(child.tail)

    def _node(self, element: Element) -> None:
        name = _local(element.tag)
        if element is self.interaction:
            self._interaction(element)
        elif _hidden(element):
            return
        elif name == "br":
            self.parts.append(_BREAK)
        elif name == "img":
            self._image(element.get("src", ""), element.get("alt", ""))
        elif name == "object" and _content_type(element.get("data", "")).startswith("image/"):
            self._image(element.get("data", ""), "")
        elif name in _BLOCKS:
            self._end_block()
            if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.parts.append("#" * int(name[1]) + " ")
            elif name == "li":
                self.parts.append("- ")
            self._content(element)
            self._end_block()
        else:
            self._content(element)
            if name in ("td", "th"):
                self.parts.append(" ")

    def _interaction(self, element: Element) -> None:
        if _local(element.tag) in _INLINE_INTERACTIONS:
            self.parts.append(BLANK)
            return
        prompt = _child(element, "prompt")
        if prompt is not None:
            self._node(prompt)

    def _image(self, src: str, alt: str) -> None:
        name = posixpath.basename(unquote(src.split("?")[0].split("#")[0]))
        if not name:
            return
        self.images.append(src)
        alt = " ".join(alt.replace("[", "").replace("]", "").split())
        self.parts.append(f"![{alt}](media:{name})")

    def _end_block(self) -> None:
        lines = (line.strip() for line in " ".join("".join(self.parts).split()).split(_BREAK))
        text = "\n".join(line for line in lines if line)
        # A gap alone in its paragraph is just where the answer goes, not part of the text.
        if text and text != BLANK:
            self.blocks.append(text)
        self.parts = []
