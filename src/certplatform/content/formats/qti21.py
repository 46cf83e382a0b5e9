"""IMS QTI 2.1 items and tests, plain or in an IMS content package (ZIP).

`parse` reads a single `assessmentItem` document, an `assessmentTest` document (its item files
are read only when `base_dir` is given) or a content package (`imsmanifest.xml` plus files).
An item becomes one question when it has exactly one supported interaction whose key is
declared (`correctResponse` or `mapping`, or for numbers the conditions of its
responseProcessing). Test sections give subject (first level) and topic (second level): the
identifier is the code, the title the name; invisible sections give neither.

The stem is the item body as plain text: paragraphs separated by blank lines, `<br/>` as a line
break, images as `![alt](media:FILE)`, and a text-entry or inline-choice gap as `____`.

`dump` writes a content package that `parse` reads back to the same questions: one item file
per question, an assessmentTest that files them under subject and topic sections, and the tags
as LOM keywords in the manifest. What QTI cannot hold comes back changed: a draft without
external_id gets the identifier Q0001, Q0002... by position; shuffle_choices is kept only for
choice and matching questions; a single choice between ids `true` and `false` reading True and
False is read as a true/false question.
"""

from __future__ import annotations

import io
import math
import mimetypes
import posixpath
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import quote, unquote
from xml.etree.ElementTree import Element, SubElement, indent

from pydantic import ValidationError

