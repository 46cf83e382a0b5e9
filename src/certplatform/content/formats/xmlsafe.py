"""Read untrusted XML safely and write XML that always parses back.

Reading forbids DTDs, entity declarations and external references (billion laughs, XXE), so
nothing outside the given bytes is ever fetched, and limits nesting depth so that readers can
walk the tree recursively.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, tostring

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser

from certplatform.content.formats.base import ImportFormatError
from certplatform.kernel.errors import N_, Term

MAX_DEPTH = 200

# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def parse_xml(data: bytes) -> Element:
    """Parse `data` into an element tree or raise ImportFormatError saying where it failed."""
    parser = DefusedXMLParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise ImportFormatError(
            N_("not well-formed XML at line %(line)s, column %(column)s: %(reason)s"),
            line=line,
            column=column + 1,
            reason=reason,
        ) from None
    except DefusedXmlException as exc:
        line = parser.parser.CurrentLineNumber
        column = parser.parser.CurrentColumnNumber + 1
        if isinstance(exc, DTDForbidden):
            what = Term(N_("a DTD (<!DOCTYPE ...>)"))
        elif isinstance(exc, EntitiesForbidden):
            what = Term(N_("an entity declaration"))
        else:
            what = Term(N_("an external reference"))
        raise ImportFormatError(
            N_(
                "refused XML with %(what)s at line %(line)s, column %(column)s: "
                "DTDs, entities and external references are not allowed"
            ),
            what=what,
            line=line,
            column=column,
        ) from None
    except Exception as exc:
        # The encoding named in the XML declaration is looked up among Python's codecs,
        # which fail in many ways (unknown, multi-byte, not a text codec...).
        raise ImportFormatError(N_("cannot read the XML: %(problem)s"), problem=str(exc)) from None
    _check_depth(root)
    return root


def _check_depth(root: Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ImportFormatError(
                N_("XML elements are nested deeper than %(depth)s levels"), depth=MAX_DEPTH
            )
        stack.extend((child, depth + 1) for child in element)


def clean_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


def to_bytes(root: Element) -> bytes:
    """Serialise `root` as UTF-8 with a declaration, dropping characters XML cannot hold."""
    for element in root.iter():
        if element.text:
            element.text = clean_text(element.text)
        if element.tail:
            element.tail = clean_text(element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = clean_text(value)
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (declaration + tostring(root, encoding="unicode")).encode("utf-8")
