"""Writing drafts as a QTI 2.1 content package that `parse` reads back."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element, SubElement, indent

from certplatform.content.contracts import (
    Choice,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats.qti21.common import (
    _CP_NS,
    _INLINE_INTERACTIONS,
    _LOM_NS,
    _MANIFEST,
    _MEDIA_LINK,
    _QTI_XSD,
    _TEST_FILE,
    _XSI_NS,
    BLANK,
    QTI_NS,
    _bool,
    _local,
)
from certplatform.content.formats.xmlsafe import to_bytes


def dump(drafts: Sequence[QuestionDraft]) -> bytes:
    """Write the drafts as a QTI 2.1 content package (ZIP): `imsmanifest.xml`,
    `assessmentTest.xml` and `items/NNNN/item.xml` with figures in `items/NNNN/media/`."""
    files: dict[str, bytes] = {}
    item_paths = []
    for number, draft in enumerate(drafts, start=1):
        folder = f"items/{number:04d}"
        item_paths.append(f"{folder}/item.xml")
        identifier = draft.external_id or f"Q{number:04d}"
        files[item_paths[-1]] = to_bytes(_item_element(draft, identifier))
        for media in draft.media:
            files[f"{folder}/media/{_media_name(media.filename)}"] = media.data
    test = to_bytes(_test_element(drafts, item_paths))
    manifest = to_bytes(_manifest_element(drafts, item_paths))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(_MANIFEST, manifest), (_TEST_FILE, test), *files.items()]:
            # A fixed date keeps the package byte-for-byte reproducible.
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _media_name(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).name or "file"


def _test_element(drafts: Sequence[QuestionDraft], item_paths: list[str]) -> Element:
    test = Element(
        "assessmentTest",
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": _XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {_QTI_XSD}",
            "identifier": "EXPORT",
            "title": "Exported questions",
        },
    )
    part = SubElement(
        test, "testPart", identifier="P1", navigationMode="nonlinear", submissionMode="individual"
    )
    subject: Element | None = None
    topic: Element | None = None
    last: tuple[Any, ...] = ()
    for number, (draft, path) in enumerate(zip(drafts, item_paths, strict=True), start=1):
        subject_key = (draft.subject, draft.subject_name)
        topic_key = (draft.topic, draft.topic_name)
        if subject is None or subject_key != last[:2]:
            # A draft without a subject goes into an invisible section, which files nothing.
            subject = SubElement(
                part,
                "assessmentSection",
                identifier=draft.subject if draft.subject is not None else f"S{number:04d}",
                title=draft.subject_name or "",
                visible="false" if draft.subject is None else "true",
            )
            topic = None
        if draft.topic is None:
            topic = None
        elif topic is None or topic_key != last[2:]:
            topic = SubElement(
                subject,
                "assessmentSection",
                identifier=draft.topic,
                title=draft.topic_name or "",
                visible="true",
            )
        last = (*subject_key, *topic_key)
        SubElement(
            topic if topic is not None else subject,
            "assessmentItemRef",
            identifier=f"R{number:04d}",
            href=quote(path),
        )
    if subject is None:
        SubElement(part, "assessmentSection", identifier="S0000", title="", visible="false")
    indent(test)
    return test


def _manifest_element(drafts: Sequence[QuestionDraft], item_paths: list[str]) -> Element:
    manifest = Element(
        "manifest", {"xmlns": _CP_NS, "xmlns:imsmd": _LOM_NS, "identifier": "MANIFEST"}
    )
    metadata = SubElement(manifest, "metadata")
    SubElement(metadata, "schema").text = "QTIv2.1 Package"
    SubElement(metadata, "schemaversion").text = "1.0.0"
    SubElement(manifest, "organizations")
    resources = SubElement(manifest, "resources")
    test = SubElement(
        resources, "resource", identifier="TEST", type="imsqti_test_xmlv2p1", href=_TEST_FILE
    )
    SubElement(test, "file", href=_TEST_FILE)
    for number in range(1, len(item_paths) + 1):
        SubElement(test, "dependency", identifierref=f"ITEM{number:04d}")
    for number, (draft, path) in enumerate(zip(drafts, item_paths, strict=True), start=1):
        resource = SubElement(
            resources,
            "resource",
            identifier=f"ITEM{number:04d}",
            type="imsqti_item_xmlv2p1",
            href=quote(path),
        )
        if draft.tags:
            general = SubElement(
                SubElement(SubElement(resource, "metadata"), "imsmd:lom"), "imsmd:general"
            )
            for tag in draft.tags:
                SubElement(SubElement(general, "imsmd:keyword"), "imsmd:string").text = tag
        SubElement(resource, "file", href=quote(path))
        folder = posixpath.dirname(path)
        for media in draft.media:
            href = quote(f"{folder}/media/{_media_name(media.filename)}")
            SubElement(resource, "file", href=href)
    indent(manifest)
    return manifest


def _item_element(draft: QuestionDraft, identifier: str) -> Element:
    content = draft.content
    item = Element(
        "assessmentItem",
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": _XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {_QTI_XSD}",
            "identifier": identifier,
            "title": draft.title or "",
            "adaptive": "false",
            "timeDependent": "false",
        },
    )
    writer = _ItemWriter(item, content)
    writer.write()
    _tidy(item)
    return item


class _ItemWriter:
    """Writes one QuestionContent as declarations, itemBody, responseProcessing, feedback."""

    def __init__(self, item: Element, content: QuestionContent) -> None:
        self.item = item
        self.content = content
        self.declaration = SubElement(item, "responseDeclaration", identifier="RESPONSE")
        SubElement(
            item, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float"
        )
        self.feedback_ids: list[tuple[str, str]] = []  # (FBn, text) shown by modalFeedback

    def write(self) -> None:
        kind = self.content.type
        if kind in (
            QuestionType.SINGLE_CHOICE,
            QuestionType.MULTIPLE_RESPONSE,
            QuestionType.TRUE_FALSE,
        ):
            interaction, rules = self._choice()
        elif kind is QuestionType.SHORT_ANSWER:
            interaction, rules = self._short_answer()
        elif kind is QuestionType.NUMERIC:
            interaction, rules = self._numeric()
        elif kind is QuestionType.MATCHING:
            interaction, rules = self._matching()
        else:
            self.declaration.attrib.update(cardinality="single", baseType="string")
            interaction, rules = (
                Element("extendedTextInteraction", responseIdentifier="RESPONSE"),
                [],
            )

        explanation = self.content.explanation
        if self.feedback_ids or self._has_choice_feedback():
            cardinality = self.declaration.get("cardinality", "single")
            _declare_outcome(self.item, "FEEDBACK", cardinality)
        if explanation:
            _declare_outcome(self.item, "EXPLANATION", "single")
        _write_stem(SubElement(self.item, "itemBody"), self.content.stem, interaction)
        processing = SubElement(self.item, "responseProcessing")
        processing.extend(rules)
        if explanation:
            # Shown to everyone once they answer, whatever the answer.
            processing.append(_set_outcome("EXPLANATION", "identifier", "SHOW"))
        for feedback_id, text in self.feedback_ids:
            _write_flow(_modal_feedback(self.item, "FEEDBACK", feedback_id), text)
        if explanation:
            _write_flow(_modal_feedback(self.item, "EXPLANATION", "SHOW"), explanation)

    def _has_choice_feedback(self) -> bool:
        return any(c.feedback for c in self.content.choices)

    def _choice(self) -> tuple[Element, list[Element]]:
        content = self.content
        choices = content.choices
        if content.type is QuestionType.TRUE_FALSE:
            right = "true" if content.true_false_answer else "false"
            choices = tuple(
                Choice(id=word, text=word.capitalize(), weight=1.0 if word == right else 0.0)
                for word in ("true", "false")
            )
        multiple = content.type is QuestionType.MULTIPLE_RESPONSE
        self.declaration.attrib.update(
            cardinality="multiple" if multiple else "single", baseType="identifier"
        )
        best = max(choices, key=lambda c: c.weight)
        keys = [c for c in choices if c.weight > 0] if multiple else [best]
        _values(SubElement(self.declaration, "correctResponse"), [c.id for c in keys])
        # One key worth 1 and nothing else scores: the standard match_correct rule suffices.
        weights = sorted(c.weight for c in choices)
        plain = not multiple and weights == [0.0] * (len(choices) - 1) + [1.0]
        if not plain:
            mapping = SubElement(self.declaration, "mapping", defaultValue="0")
            if multiple:
                mapping.attrib.update(lowerBound="0", upperBound="1")
            for choice in choices:
                if choice.weight != 0:
                    SubElement(
                        mapping, "mapEntry", mapKey=choice.id, mappedValue=repr(choice.weight)
                    )
        interaction = Element(
            "choiceInteraction",
            responseIdentifier="RESPONSE",
            shuffle=_bool(content.shuffle_choices),
            maxChoices="0" if multiple else "1",
        )
        for choice in choices:
            element = SubElement(interaction, "simpleChoice", identifier=choice.id)
            _write_flow(element, choice.text)
            if choice.feedback:
                block = "\n\n" in choice.feedback
                note = SubElement(
                    element,
                    "feedbackBlock" if block else "feedbackInline",
                    outcomeIdentifier="FEEDBACK",
                    identifier=choice.id,
                    showHide="show",
                )
                _write_flow(note, choice.feedback)
        rules = [_map_response() if not plain else _match_correct()]
        if self._has_choice_feedback():
            rules.append(_set_outcome_to_response("FEEDBACK"))
        return interaction, rules

    def _short_answer(self) -> tuple[Element, list[Element]]:
        content = self.content
        self.declaration.attrib.update(cardinality="single", baseType="string")
        answers = content.accepted_answers
        best = max(answers, key=lambda a: a.weight)
        _values(SubElement(self.declaration, "correctResponse"), [best.text])
        mapping = SubElement(self.declaration, "mapping", defaultValue="0")
        sensitive = _bool(content.case_sensitive)
        for answer in answers:
            SubElement(
                mapping,
                "mapEntry",
                mapKey=answer.text,
                mappedValue=repr(answer.weight),
                caseSensitive=sensitive,
            )
        rules = [_map_response()]
        branches = []
        for answer in answers:
            if answer.feedback:
                condition = Element("stringMatch", caseSensitive=sensitive)
                condition.append(_variable())
                condition.append(_base_value("string", answer.text))
                branches.append((condition, [self._feedback(answer.feedback)]))
        if branches:
            rules.append(_condition_chain(branches, None))
        return _text_entry(), rules

    def _numeric(self) -> tuple[Element, list[Element]]:
        answers = self.content.numeric_answers
        self.declaration.attrib.update(cardinality="single", baseType="float")
        best = max(answers, key=lambda a: a.weight)
        _values(SubElement(self.declaration, "correctResponse"), [repr(_middle(best))])
        null = Element("isNull")
        null.append(_variable())
        branches = [(null, [_set_outcome("SCORE", "float", "0.0")])]
        for answer in answers:
            actions = [_set_outcome("SCORE", "float", repr(answer.weight))]
            if answer.feedback:
                actions.append(self._feedback(answer.feedback))
            branches.append((_numeric_condition(answer), actions))
        rules = [_condition_chain(branches, [_set_outcome("SCORE", "float", "0.0")])]
        return _text_entry(), rules

    def _matching(self) -> tuple[Element, list[Element]]:
        pairs = self.content.pairs
        self.declaration.attrib.update(cardinality="multiple", baseType="directedPair")
        left = _ids([p.left for p in pairs], "L")
        right = _ids([p.right for p in pairs], "R")
        keys = [f"{left[p.left]} {right[p.right]}" for p in pairs]
        _values(SubElement(self.declaration, "correctResponse"), keys)
        mapping = SubElement(
            self.declaration, "mapping", defaultValue="0", lowerBound="0", upperBound="1"
        )
        for key in dict.fromkeys(keys):
            SubElement(mapping, "mapEntry", mapKey=key, mappedValue=repr(1 / len(pairs)))
        interaction = Element(
            "matchInteraction",
            responseIdentifier="RESPONSE",
            shuffle=_bool(self.content.shuffle_choices),
            maxAssociations=str(len(pairs)),
        )
        for ids, side in ((left, [p.left for p in pairs]), (right, [p.right for p in pairs])):
            match_set = SubElement(interaction, "simpleMatchSet")
            for text, identifier in ids.items():
                choice = SubElement(
                    match_set,
                    "simpleAssociableChoice",
                    identifier=identifier,
                    matchMax=str(side.count(text)),
                )
                _write_flow(choice, text)
        return interaction, [_map_response()]

    def _feedback(self, text: str) -> Element:
        feedback_id = f"FB{len(self.feedback_ids) + 1}"
        self.feedback_ids.append((feedback_id, text))
        return _set_outcome("FEEDBACK", "identifier", feedback_id)


def _declare_outcome(item: Element, identifier: str, cardinality: str) -> None:
    SubElement(
        item,
        "outcomeDeclaration",
        identifier=identifier,
        cardinality=cardinality,
        baseType="identifier",
    )


def _modal_feedback(item: Element, outcome: str, identifier: str) -> Element:
    return SubElement(
        item, "modalFeedback", outcomeIdentifier=outcome, identifier=identifier, showHide="show"
    )


def _ids(texts: list[str], prefix: str) -> dict[str, str]:
    return {text: f"{prefix}{n}" for n, text in enumerate(dict.fromkeys(texts), start=1)}


def _middle(answer: NumericAnswer) -> float:
    if answer.min is not None and answer.max is not None:
        return (answer.min + answer.max) / 2
    return answer.value if answer.value is not None else 0.0


def _numeric_condition(answer: NumericAnswer) -> Element:
    if answer.min is not None and answer.max is not None:
        both = Element("and")
        for operator, bound in (("gte", answer.min), ("lte", answer.max)):
            comparison = SubElement(both, operator)
            comparison.append(_variable())
            comparison.append(_base_value("float", repr(bound)))
        return both
    equal = Element("equal", toleranceMode="absolute", tolerance=repr(answer.tolerance))
    equal.append(_variable())
    equal.append(_base_value("float", repr(answer.value)))
    return equal


def _text_entry() -> Element:
    return Element("textEntryInteraction", responseIdentifier="RESPONSE")


def _values(parent: Element, values: list[str]) -> None:
    for value in values:
        SubElement(parent, "value").text = value


def _variable(identifier: str = "RESPONSE") -> Element:
    return Element("variable", identifier=identifier)


def _base_value(base_type: str, text: str) -> Element:
    value = Element("baseValue", baseType=base_type)
    value.text = text
    return value


def _set_outcome(identifier: str, base_type: str, text: str) -> Element:
    action = Element("setOutcomeValue", identifier=identifier)
    action.append(_base_value(base_type, text))
    return action


def _set_outcome_to_response(identifier: str) -> Element:
    action = Element("setOutcomeValue", identifier=identifier)
    action.append(_variable())
    return action


def _condition_chain(
    branches: list[tuple[Element, list[Element]]], otherwise: list[Element] | None
) -> Element:
    chain = Element("responseCondition")
    for number, (condition, actions) in enumerate(branches):
        branch = SubElement(chain, "responseIf" if number == 0 else "responseElseIf")
        branch.append(condition)
        branch.extend(actions)
    if otherwise is not None:
        SubElement(chain, "responseElse").extend(otherwise)
    return chain


def _map_response() -> Element:
    """The standard map_response template, written out so that more rules can follow it."""
    null = Element("isNull")
    null.append(_variable())
    mapped = Element("setOutcomeValue", identifier="SCORE")
    SubElement(mapped, "mapResponse", identifier="RESPONSE")
    return _condition_chain([(null, [_set_outcome("SCORE", "float", "0.0")])], [mapped])


def _match_correct() -> Element:
    """The standard match_correct template, written out."""
    match = Element("match")
    match.append(_variable())
    SubElement(match, "correct", identifier="RESPONSE")
    return _condition_chain(
        [(match, [_set_outcome("SCORE", "float", "1")])], [_set_outcome("SCORE", "float", "0")]
    )


def _write_stem(body: Element, stem: str, interaction: Element) -> None:
    """Paragraphs of the stem; an inline interaction takes the place of the first `____`."""
    inline = _local(interaction.tag) in _INLINE_INTERACTIONS
    placed = not inline
    for block in stem.split("\n\n"):
        paragraph = SubElement(body, "p")
        if not placed and BLANK in block:
            before, after = block.split(BLANK, 1)
            _write_inline(paragraph, before)
            paragraph.append(interaction)
            _write_inline(paragraph, after)
            placed = True
        else:
            _write_inline(paragraph, block)
    if inline and not placed:
        SubElement(body, "p").append(interaction)
    elif not inline:
        body.append(interaction)


def _write_flow(parent: Element, text: str) -> None:
    """Text as inline content, or as paragraphs when it has several."""
    if "\n\n" in text:
        for block in text.split("\n\n"):
            _write_inline(SubElement(parent, "p"), block)
    else:
        _write_inline(parent, text)


def _write_inline(parent: Element, text: str) -> None:
    for number, line in enumerate(text.split("\n")):
        if number:
            SubElement(parent, "br")
        position = 0
        for link in _MEDIA_LINK.finditer(line):
            _append_text(parent, line[position : link.start()])
            src = "media/" + quote(_media_name(link.group(2)))
            SubElement(parent, "img", src=src, alt=link.group(1))
            position = link.end()
        _append_text(parent, line[position:])


def _append_text(parent: Element, text: str) -> None:
    if not text:
        return
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _tidy(item: Element) -> None:
    """Indent the item's structure; the content of itemBody and feedback stays as written,
    where added whitespace would change the text."""
    for child in item:
        child.tail = "\n  "
        if _local(child.tag) in ("itemBody", "modalFeedback"):
            continue
        indent(child, space="  ", level=1)
    if len(item):
        item.text = "\n  "
        item[-1].tail = "\n"
