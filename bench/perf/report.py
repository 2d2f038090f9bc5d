"""The benchmark's table and the micromailer ÷ baseline ratios."""

from __future__ import annotations

from typing import Any


def ratios(results: dict[str, Any]) -> dict[str, float]:
    if "baseline" not in results or "micromailer" not in results:
        return {}
    base, ours = results["baseline"], results["micromailer"]
    return {
        "postThroughput": round(ours["throughput"]["requests_per_second"]
                                / base["throughput"]["requests_per_second"], 2),
        "delivery": round(ours["delivery"]["emails_per_second"]
                          / base["delivery"]["emails_per_second"], 2),
        "p99At500": round(ours["latencyAt500"]["p99_ms"] / base["latencyAt500"]["p99_ms"], 2),
    }


def round_ratios(results: dict[str, Any]) -> list[dict[str, float]]:
    """The ratios of each round on its own: the baseline and micromailer measured side by
    side, one after the other."""
    if "baseline" not in results or "micromailer" not in results:
        return []
    return [ratios({"baseline": base, "micromailer": ours}) for base, ours in
            zip(results["baseline"]["rounds"], results["micromailer"]["rounds"], strict=True)]


def print_table(report: dict[str, Any]) -> None:
    header = (f"{'system':<22} {'POST/s':>8} {'non-2xx':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'delivered/s':>12} {'peak RSS MiB (per process)':>30}")
    print(header)
    print("-" * len(header))
    for name, row in report["systems"].items():
        rss = ", ".join(f"{p['role'][0]}:{p['peakRssMiB']:.0f}" for p in row["processes"])
        print(f"{name:<22} {row['throughput']['requests_per_second']:>8.0f} "
              f"{row['throughput']['non_2xx']:>8} {row['latencyAt500']['p50_ms']:>8.1f} "
              f"{row['latencyAt500']['p99_ms']:>8.1f} {row['delivery']['emails_per_second']:>12.1f}"
              f"   {rss}")
    if report["ratios"]:
        r = report["ratios"]
        print(f"\nmicromailer ÷ baseline: POST throughput x{r['postThroughput']}, "
              f"delivery x{r['delivery']}, p99 at 500/s x{r['p99At500']}")
    for number, each in enumerate(report.get("roundRatios", []), start=1):
        print(f"  round {number}: POST x{each['postThroughput']}, delivery x{each['delivery']}, "
              f"p99 x{each['p99At500']}")


__all__ = ["print_table", "ratios", "round_ratios"]
