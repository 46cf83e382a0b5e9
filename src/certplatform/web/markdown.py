"""Question text to HTML: Markdown (raw HTML off), $math$ as MathML, media links.

Math is rendered on the server to MathML, which browsers draw natively: question text stays
text (searchable, readable by screen readers, zoomable) and needs no script.
"""

from __future__ import annotations

import re

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.DOTALL)
_MEDIA = re.compile(r"\(media:([^)\s]+)\)")


def render(text: str, certification: str | None = None) -> Markup:
    """Render trusted-structure, untrusted-content question text to safe HTML."""
    if certification:
        text = _MEDIA.sub(lambda m: f"(/api/v1/certifications/{certification}/media/{m[1]})", text)
    # Formulas wait in the text as private-use markers (markdown-it turns NUL into U+FFFD);
    # markers typed by an author are dropped so that they cannot point at a formula.
    text = text.replace("\ue000", "").replace("\ue001", "")
    formulas: list[str] = []

    def stash(match: re.Match[str]) -> str:
        latex, block = (match[1], True) if match[1] is not None else (match[2], False)
        try:
            formulas.append(convert(latex, display="block" if block else "inline"))
        except Exception:
            return match[0]
        return f"\ue000{len(formulas) - 1}\ue001"

    html = _md.render(_MATH.sub(stash, text))
    html = re.sub("\ue000(\\d+)\ue001", lambda m: formulas[int(m[1])], html)
    # A code block wider than a phone scrolls sideways; keyboard users must reach it to
    # scroll it (WCAG 2.1.1). Raw HTML is off, so every "<pre>" here is markdown-it's own.
    html = html.replace("<pre>", '<pre tabindex="0">')
    return Markup(html)  # noqa: S704 - markdown-it escapes text; raw HTML is disabled
