"""Time to render hostile Markdown at the 512 KiB content limit, against a plain document.

Each shape is rendered by ``render_markdown`` (HTML and plain text) at 1/4, 1/2 and all of the
limit. The table gives the seconds at each size, the ratio to a plain document of the same size
at the limit, and the growth from 1/4 to full size (4 when the time is linear). A last column
times markdown-it-pyrs alone on the shape at 128 KiB, in a child process since it can crash:
where it is slow or crashes, ``render_markdown`` sends the shape to markdown-it-py. Below the
table, the issue's reproducers. Writes ``bench/results/render_pathological.json``.

    .venv/bin/python -m bench.render_pathological [--repeat 3] [--only SHAPE ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from micromailer.domain.rendering import render_markdown
from micromailer.domain.validation import MAX_CONTENT_BYTES

RESULTS = Path(__file__).parent / "results" / "render_pathological.json"
SIZES = (MAX_CONTENT_BYTES // 4, MAX_CONTENT_BYTES // 2, MAX_CONTENT_BYTES)
PYRS_SIZE = 128 * 1024
PYRS_TIMEOUT = 10.0


def repeated(unit: str, head: str = "", tail: str = "") -> Callable[[int], str]:
    return lambda size: head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def nested(opener: str, middle: str, closer: str) -> Callable[[int], str]:
    def shape(size: int) -> str:
        depth = (size - len(middle)) // (len(opener) + len(closer))
        return opener * depth + middle + closer * depth

    return shape


def backtick_runs(size: int) -> str:
    """Runs of 1, 2, 3… backticks, longest first: no run is ever closed."""
    lengths: list[int] = []
    while sum(lengths) + len(lengths) + len(lengths) + 2 <= size:
        lengths.append(len(lengths) + 1)
    return "".join("`" * length + "a" for length in reversed(lengths))


def indented_lists(size: int) -> str:
    lines: list[str] = []
    used = 0
    while used + 2 * len(lines) + 4 <= size:
        lines.append(" " * (2 * len(lines)) + "- a\n")
        used += len(lines[-1])
    return "".join(lines)


def wide_table(size: int) -> str:
    columns = size // 8
    head = "|" + "a|" * columns + "\n|" + "-|" * columns + "\n"
    return head + "x\n" * ((size - len(head)) // 2)


SHAPES: dict[str, Callable[[int], str]] = {
    "plain prose": repeated(
        "Thanks for your order. It ships today from our warehouse, and a courier brings it "
        "to your door within two working days.\n\n"
    ),
    "nested brackets": nested("[", "a", "](u)"),
    "nested images": nested("![", "a", "](u)"),
    "open brackets": repeated("[a"),
    "unclosed destinations": repeated("[a](b"),
    "destination of spaces": lambda size: "[a](" + " " * (size - 5) + "<",
    "backtick runs": backtick_runs,
    "backtick pairs": repeated("`a``"),
    "emphasis runs": repeated("*a"),
    "emphasis balanced": repeated("*a* "),
    "emphasis nested": nested("*a **a ", "b", " a** a*"),
    "strikethrough": repeated("~~a~~ "),
    "links and emphasis": repeated("[ a_"),
    "deep quotes": repeated(">", tail=" a"),
    "deep lists": repeated("- ", tail="a"),
    "deep quotes and lists": repeated("> - ", tail="a"),
    "lists by indentation": indented_lists,
    "wide table": wide_table,
    "reference definitions": repeated("[a]: b\n"),
    "code fences": repeated("```\n```\n"),
    "entities": repeated("&amp;"),
    "autolinks": repeated("<a@b.c> "),
}


def seconds(content: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        render_markdown(content)
        best = min(best, time.perf_counter() - started)
    return best


def pyrs_alone(content: str) -> float | str:
    """markdown-it-pyrs's own time on ``content``, or how it failed."""
    script = (
        "import sys, time\n"
        "from micromailer.domain.rendering import _parser\n"
        "content = sys.stdin.read()\n"
        "started = time.perf_counter()\n"
        "_parser().render(content)\n"
        "print(time.perf_counter() - started)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], input=content, text=True,
                              capture_output=True, timeout=PYRS_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"> {PYRS_TIMEOUT:g} s"
    return float(done.stdout) if done.returncode == 0 else f"crash ({done.returncode})"


@dataclass
class Row:
    shape: str
    seconds: list[float]  # at each of SIZES
    pyrs_alone: float | str
    ratio_to_plain: float = 0.0

    @property
    def growth(self) -> float:
        return self.seconds[-1] / self.seconds[0]


def measure(name: str, repeat: int) -> Row:
    shape = SHAPES[name]
    return Row(name, [seconds(shape(size), repeat) for size in SIZES], pyrs_alone(shape(PYRS_SIZE)))


def reproducers(repeat: int) -> dict[str, float]:
    """The issue's figures: nested brackets of 2,000 to 8,000, and 490 KiB of backtick runs."""
    cases = {f"{depth:,} nested brackets": nested("[", "a", "](u)")(5 * depth + 1)
             for depth in (2_000, 4_000, 8_000)}
    cases["490 KiB of backtick runs"] = backtick_runs(490 * 1024)
    return {case: seconds(content, repeat) for case, content in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument("--only", nargs="*", choices=list(SHAPES), help="these shapes only")
    args = parser.parse_args()
    names = ["plain prose", *[name for name in args.only or SHAPES if name != "plain prose"]]
    rows = [measure(name, args.repeat) for name in names]
    for row in rows:
        row.ratio_to_plain = row.seconds[-1] / rows[0].seconds[-1]

    sizes = " ".join(f"{size // 1024:>5} KiB" for size in SIZES)
    print(f"{'shape':<24}{sizes}  {'vs plain':>8} {'growth':>7}  pyrs alone, 128 KiB")
    for row in rows:
        times = " ".join(f"{figure:>8.3f}s" for figure in row.seconds)
        alone = row.pyrs_alone if isinstance(row.pyrs_alone, str) else f"{row.pyrs_alone:.3f}s"
        print(f"{row.shape:<24}{times}  {row.ratio_to_plain:>8.1f} {row.growth:>7.1f}  {alone}")
    issue = reproducers(args.repeat)
    print()
    for case, figure in issue.items():
        print(f"{case:<28} {figure:.3f}s")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": platform.platform(),
        "python": platform.python_version(),
        "markdown-it-py": version("markdown-it-py"),
        "markdown-it-pyrs": version("markdown-it-pyrs"),
        "sizes": list(SIZES),
        "shapes": [
            {"shape": row.shape, "seconds": row.seconds, "ratioToPlain": row.ratio_to_plain,
             "growth": row.growth, "pyrsAlone128KiB": row.pyrs_alone}
            for row in rows
        ],
        "reproducers": [{"case": case, "seconds": figure} for case, figure in issue.items()],
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
