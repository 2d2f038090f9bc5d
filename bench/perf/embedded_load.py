"""``python -m bench.perf.embedded_load``: the embedded mode's latency while its worker delivers.

Starts ``micromailer run`` (API and worker on one SQLite store) against the fake provider,
then runs hey at a fixed 500 requests/s for 10 s, ``--runs`` times in a row: the worker
delivers what each run accepted while the next one is measured, so the API and the worker
write to the store at the same time, as they do in use. Then times the delivery of
``--emails`` more. Unlike ``bench.perf``'s latency phase, no 20-s wrk flood comes first, so the
worker is not draining the 9,000 to 18,000 emails that flood leaves.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.perf.measure import deliver, hey_latency
from bench.perf.stacks import EmbeddedStack, FakeProvider


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--emails", type=int, default=3008)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mm-embedded-load-") as scratch:
        root = Path(scratch)
        fake = FakeProvider(root).start()
        stack = EmbeddedStack(root / "embedded", fake)
        try:
            stack.start_api()
            time.sleep(3)  # the worker's start
            for run in range(1, args.runs + 1):
                latency = hey_latency(stack.url, 500, 10)
                print(f"run {run}: p50 {latency.p50_ms} ms, p99 {latency.p99_ms} ms at 500/s "
                      f"({latency.answered} answered in time)")
            delivery = deliver(stack.url, fake.url, args.emails)
            print(f"{delivery.accepted} emails delivered in {delivery.seconds} s: "
                  f"{delivery.emails_per_second} per s")
        finally:
            stack.stop()
            fake.process.stop()


if __name__ == "__main__":
    main()
