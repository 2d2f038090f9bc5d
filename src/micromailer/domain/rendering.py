"""Rendering of an email's Markdown content into an HTML body and a plain-text alternative."""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt as ReferenceMarkdownIt
from markdown_it_pyrs import MarkdownIt

_DOCUMENT_HEAD = (
    "<!doctype html>\n"
    "<html>\n"
    "<head>\n"
    '<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "</head>\n"
    "<body>\n"
)
_DOCUMENT_TAIL = "</body>\n</html>\n"

#: Code blocks: their lines go into the plain text verbatim.
_CODE_BLOCKS = frozenset({"fence", "code_block"})

#: A link destination: no spaces or angle brackets; one level of balanced parentheses.
_URL = r"(?:[^\s()<>]|\([^\s()<>]*\))+"
#: An inline link ``[label](url "title")`` or image ``![alt](url)``; the label holds no bracket,
#: so an image inside a link is rewritten first and the link on the next pass.
_INLINE_LINK = re.compile(
    r"(?<!\\)!?\[(?P<label>[^\[\]\n]*)\]"
    r"\(\s*(?:<(?P<angle>[^<>\n]*)>|(?P<url>" + _URL + r"))?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
#: An inline code span: a run of backticks, anything, the same run again.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)")


@dataclass(frozen=True, slots=True)
class RenderedContent:
    """An email body in both forms: a complete HTML document and its plain-text twin."""

    html: str
    text: str


def render_markdown(content: str) -> RenderedContent:
    """Render Markdown as a complete HTML document, with a plain-text alternative.

    HTML: CommonMark plus tables and strikethrough. Raw HTML is disabled, so markup in the
    content (``<script>``, ``<img onerror=…>``) comes out escaped, as text; markdown-it also
    refuses ``javascript:``-style link destinations.

    Text: Markdown was designed to read well as plain text, so the alternative is the source
    itself with line endings normalized, and one change where the source reads badly: an
    inline link ``[label](url)`` becomes ``label (url)`` and an image ``![alt](url)`` becomes
    ``alt (url)`` (just ``url`` when the label is empty or is the url). Code blocks and code
    spans are left untouched. Emphasis marks, headings' ``#`` and list bullets stay: readers
    of plain-text mail know them. A converter from HTML back to text would be larger and
    would lose exactly these cues.
    """
    text = _normalize_newlines(content)
    if _needs_reference(text):
        body, code_lines = _render_reference(text)
    else:
        parser = _parser()
        body = parser.render(text)
        # A second parse, into a tree, only when the content may hold a code block: a fence
        # needs three backticks or tildes in a row, an indented block a tab or four spaces.
        # Most emails have neither; code spans need no tree (see _spell_out_links).
        code_lines = _code_lines(parser, text) if _may_hold_code(text) else set()
    return RenderedContent(
        html=_DOCUMENT_HEAD + body + _DOCUMENT_TAIL, text=_plain_text(text, code_lines)
    )


@cache
def _parser() -> MarkdownIt:
    # Built on first use, not at import; rendering never mutates it, so threads may share it.
    # CommonMark's rules except raw HTML (html_block, html_inline), plus GFM tables and
    # strikethrough. Without the HTML rules, markup in the content is text and comes out escaped.
    return MarkdownIt("zero").enable_many([
        "blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph",
        "reference", "autolink", "backticks", "emphasis", "entity", "escape", "image", "link",
        "newline", "table", "strikethrough",
    ])  # fmt: skip


def _needs_reference(text: str) -> bool:
    """Whether to render with markdown-it-py, where markdown-it-pyrs (0.4) would differ.

    markdown-it.rs follows CommonMark 0.30 on emphasis beside symbols (``**Thanks!**🎉`` stays
    literal), percent-encodes internationalized hosts and drops entities from alt text; all but
    the last need non-ASCII content. ASCII content, most transactional mail, takes the Rust
    renderer; tests/unit/test_rendering_reference.py holds both to markdown-it-py's output.
    """
    return not text.isascii() or ("![" in text and "&" in text)


@cache
def _reference_parser() -> ReferenceMarkdownIt:
    return ReferenceMarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _render_reference(text: str) -> tuple[str, set[int]]:
    """The HTML body and the code-block lines, from one markdown-it-py parse."""
    parser = _reference_parser()
    tokens = parser.parse(text)
    code_lines: set[int] = set()
    for token in tokens:
        if token.type in _CODE_BLOCKS and token.map is not None:
            code_lines.update(range(*token.map))
    return parser.renderer.render(tokens, parser.options, {}), code_lines


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _may_hold_code(text: str) -> bool:
    return "```" in text or "~~~" in text or "\t" in text or "    " in text


def _code_lines(parser: MarkdownIt, source: str) -> set[int]:
    """The indexes of the source lines that belong to a fenced or indented code block."""
    encoded = source.encode()  # source maps are byte offsets into the UTF-8 source
    lines: set[int] = set()
    for node in parser.tree(source).walk():
        if node.name in _CODE_BLOCKS and node.srcmap is not None:
            start, end = node.srcmap  # from the block's first character to its last line's end
            first = encoded.count(b"\n", 0, start)
            lines.update(range(first, first + encoded.count(b"\n", start, end) + 1))
    return lines


def _plain_text(source: str, code_lines: Set[int]) -> str:
    """The source with inline links and images spelled out; code kept verbatim."""
    lines = source.split("\n")
    out: list[str] = []
    prose: list[str] = []
    for index, line in enumerate(lines):
        if index in code_lines:
            if prose:
                out.append(_spell_out_links("\n".join(prose)))
                prose = []
            out.append(line)
        else:
            prose.append(line)
    if prose:
        out.append(_spell_out_links("\n".join(prose)))
    return "\n".join(out).strip("\n") + "\n"


def _spell_out_links(prose: str) -> str:
    """Rewrite links and images outside code spans."""
    pieces: list[str] = []
    start = 0
    for span in _CODE_SPAN.finditer(prose):
        pieces.append(_rewrite_links(prose[start : span.start()]))
        pieces.append(span.group(0))
        start = span.end()
    pieces.append(_rewrite_links(prose[start:]))
    return "".join(pieces)


def _rewrite_links(text: str) -> str:
    while True:
        rewritten = _INLINE_LINK.sub(_link_as_text, text)
        if rewritten == text:
            return text
        text = rewritten


def _link_as_text(match: re.Match[str]) -> str:
    label = match["label"].strip()
    url = (match["angle"] if match["angle"] is not None else match["url"] or "").strip()
    if not url:
        return label
    if not label or label == url:
        return url
    return f"{label} ({url})"


__all__ = ["RenderedContent", "render_markdown"]
