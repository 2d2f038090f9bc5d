"""The plain text's one-pass link rewrite against the regular-expression fixpoint it replaced.

The earlier version repeated a link pattern until the text stopped changing and found code
spans with a backreference; both were superlinear on hostile input. On ordinary documents,
generated here from links, images inside links, titles, code spans and escapes, the one pass
must give exactly the fixpoint's text. They part only on shapes no email holds: brackets nested
past ``MAX_LINK_NESTING`` (test_rendering_pathological.py), brackets inside a destination, and
a spelled-out link that begins with ``(`` after a ``[x]`` (the fixpoint read the two as a new
link; ``[x][(a)](u)`` gave ``x (a) (u)``, the one pass gives ``[x](a) (u)``).
"""

from __future__ import annotations

import random
import re

import pytest

from micromailer.domain import rendering

_URL = r"(?:[^\s()<>]|\([^\s()<>]*\))+"
_FIXPOINT_LINK = re.compile(
    r"(?<!\\)!?\[(?P<label>[^\[\]\n]*)\]"
    r"\(\s*(?:<(?P<angle>[^<>\n]*)>|(?P<url>" + _URL + r"))?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_FIXPOINT_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)")


def fixpoint_spell_out(prose: str) -> str:
    """The earlier ``_spell_out_links``: code spans kept, links rewritten until nothing changes."""
    pieces: list[str] = []
    start = 0
    for span in _FIXPOINT_CODE_SPAN.finditer(prose):
        pieces.append(fixpoint_rewrite(prose[start : span.start()]))
        pieces.append(span.group(0))
        start = span.end()
    pieces.append(fixpoint_rewrite(prose[start:]))
    return "".join(pieces)


def fixpoint_rewrite(text: str) -> str:
    while True:
        rewritten = _FIXPOINT_LINK.sub(fixpoint_link_as_text, text)
        if rewritten == text:
            return text
        text = rewritten


def fixpoint_link_as_text(match: re.Match[str]) -> str:
    label = match["label"].strip()
    url = (match["angle"] if match["angle"] is not None else match["url"] or "").strip()
    if not url:
        return label
    if not label or label == url:
        return url
    return f"{label} ({url})"


WORDS = ["a", "order", "#10423", "size 42", "x*y", "snake_case", "(note)", "!", "\\", ":", ""]
URLS = [
    "https://example.com", "https://e.com/a?b=1&c=2", "https://en.wikipedia.org/wiki/Foo_(bar)",
    "l.png", "mailto:ops@example.com", "<https://example.com/a b>", "", "same", "#top",
]
TITLES = ['', ' "Home"', " 'Home'", " (Home)", ' "two words"', '  "spaced" ']


def word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def link(rng: random.Random, depth: int = 0) -> str:
    label = " ".join(word(rng) for _ in range(rng.randint(0, 3)))
    if depth < 3 and rng.random() < 0.3:
        label = f"{label} {link(rng, depth + 1)} {word(rng)}".strip()
    if label.startswith("("):  # spelled out, it would read as the destination of a `[x]` before
        label = f"see {label}"
    if rng.random() < 0.1:
        label = f" {label} "
    url = rng.choice(URLS)
    if url == "same":  # a label that is its own destination, when it can be one
        url = label if re.fullmatch(r"[\w#:.*!]+", label) else "https://example.com"
    title = rng.choice(TITLES)
    if not url and "(" in title:  # ( (Home)) has the destination (Home), not a title
        title = ""
    bang = "!" if rng.random() < 0.3 else ""
    return f"{bang}[{label}]({url}{title})"


def fragment(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return link(rng)
    if roll < 0.45:
        ticks = "`" * rng.randint(1, 3)
        return f"{ticks}{link(rng)} {word(rng)}{ticks}"
    if roll < 0.5:
        return "`" * rng.randint(1, 3)  # an unclosed run
    if roll < 0.55:
        return rng.choice(["[", "]", "(", ")", "\\[", "[]", "[x]", "[x][y]", "](y)"])
    if roll < 0.62:
        return rng.choice(["\n", "\n\n", "  \n"])
    return word(rng)


def ordinary_prose(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(fragment(rng) for _ in range(rng.randint(1, 25)))


@pytest.mark.parametrize("block", range(20))
def test_the_one_pass_rewrite_gives_the_fixpoints_text_on_ordinary_prose(block: int) -> None:
    for seed in range(block * 250, (block + 1) * 250):
        prose = ordinary_prose(seed)
        assert rendering._spell_out_links(prose) == fixpoint_spell_out(prose), (seed, prose)


@pytest.mark.parametrize(
    "prose",
    [
        "See [our site](https://example.com \"Home\") now.",
        "[![logo](l.png)](https://example.com) and [x]( \"t t\")",
        "[ spaced ]( <https://a.example/b c> ) [empty]() [same](same)",
        "\\[not](a) \\![not](b) !\\[not](c) \\\\[x](y)",
        "[a\nb](c) [d](\ne)",
        "``[a](b)`` [c](d) `[e](f)",
    ],
)
def test_the_one_pass_rewrite_gives_the_fixpoints_text_on_edge_cases(prose: str) -> None:
    assert rendering._spell_out_links(prose) == fixpoint_spell_out(prose)
