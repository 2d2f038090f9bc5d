"""Tests of micromailer.domain.rendering: Markdown to an HTML document and a plain-text twin."""

from __future__ import annotations

import dataclasses
import re

import pytest

from micromailer.domain.rendering import RenderedContent, render_markdown


def body_of(content: str) -> str:
    """The HTML between <body> and </body>."""
    html = render_markdown(content).html
    match = re.search(r"<body>\n(.*)</body>", html, re.DOTALL)
    assert match is not None, html
    return match.group(1)


# -- the document ------------------------------------------------------------------------


def test_html_is_a_complete_utf8_document() -> None:
    html = render_markdown("Hello").html
    assert html.startswith("<!doctype html>\n<html>\n<head>\n")
    assert '<meta charset="utf-8">' in html
    assert "<body>\n<p>Hello</p>\n</body>" in html
    assert html.endswith("</html>\n")


def test_rendered_content_is_frozen() -> None:
    rendered = render_markdown("x")
    assert isinstance(rendered, RenderedContent)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rendered.html = "changed"  # type: ignore[misc]


# -- Markdown ----------------------------------------------------------------------------


def test_headings_render_at_their_level() -> None:
    assert body_of("# Title\n\n## Part") == "<h1>Title</h1>\n<h2>Part</h2>\n"


def test_emphasis_strong_and_strikethrough_render() -> None:
    assert body_of("*soft* **loud** ~~gone~~") == (
        "<p><em>soft</em> <strong>loud</strong> <s>gone</s></p>\n"
    )


def test_links_render_with_href_and_title() -> None:
    assert body_of('[site](https://example.com/a?b=1&c=2 "Home")') == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" title="Home">site</a></p>\n'
    )


def test_javascript_links_are_not_made_clickable() -> None:
    html = body_of("[click](javascript:alert(1))")
    assert "<a" not in html
    assert "href" not in html


def test_bullet_and_numbered_lists_render() -> None:
    assert body_of("- one\n- two\n\n1. first\n2. second") == (
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"
    )


def test_inline_code_and_fenced_code_render_escaped() -> None:
    html = body_of("Use `a < b`.\n\n```python\nif a < b:\n    pass\n```")
    assert "<p>Use <code>a &lt; b</code>.</p>" in html
    assert '<pre><code class="language-python">if a &lt; b:\n    pass\n</code></pre>' in html


def test_tables_render() -> None:
    html = body_of("| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<table>" in html
    assert "<th>a</th>" in html
    assert "<td>2</td>" in html


# -- raw HTML is text, never markup ------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "<script>alert(1)</script>",
        "Hello <script>alert(1)</script> there",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        "<div>\n<script>alert(1)</script>\n</div>",
        "- item <script>alert(1)</script>",
    ],
)
def test_script_tags_never_appear_unescaped(content: str) -> None:
    html = render_markdown(content).html
    assert "<script" not in html.lower()
    assert "&lt;script" in html.lower()


def test_raw_html_attributes_are_escaped_not_rendered() -> None:
    html = body_of('<img src="x" onerror="alert(1)">')
    assert "<img" not in html
    assert "&lt;img" in html


# -- plain-text alternative --------------------------------------------------------------


def test_text_keeps_the_markdown_source_readable() -> None:
    source = "# Thanks\n\nYour **order** ships *today*.\n\n- socks\n- shoes\n"
    assert render_markdown(source).text == source


def test_text_normalizes_line_endings() -> None:
    text = render_markdown("one\r\ntwo\rthree\n").text
    assert text == "one\ntwo\nthree\n"


def test_text_drops_leading_and_trailing_blank_lines_and_ends_with_one_newline() -> None:
    assert render_markdown("\n\nHello\n\n\n").text == "Hello\n"


def test_text_spells_out_a_link_as_label_then_url() -> None:
    text = render_markdown('See [our site](https://example.com "Home") now.').text
    assert text == "See our site (https://example.com) now.\n"


def test_text_keeps_parentheses_inside_a_url() -> None:
    text = render_markdown("[Foo](https://en.wikipedia.org/wiki/Foo_(bar))").text
    assert text == "Foo (https://en.wikipedia.org/wiki/Foo_(bar))\n"


def test_text_shows_a_link_whose_label_is_its_url_once() -> None:
    assert render_markdown("[https://example.com](https://example.com)").text == (
        "https://example.com\n"
    )


def test_text_turns_an_image_into_alt_text_and_url() -> None:
    assert render_markdown("![Our logo](https://example.com/logo.png)").text == (
        "Our logo (https://example.com/logo.png)\n"
    )


def test_text_unwraps_an_image_inside_a_link() -> None:
    assert render_markdown("[![logo](l.png)](https://example.com)").text == (
        "logo (l.png) (https://example.com)\n"
    )


def test_text_leaves_links_inside_code_untouched() -> None:
    source = "Write `[a](b)` like this:\n\n```\n[label](url)\n```\n\n    [x](y)\n"
    assert render_markdown(source).text == source


def test_html_and_text_agree_on_link_target() -> None:
    rendered = render_markdown("[docs](https://example.com/docs)")
    assert 'href="https://example.com/docs"' in rendered.html
    assert "https://example.com/docs" in rendered.text
