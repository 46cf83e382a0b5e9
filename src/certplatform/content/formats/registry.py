"""The import and export formats by name, with the options each reader takes.

Readers are imported on first use, so that a process that never imports pays nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certplatform.content.contracts import QuestionDraft
from certplatform.content.formats.base import ImportFormatError, ParseResult
from certplatform.kernel.errors import N_


@dataclass(frozen=True)
class ReadOptions:
    mapping: str | None = None  # CSV column map
    base_dir: Path | None = None  # where figures and referenced item files live


@dataclass(frozen=True)
class Format:
    name: str
    module: str
    extension: str
    media_type: str
    writable: bool = True

    def read(self, data: bytes, options: ReadOptions) -> ParseResult:
        module: Any = importlib.import_module(f"certplatform.content.formats.{self.module}")
        kwargs: dict[str, Any] = {}
        if self.name == "csv":
            kwargs["mapping"] = options.mapping
        elif self.name == "fcc-json":
            kwargs["media_dir"] = options.base_dir
        elif self.name == "qti21":
            kwargs["base_dir"] = options.base_dir
        result: ParseResult = module.parse(data, **kwargs)
        return result

    def write(self, drafts: Sequence[QuestionDraft]) -> bytes:
        module: Any = importlib.import_module(f"certplatform.content.formats.{self.module}")
        data: bytes = module.dump(drafts)
        return data


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("fcc-json", "fcc_json", "json", "application/json", writable=False),
        Format("csv", "csv_format", "csv", "text/csv; charset=utf-8"),
        Format("gift", "gift", "gift", "text/plain; charset=utf-8"),
        Format("moodle-xml", "moodle_xml", "xml", "application/xml"),
        Format("aiken", "aiken", "txt", "text/plain; charset=utf-8"),
        Format("qti21", "qti21", "zip", "application/zip"),
    )
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ImportFormatError(
            N_("Unknown format '%(format)s'; choose one of %(formats)s."),
            format=name,
            formats=", ".join(FORMATS),
        ) from None


def read(name: str, data: bytes, options: ReadOptions | None = None) -> ParseResult:
    options = options or ReadOptions()
    if options.mapping and name != "csv":
        raise ImportFormatError("A column map (--map) applies to the csv format only.")
    return get_format(name).read(data, options)


def write(name: str, drafts: Sequence[QuestionDraft]) -> bytes:
    fmt = get_format(name)
    if not fmt.writable:
        raise ImportFormatError(N_("The %(format)s format is import-only."), format=name)
    return fmt.write(drafts)
