"""Question text to HTML: what the pages rely on."""

from __future__ import annotations

from certplatform.web.markdown import render


def test_a_code_block_can_be_reached_with_the_keyboard_to_scroll_it() -> None:
    html = str(render('Run:\n\n```\nfor (int i = 0; i < 10; i++) printf("%d", i);\n```'))
    assert '<pre tabindex="0"><code>' in html


def test_text_that_looks_like_a_pre_tag_stays_text() -> None:
    html = str(render("<pre>not a tag</pre>"))
    assert "<pre" not in html
    assert "&lt;pre&gt;" in html
