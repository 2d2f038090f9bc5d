"""Rendering stays linear on hostile Markdown: shown by structure and by output, not by time.

The plain text is one pass over the prose: each ``]`` tries a link destination at most once,
with a pattern that cannot backtrack, and backtick runs are paired by length in one walk.
Content on which markdown-it-pyrs is superlinear, or recurses until the process crashes, goes
to markdown-it-py, whose nesting and table limits bound it. ``bench/render_pathological.py``
times the same shapes at the size limit.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from micromailer.domain import rendering
from micromailer.domain.rendering import render_markdown
from micromailer.domain.validation import MAX_CONTENT_BYTES


class CountingPattern:
    """A compiled pattern that counts the calls made to it."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.calls = 0

    def match(self, string: str, pos: int = 0) -> re.Match[str] | None:
        self.calls += 1
        return self.pattern.match(string, pos)

    def search(self, string: str, pos: int = 0) -> re.Match[str] | None:
        self.calls += 1
        return self.pattern.search(string, pos)

    def finditer(self, string: str) -> Any:
        self.calls += 1
        return self.pattern.finditer(string)


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> CountingPattern:
    pattern = CountingPattern(getattr(rendering, name))
    monkeypatch.setattr(rendering, name, pattern)
    return pattern


def nested_links(depth: int) -> str:
    return "[" * depth + "a" + "](u)" * depth


HOSTILE_PROSE: dict[str, str] = {
    "nested links": nested_links(5_000),
    "nested images": "![" * 5_000 + "a" + "](u)" * 5_000,
    "unclosed destinations": "[a](b" * 5_000,
    "unclosed angle destinations": "[a](<b" * 5_000,
    "bracket, space, parenthesis": "[ (](" * 5_000,
    "a destination of spaces": "[a](" + " " * 20_000 + "<",
    "titles never closed": '[a](b "' * 5_000,
    "escaped brackets": "\\[a](b)" * 5_000,
}


# -- the plain text: one pass -----------------------------------------------------------------


@pytest.mark.parametrize("prose", HOSTILE_PROSE.values(), ids=HOSTILE_PROSE.keys())
def test_each_closing_bracket_tries_a_link_destination_at_most_once(
    prose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = counting(monkeypatch, "_DESTINATION")
    marks = counting(monkeypatch, "_MARK")
    rendering._spell_out_links(prose)
    assert destination.calls <= prose.count("]")
    assert marks.calls <= sum(prose.count(mark) for mark in "[]\n") + 1


def test_brackets_nested_deeper_than_the_limit_are_kept_as_written() -> None:
    content = nested_links(5_000)
    assert render_markdown(content).text == content + "\n"


def test_a_link_nested_to_the_limit_is_spelled_out_from_the_inside() -> None:
    depth = rendering.MAX_LINK_NESTING
    assert render_markdown(nested_links(depth)).text == "a" + " (u)" * depth + "\n"


def test_a_run_of_spaces_where_a_destination_belongs_is_not_a_link() -> None:
    content = "[a](" + " " * 50_000 + "<"
    assert render_markdown(content).text == content + "\n"


def test_backtick_runs_of_every_length_are_paired_in_one_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = "".join("`" * length + "[a](b)" for length in range(700, 0, -1))  # none is closed
    backticks = counting(monkeypatch, "_BACKTICKS")
    text = rendering._spell_out_links(runs)
    assert backticks.calls == 1
    assert text == runs.replace("[a](b)", "a (b)")


@pytest.mark.parametrize(
    ("prose", "spans"),
    [
        ("a `b` c", ["`b`"]),
        ("``a ` b`` c `d`", ["``a ` b``", "`d`"]),
        ("` `` ``` ``", ["`` ``` ``"]),
        ("```a`` `b```", ["```a`` `b```"]),
        ("`a ``b", []),
        ("`a\nb`", ["`a\nb`"]),
    ],
)
def test_code_spans_close_at_the_next_run_of_the_same_length(
    prose: str, spans: list[str]
) -> None:
    assert [prose[start:end] for start, end in rendering._code_spans(prose)] == spans


# -- the HTML: markdown-it-pyrs only where it is linear ---------------------------------------


def limit_sized(unit: str) -> str:
    return unit * (MAX_CONTENT_BYTES // len(unit))


#: Shapes on which markdown-it-pyrs 0.4 is quadratic or overflows its stack, each past
#: the point where rendering.py sends it to markdown-it-py.
PAIRS = rendering._FAST_MAX_DELIMITERS // 2 + 1
SLOW_FOR_PYRS: dict[str, str] = {
    "emphasis, balanced": "*a* " * PAIRS,
    "emphasis, nested": "*a " * PAIRS + "b" + " a*" * PAIRS,
    "strikethrough": "~~a~~ " * (PAIRS // 2 + 1),
    "underscores": "a_b " * PAIRS * 2,
    "reference definitions": "[a]: https://example.com\n\n[a]",
    "wide table": "|" + "a|" * 300 + "\n|" + "-|" * 300 + "\n" + "x\n" * 300,
    "quotes nested": ">" * 32 + " a",
    "lists nested": "- " * 32 + "a",
    "ordered lists nested": "Text\n\n" + "1. " * 32 + "a",
    "lists nested by indentation": "".join(" " * (2 * depth) + "- a\n" for depth in range(17)),
    "quotes and lists nested": "> - " * 16 + "a",
    "long": "Lorem ipsum dolor sit amet.\n\n" * (rendering._FAST_MAX_CHARS // 29 + 1),
}


@pytest.mark.parametrize("content", SLOW_FOR_PYRS.values(), ids=SLOW_FOR_PYRS.keys())
def test_shapes_slow_for_markdown_it_pyrs_go_to_markdown_it_py(content: str) -> None:
    assert content.isascii()
    assert not rendering._renders_fast(content)


def test_a_realistic_email_still_takes_markdown_it_pyrs() -> None:
    email = (
        "# Your order\n\nHi Zoe,\n\nThanks for order **#10423**: follow it on the "
        "[tracking page](https://shop.example.com/track/10423?utm_source=mail).\n\n"
        "| Item | Qty | Price |\n|:-----|:---:|------:|\n"
        "| Socks | 2 | $10 |\n| Shoes | 1 | $90 |\n\n"
        "- 2 pairs of *merino* socks\n- 1 pair of trail shoes\n  - size 42\n\n"
        "> Questions? Reply to this email.\n\nUse `SHIP-10423` before 6 pm.\n\n---\nThe team\n"
    )
    assert rendering._renders_fast(email)


@pytest.mark.parametrize(
    "content",
    [limit_sized("> "), limit_sized("- "), limit_sized("1. "), limit_sized("> - ")],
    ids=["quotes", "lists", "ordered lists", "quotes and lists"],
)
def test_nesting_at_the_size_limit_renders_without_crashing_the_process(content: str) -> None:
    # markdown-it-pyrs recurses once per level and overflows the stack: a crash, not an error.
    script = (
        "import sys\n"
        "from micromailer.domain.rendering import render_markdown\n"
        "rendered = render_markdown(sys.stdin.read())\n"
        "print(len(rendered.html), len(rendered.text))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=content, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:] or f"exit status {done.returncode}"