from certplatform.content.contracts import (
    AcceptedAnswer,
    Choice,
    MatchPair,
    Media,
    NumericAnswer,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult
from certplatform.content.formats.xmlsafe import parse_xml, to_bytes
from certplatform.kernel.errors import N_

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


# --- files the documents refer to ---------------------------------------------------------


class _Source(Protocol):
    def read(self, path: str) -> bytes:
        """The file at `path` (relative, normalised, '/'-separated) or _BadItemError."""
        ...


class _DirSource:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def read(self, path: str) -> bytes:
        try:
            target = (self.root / path).resolve()
            if not target.is_relative_to(self.root):
                raise _BadItemError(f"{path} leaves the base directory")
            if target.stat().st_size > MAX_FILE_BYTES:
                raise _BadItemError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
            return target.read_bytes()
        except (OSError, RuntimeError, ValueError) as exc:
            # RuntimeError: a symlink loop; ValueError: a NUL in the name.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise _BadItemError(f"cannot read {path}: {reason}") from None


class _ZipSource:
    def __init__(self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> None:
        self.archive = archive
        self.members = members

    def read(self, path: str) -> bytes:
        info = self.members.get(path)
        if info is None:
            raise _BadItemError(f"{path} is not in the package")
        if info.file_size > MAX_FILE_BYTES:
            raise _BadItemError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        try:
            with self.archive.open(info) as member:
                data = member.read(MAX_FILE_BYTES + 1)
        except Exception as exc:
            # A damaged archive fails in many ways (bad CRC, zlib errors, truncation...).
            raise _BadItemError(f"cannot read {path} from the package: {exc}") from None
        if len(data) > MAX_FILE_BYTES:
            raise _BadItemError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        return data


def _resolve(base: str, href: str) -> str:
    """`href` relative to the folder `base`, refusing anything that leaves the root."""
    if not href or _URL_SCHEME.match(href) or href.startswith(("/", "\\")):
        raise _BadItemError(f"{href!r} is not a relative path")
    path = posixpath.normpath(posixpath.join(base, unquote(href)))
    if path == ".." or path.startswith(("../", "/")):
        raise _BadItemError(f"{href!r} leaves the folder it is read from")
    return path


@dataclass(frozen=True)
class _Resource:
    """What the package manifest says about one file."""

    path: str
    kind: str
    files: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


# --- reading -----------------------------------------------------------------------------


def parse(data: bytes, *, base_dir: Path | None = None) -> ParseResult:
    """Read an assessmentItem, an assessmentTest or a content package (ZIP).

    For a test, item files are read relative to `base_dir` (the test's folder); without it each
    item reference gives an ItemError. Figures are attached from `base_dir` or the package.
    """
    if data.startswith(b"PK"):
        return _parse_package(data)
    root = parse_xml(data)
    reader = _Reader(_DirSource(base_dir) if base_dir is not None else None)
    kind = _local(root.tag)
    if kind == "assessmentItem":
        reader.item(root, "", {})
    elif kind == "assessmentTest":
        reader.test(root, "")
    else:
        raise ImportFormatError(
            N_("not a QTI 2.1 assessmentItem or assessmentTest: the root element is <%(tag)s>"),
            tag=kind,
        )
    return reader.result


def _parse_package(data: bytes) -> ParseResult:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:
        # zipfile reports damaged archives with many exception types.
        raise ImportFormatError(
            N_("not a readable ZIP package: %(problem)s"), problem=str(exc)
        ) from None
    if len(infos) > MAX_PACKAGE_FILES:
        raise ImportFormatError(
            N_("the package holds more than %(count)s files"), count=MAX_PACKAGE_FILES
        )
    if sum(info.file_size for info in infos) > MAX_PACKAGE_BYTES:
        raise ImportFormatError(
            N_("the package unpacks to more than %(size)s bytes"), size=MAX_PACKAGE_BYTES
        )
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in parts[0]:
            raise ImportFormatError(
                N_("refused package: the file name '%(name)s' leaves the package"), name=name
            )
        if not info.is_dir():
            members[name] = info
    source = _ZipSource(archive, members)
    try:
        manifest = parse_xml(source.read(_MANIFEST))
    except _BadItemError as exc:
        raise ImportFormatError(
            N_("not an IMS content package: %(problem)s"), problem=str(exc)
        ) from None
    except ImportFormatError as exc:
        raise ImportFormatError(
            N_("%(where)s: %(problem)s"), where=_MANIFEST, problem=exc.text
        ) from None

    resources = _resources(manifest)
    reader = _Reader(source, {r.path: r for r in resources})
    tests = [r for r in resources if r.kind.startswith("imsqti_test")]
    items = [r for r in resources if r.kind.startswith("imsqti_item")]
    if not tests and not items:
        raise ImportFormatError("the package manifest lists no QTI items or tests")
    for test in tests:
        try:
            root = parse_xml(source.read(test.path))
        except (_BadItemError, ImportFormatError) as exc:
            raise ImportFormatError(
                N_("%(where)s: %(problem)s"),
                where=test.path,
                problem=exc.text if isinstance(exc, ImportFormatError) else str(exc),
            ) from None
        if _local(root.tag) != "assessmentTest":
            raise ImportFormatError(N_("%(file)s is not an assessmentTest"), file=test.path)
        reader.test(root, test.path)
    if not tests:
        for item in items:
            reader.item_file(item.path, f"item file {item.path}", {})
    return reader.result


def _resources(manifest: Element) -> list[_Resource]:
    resources = []
    for element in manifest.iter():
        if _local(element.tag) != "resource":
            continue
        try:
            path = _resolve("", element.get("href", ""))
        except _BadItemError:
            continue
        files = []
        for file in element.iter():
            if _local(file.tag) == "file":
                try:
                    files.append(_resolve("", file.get("href", "")))
                except _BadItemError:
                    continue
        tags = []
        for keyword in element.iter():
            if _local(keyword.tag) == "keyword":
                for string in keyword.iter():
                    text = (string.text or "").strip()
                    if _local(string.tag) in ("string", "langstring") and text:
                        tags.append(text)
        resources.append(_Resource(path, element.get("type", ""), tuple(files), tuple(tags)))
    return resources


# subject, subject_name, topic, topic_name: where a test's sections file an item
_Filing = dict[str, str | None]


class _Reader:
    """Collects the drafts and errors of one parse, in document order."""

    def __init__(self, source: _Source | None, resources: dict[str, _Resource] | None = None):
        self.source = source
        self.resources = resources or {}
        self.result = ParseResult()
        self.seen: set[str] = set()

    def test(self, test: Element, path: str) -> None:
        folder = posixpath.dirname(path)
        for part in _children(test, "testPart"):
            for section in part:
                self._section(section, folder, 1, {})

    def _section(self, section: Element, folder: str, level: int, filing: _Filing) -> None:
        kind = _local(section.tag)
        identifier = section.get("identifier", "")
        if kind == "assessmentSectionRef":
            self.result.errors.append(
                ItemError(f"section {identifier}", "sections in separate files are not supported")
            )
            return
        if kind != "assessmentSection":
            return
        if section.get("visible", "true") != "false":
            title = section.get("title") or None
            if level == 1:
                filing = {"subject": identifier, "subject_name": title}
            elif level == 2:
                filing = {**filing, "topic": identifier, "topic_name": title}
        for child in section:
            if _local(child.tag) == "assessmentItemRef":
                self._item_ref(child, folder, filing)
            else:
                self._section(child, folder, level + 1, filing)

    def _item_ref(self, ref: Element, folder: str, filing: _Filing) -> None:
        href = ref.get("href", "")
        location = f"item {ref.get('identifier', '')}"
        if self.source is None:
            self.result.errors.append(
                ItemError(
                    location,
                    f"item file not available: {href} (the test was read without a base "
                    "directory to find its item files in)",
                )
            )
            return
        try:
            path = _resolve(folder, href)
        except _BadItemError as exc:
            self.result.errors.append(ItemError(location, f"item file not available: {exc}"))
            return
        self.item_file(path, location, filing)

    def item_file(self, path: str, location: str, filing: _Filing) -> None:
        if path in self.seen:  # one question however often a test refers to it
            return
        self.seen.add(path)
        assert self.source is not None
        try:
            root = parse_xml(self.source.read(path))
        except _BadItemError as exc:
            self.result.errors.append(ItemError(location, f"item file not available: {exc}"))
            return
        except ImportFormatError as exc:
            self.result.errors.append(ItemError(location, f"{path}: {exc}"))
            return
        if _local(root.tag) != "assessmentItem":
            self.result.errors.append(ItemError(location, f"{path} is not an assessmentItem"))
            return
        self.item(root, path, filing)

    def item(self, root: Element, path: str, filing: _Filing) -> None:
        identifier = root.get("identifier", "")
        location = f"item {identifier}" if identifier else "item without identifier"
        images: list[str] = []
        try:
            draft = _read_item(root, images)
        except _BadItemError as exc:
            self.result.errors.append(ItemError(location, str(exc)))
            return
        except ValidationError as exc:
            self.result.errors.append(ItemError(location, _describe(exc)))
            return
        resource = self.resources.get(path)
        try:
            media = self._media(path, images, resource)
        except ValidationError as exc:
            self.result.errors.append(ItemError(location, _describe(exc)))
            return
        update: dict[str, object] = {**filing, "media": media, "location": location}
        if resource is not None:
            update["tags"] = resource.tags
        self.result.drafts.append(draft.model_copy(update=update))

    def _media(
        self, item_path: str, images: list[str], resource: _Resource | None
    ) -> tuple[Media, ...]:
        if self.source is None:
            return ()
        folder = posixpath.dirname(item_path)
        paths = []
        for src in images:
            try:
                paths.append(_resolve(folder, src))
            except _BadItemError:
                continue
        if resource is not None:
            paths += [f for f in resource.files if not f.endswith(".xml")]
        media: dict[str, Media] = {}
        for path in paths:
            name = posixpath.basename(path)
            if name in media:
                continue
            try:
                data = self.source.read(path)
            except _BadItemError:
                continue  # the stem still names it; a missing figure is not a broken question
            media[name] = Media(filename=name, content_type=_content_type(name), data=data)
        return tuple(media.values())


# --- one item ----------------------------------------------------------------------------


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


# --- writing -----------------------------------------------------------------------------


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
