"""Reading QTI 2.1: plain items and tests, content packages, and how tests file items."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from certplatform.content.contracts import (
    Media,
)
from certplatform.content.formats.base import ImportFormatError, ItemError, ParseResult
from certplatform.content.formats.qti21.common import (
    _MANIFEST,
    _URL_SCHEME,
    MAX_FILE_BYTES,
    MAX_PACKAGE_BYTES,
    MAX_PACKAGE_FILES,
    _BadItemError,
    _children,
    _content_type,
    _describe,
    _local,
)
from certplatform.content.formats.qti21.items import _read_item
from certplatform.content.formats.xmlsafe import parse_xml
from certplatform.kernel.errors import N_

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
