"""Rendering of an email's Markdown content into an HTML body and a plain-text alternative."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Iterator, Set
from dataclasses import dataclass, field
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

#: Brackets nested deeper than this are left as written in the plain text (a link holding an
#: image is two deep); like markdown-it's own nesting limit, it bounds the work per character.
MAX_LINK_NESTING = 16

#: What the plain text's link pass stops at: brackets and line ends (a label is one line).
_MARK = re.compile(r"[\[\]\n]")
#: A link destination: no spaces or angle brackets; one level of balanced parentheses.
_URL = r"(?:[^\s()<>]|\([^\s()<>]*+\))++"
_TITLE = r"""(?:"[^"\n]*+"|'[^'\n]*+'|\([^()\n]*+\))"""
#: What follows a label's ``]``: ``(url "title")``, ``(<url>)``, ``( "title")`` or ``()``.
#: Possessive quantifiers: no backtracking, so one try costs at most the text it reads.
_DESTINATION = re.compile(
    r"\(\s*+(?:(?:<(?P<angle>[^<>\n]*+)>|(?P<url>" + _URL + r"))(?:\s++" + _TITLE + r")?\s*+\)"
    r"|(?<=\s)" + _TITLE + r"\s*+\)|\))"
)
#: A run of backticks: it opens a code span that the next run of the same length closes.
_BACKTICKS = re.compile(r"`+")

#: What markdown-it-pyrs may render (see _renders_fast): at most this many characters, this
#: many emphasis and strikethrough delimiters and this many table cells, and nesting that
#: starts no line with 32 or more block quote markers, list markers or indents.
_FAST_MAX_CHARS = 32 * 1024
_FAST_MAX_DELIMITERS = 512
_FAST_MAX_TABLE_CELLS = 8192
_CONTAINER_PREFIX = r"(?:[ \t>]|[-+*][ \t]|[0-9]{1,9}[.)][ \t]){32}"
_DEEP_PREFIX = re.compile(_CONTAINER_PREFIX)
_DEEP_LINE = re.compile("\n" + _CONTAINER_PREFIX)  # the leading newline makes the search fast
#: A table's delimiter row (``|---|:-:|``), or a line like it; never a table's first line.
#: The lookahead finds the pipe, the possessive run reads the line once.
_DELIMITER_ROW = re.compile(r"\n(?=[-:| \t]*\|)[-:| \t]*+(?=\n|\Z)")


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
    if not _renders_fast(text):
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


def _renders_fast(text: str) -> bool:
    """Whether markdown-it-pyrs (0.4) may render ``text``; markdown-it-py renders the rest.

    markdown-it.rs follows CommonMark 0.30 on emphasis beside symbols (``**Thanks!**🎉`` stays
    literal), percent-encodes internationalized hosts and drops entities from alt text; all but
    the last need non-ASCII content. tests/unit/test_rendering_reference.py holds both to
    markdown-it-py's output. And it has no limits: pairing emphasis delimiters and reading
    reference definitions take time quadratic in their number, a table writes every cell of
    every row, and each level of nesting is a level of recursion, which overflows the stack (a
    crash) some tens of thousands of levels deep. So it takes only content with few of each,
    and not much of it; markdown-it-py is linear on all of them (bench/render_pathological.py).
    Most transactional mail is short ASCII text and takes the Rust renderer.
    """
    return (
        len(text) <= _FAST_MAX_CHARS
        and text.isascii()
        and not ("![" in text and "&" in text)
        and "]:" not in text
        and text.count("*") + text.count("_") + text.count("~") <= _FAST_MAX_DELIMITERS
        and _DEEP_PREFIX.match(text) is None
        and _DEEP_LINE.search(text) is None
        and ("|" not in text or _table_cells_at_most(text) <= _FAST_MAX_TABLE_CELLS)
    )


def _table_cells_at_most(text: str) -> int:
    """An upper bound on the cells of the tables in ``text``: widest delimiter row times lines."""
    widest = max((row.group().count("|") for row in _DELIMITER_ROW.finditer(text)), default=0)
    return (widest + 1) * (text.count("\n") + 1)


