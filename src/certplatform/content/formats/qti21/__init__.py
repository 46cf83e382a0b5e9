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

from certplatform.content.formats.qti21.common import (
    BLANK,
    MAX_FILE_BYTES,
    MAX_PACKAGE_BYTES,
    MAX_PACKAGE_FILES,
    QTI_NS,
)
from certplatform.content.formats.qti21.reader import parse
from certplatform.content.formats.qti21.writer import dump

__all__ = [
    "BLANK",
    "MAX_FILE_BYTES",
    "MAX_PACKAGE_BYTES",
    "MAX_PACKAGE_FILES",
    "QTI_NS",
    "dump",
    "parse",
]
