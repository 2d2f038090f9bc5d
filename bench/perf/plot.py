"""``python -m bench.perf.plot RUN.json [RUN.json ...]``: the benchmark's figure for the docs:
a bar per run and system, and a dot per round where the run has them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path(__file__).resolve().parents[2] / "docs" / "img" / "performance.png"
SYSTEMS = ("baseline", "micromailer", "micromailer-embedded")
METRICS = (
    ("POST /email per second", lambda row: row["throughput"]["requests_per_second"]),
    ("delivered emails per second", lambda row: row["delivery"]["emails_per_second"]),
    ("p99 ms at 500 requests/s", lambda row: row["latencyAt500"]["p99_ms"]),
)


def main(paths: list[str]) -> None:
    runs = [json.loads(Path(path).read_text())["systems"] for path in paths]
    figure, axes = plt.subplots(1, len(METRICS), figsize=(13, 4))
    for axis, (title, value) in zip(axes, METRICS, strict=True):
        for index, system in enumerate(SYSTEMS):
            rows = [run[system] for run in runs if system in run]
            positions = [index + offset * 0.25 for offset in range(len(rows))]
            axis.bar(positions, [value(row) for row in rows], width=0.22, color=f"C{index}")
            for position, row in zip(positions, rows, strict=True):
                rounds = [value(each) for each in row.get("rounds", [])]
                axis.plot([position] * len(rounds), rounds, "k.", markersize=4)
        axis.set_xticks(range(len(SYSTEMS)), ["baseline", "distributed", "embedded"])
        axis.set_title(title, fontsize=10)
        if "p99" in title:
            axis.set_yscale("log")
    figure.suptitle(f"micromailer against the 2016 baseline, {len(runs)} runs "
                    "(one bar each: the median of its rounds, drawn as dots)")
    figure.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