@cache
def _reference_parser() -> ReferenceMarkdownIt:
    # CommonMark's preset nests at most 20 levels (maxNesting); its table rule caps the cells
    # it fills in. Both bound its work on hostile content.
    options = {"html": False, "maxNesting": 20}
    return ReferenceMarkdownIt("commonmark", options).enable(["table", "strikethrough"])


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
    newlines: list[int] | None = None
    lines: set[int] = set()
    for node in parser.tree(source).walk():
        if node.name in _CODE_BLOCKS and node.srcmap is not None:
            if newlines is None:
                newlines = [match.start() for match in re.finditer(b"\n", encoded)]
            start, end = node.srcmap  # from the block's first character to its last line's end
            lines.update(range(bisect_left(newlines, start), bisect_left(newlines, end) + 1))
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
    if "`" not in prose:
        return _rewrite_links(prose)
    pieces: list[str] = []
    start = 0
    for span_start, span_end in _code_spans(prose):
        pieces.append(_rewrite_links(prose[start:span_start]))
        pieces.append(prose[span_start:span_end])
        start = span_end
    pieces.append(_rewrite_links(prose[start:]))
    return "".join(pieces)


def _code_spans(prose: str) -> Iterator[tuple[int, int]]:
    """Where code spans start and end: a backtick run up to the next run of the same length.

    One walk over the runs; for each length, a queue of the runs still ahead, so no run is
    looked at twice. A run that nothing closes is text, as in CommonMark.
    """
    runs = [(run.start(), run.end()) for run in _BACKTICKS.finditer(prose)]
    ahead: defaultdict[int, deque[int]] = defaultdict(deque)
    for index, (start, end) in enumerate(runs):
        ahead[end - start].append(index)
    index = 0
    while index < len(runs):
        start, end = runs[index]
        same_length = ahead[end - start]
        while same_length and same_length[0] <= index:
            same_length.popleft()
        if same_length:
            closer = same_length.popleft()
            yield start, runs[closer][1]
            index = closer + 1
        else:
            index += 1


@dataclass(slots=True)
class _OpenBracket:
    """An open ``[`` or ``![`` and the text since, with the links in it already spelled out."""

    opener: str
    can_open_link: bool
    parts: list[str] = field(default_factory=list)


def _rewrite_links(text: str) -> str:
    """Spell out inline links and images, innermost first, in one pass over ``text``.

    A stack holds the open brackets. A ``]`` closes the innermost one; if a destination follows
    and that bracket can open a link, the label (already rewritten inside) and the destination
    become text. Otherwise no bracket on the stack can be a link any more (its label would hold
    a bracket), and they are all kept as written; so is every bracket at a line end.
    """
    if "[" not in text:
        return text
    out: list[str] = []
    stack: list[_OpenBracket] = []
    position = 0
    while (mark := _MARK.search(text, position)) is not None:
        at = mark.start()
        char = text[at]
        if char == "[":
            image = at > position and text[at - 1] == "!" and text[at - 2 : at - 1] != "\\"
            (stack[-1].parts if stack else out).append(text[position : at - 1 if image else at])
            stack.append(_OpenBracket(
                "![" if image else "[",
                can_open_link=text[at - 1 : at] != "\\" and len(stack) < MAX_LINK_NESTING,
            ))
            position = at + 1
            continue
        (stack[-1].parts if stack else out).append(text[position:at])
        closes_link = char == "]" and bool(stack) and stack[-1].can_open_link
        destination = _DESTINATION.match(text, at + 1) if closes_link else None
        if destination is not None:
            label = "".join(stack.pop().parts)
            url = destination["angle"] if destination["angle"] is not None else destination["url"]
            (stack[-1].parts if stack else out).append(_link_as_text(label, url or ""))
            position = destination.end()
            continue
        _keep_as_written(stack, out)
        out.append(char)
        position = at + 1
    (stack[-1].parts if stack else out).append(text[position:])
    _keep_as_written(stack, out)
    return "".join(out)


def _keep_as_written(stack: list[_OpenBracket], out: list[str]) -> None:
    for bracket in stack:
        out.append(bracket.opener)
        out.extend(bracket.parts)
    stack.clear()


def _link_as_text(label: str, url: str) -> str:
    label = label.strip()
    url = url.strip()
    if not url:
        return label
    if not label or label == url:
        return url
    return f"{label} ({url})"


__all__ = ["MAX_LINK_NESTING", "RenderedContent", "render_markdown"]
