"""``python -m bench.perf.profile api|worker``: where a micromailer process spends its time.

Starts the distributed stack against the fake provider, puts it under load and samples one
process with py-spy (``pip install py-spy``): ``api`` samples one API process under wrk;
``worker`` queues emails first, then samples one worker while it drains them. Prints the frames
with the most samples (inclusive) and writes the collapsed stacks next to the results.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.perf.measure import delivered_count, wrk_throughput
from bench.perf.stacks import DistributedStack, FakeProvider

OUT = Path(__file__).resolve().parents[1] / "results" / "profiles"


def record(pid: int, seconds: int, out: Path) -> None:
    subprocess.run(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
         "--duration", str(seconds), "--rate", "200", "--format", "raw", "--output", str(out),
         "--nonblocking", "--subprocesses", "--gil"],
        check=True, capture_output=True,
    )


def summarize(collapsed: Path, top: int) -> None:
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        for frame in set(stack.split(";")):
            inclusive[frame] += samples
    print(f"{total} samples")
    for frame, samples in inclusive.most_common(top):
        print(f"{100 * samples / total:5.1f}%  {frame[:150]}")


def profile_api(root: Path, seconds: int) -> Path:
    fake = FakeProvider(root).start()
    stack = DistributedStack(root / "api", fake, api_processes=1)
    out = OUT / "api.txt"
    try:
        stack.start_api()
        wrk_throughput(stack.url, seconds=3)
        load = threading.Thread(target=wrk_throughput, args=(stack.url, seconds + 4))
        load.start()
        time.sleep(2)
        record(stack.apis[0].pid, seconds, out)
        load.join()
    finally:
        stack.stop()
        fake.process.stop()
    return out


def profile_worker(root: Path, seconds: int, emails: int) -> Path:
    fake = FakeProvider(root).start()
    stack = DistributedStack(root / "e2e", fake, worker_processes=1)
    out = OUT / "worker.txt"
    emails -= emails % 32  # hey sends the same number on each of its 32 connections
    try:
        stack.start_api()
        subprocess.run(
            ["hey", "-n", str(emails), "-c", "32", "-m", "POST", "-T", "application/json",
             "-d", '{"to": "ada@example.com", "subject": "Bench", "content": "# Hi"}',
             f"{stack.url}/email"], check=True, capture_output=True,
        )
        before = delivered_count(fake.url)
        stack.start_workers()
        started = time.monotonic()
        record(stack.workers[0].pid, seconds, out)
        while delivered_count(fake.url) - before < emails:
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        print(f"one worker drained {emails} emails in {elapsed:.1f} s: "
              f"{emails / elapsed:.0f} emails/s (while being sampled)")
    finally:
        stack.stop()
        fake.process.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("process", choices=["api", "worker"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mm-profile-") as scratch:
        if args.process == "api":
            out = profile_api(Path(scratch), args.seconds)
        else:
            out = profile_worker(Path(scratch), args.seconds, args.emails)
    summarize(out, args.top)


if __name__ == "__main__":
    main()
