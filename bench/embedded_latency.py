"""Time from ``POST /email`` to ``sent`` in embedded sandbox mode, over 100 emails.

Starts ``micromailer run`` on free ports with a fresh data directory, posts the emails (paced
at a steady rate, then as one burst), and reads each email's own timestamps: ``createdAt`` is
the commit of the row, ``updatedAt`` of a ``sent`` email is the commit of its success. Prints a
table and writes ``bench/results/embedded_latency.json``.

    .venv/bin/python -m bench.embedded_latency [--emails 100] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tests.support.service import EmbeddedService

RESULTS = Path(__file__).parent / "results" / "embedded_latency.json"


def _post(service: EmbeddedService, count: int, rate: float | None, tag: str) -> list[str]:
    ids = []
    interval = 1.0 / rate if rate else 0.0
    start = time.monotonic()
    for n in range(count):
        if interval:
            time.sleep(max(0.0, start + n * interval - time.monotonic()))
        response = service.post_json(to=f"user{n}@example.com", subject=f"{tag} {n}",
                                     content=f"# Hello {n}\n\nA *bench* email.")
        response.raise_for_status()
        ids.append(response.json()["emailId"])
    return ids


def _latencies(service: EmbeddedService, ids: list[str]) -> list[float]:
    final = service.wait_final(ids, timeout=300)
    assert all(body["status"] == "sent" for body in final.values()), "an email was not sent"
    return [
        (datetime.fromisoformat(body["updatedAt"]) - datetime.fromisoformat(body["createdAt"]))
        .total_seconds() * 1000
        for body in final.values()
    ]


def _summary(name: str, latencies: list[float]) -> dict[str, float | str | int]:
    ordered = sorted(latencies)
    return {
        "run": name,
        "emails": len(ordered),
        "medianMs": round(statistics.median(ordered), 1),
        "p95Ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "maxMs": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="paced run, emails per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        service = EmbeddedService(Path(tmp) / "var", MICROMAILER_RETRY_DELAY="10").start()
        try:
            _latencies(service, _post(service, 5, None, "warm-up"))
            paced = _latencies(service, _post(service, args.emails, args.rate, "paced"))
            burst = _latencies(service, _post(service, args.emails, None, "burst"))
        finally:
            service.stop()
    rows = [_summary(f"paced {args.rate:g}/s", paced), _summary("burst", burst)]
    print(f"{'run':<14} {'emails':>6} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for row in rows:
        print(f"{row['run']:<14} {row['emails']:>6} {row['medianMs']:>10} {row['p95Ms']:>8} "
              f"{row['maxMs']:>8}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
