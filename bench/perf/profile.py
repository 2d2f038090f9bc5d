"""``python -m bench.perf.profile api|worker|cpu``: where a micromailer process spends its time.

Starts the distributed stack against the fake provider, puts it under load and samples one
process with py-spy (``pip install py-spy``): ``api`` samples one API process under wrk;
``worker`` queues emails first, then samples one worker while it drains them. Prints the frames
with the most samples (inclusive) and writes the collapsed stacks next to the results.
``cpu`` sends emails end to end (one API and one worker process) and prints the CPU time each
program spent per email (from ``/proc``), the servers included: on two cores, what one part
saves, another can use. ``post`` does the same for ``POST /email`` alone, as the benchmark's
throughput phase runs it (two API processes under wrk, no worker), wrk included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.perf.measure import deliver, delivered_count, wrk_throughput
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


#: Programs whose CPU ``cpu`` reports besides micromailer's own processes.
SERVERS = ("postgres", "beam.smp", "redis-server")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 if it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids() -> dict[str, list[int]]:
    """The running servers' processes by program name."""
    found: dict[str, list[int]] = {name: [] for name in SERVERS}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in found:
            found[name].append(int(entry.name))
    return found


def cpu_by_program(own: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of ``own`` programs (name: processes) and of the servers."""
    programs = {**own, **server_pids()}
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in programs.items()}


def with_children(pids: list[int]) -> list[int]:
    return [each for pid in pids for each in (pid, *child_pids(pid))]


def child_pids(pid: int) -> list[int]:
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def profile_cpu(root: Path, emails: int) -> None:
    """Per-email CPU of each program while ``emails`` go through API and worker at once.

    PostgreSQL's connections that end during the run are not counted: the stack keeps its
    pools open, so that is none of micromailer's.
    """
    fake = FakeProvider(root).start()
    stack = DistributedStack(root / "cpu", fake, api_processes=1, worker_processes=1)
    try:
        stack.start_api()
        stack.start_workers()
        deliver(stack.url, fake.url, 500)  # warm up connections and pools
        own = {"api": with_children([stack.apis[0].pid]), "worker": [stack.workers[0].pid]}
        before = cpu_by_program(own)
        delivery = deliver(stack.url, fake.url, emails)
        after = cpu_by_program(own)
    finally:
        stack.stop()
        fake.process.stop()
    print(f"{emails} emails end to end: {delivery.emails_per_second:.1f} delivered/s")
    for name in before:
        print(f"{name:>13}: {1000 * (after[name] - before[name]) / emails:6.2f} ms CPU/email")


def profile_post(root: Path, seconds: int) -> None:
    """Per-request CPU of each program while wrk POSTs for ``seconds`` (no worker runs)."""
    fake = FakeProvider(root).start()
    stack = DistributedStack(root / "post", fake)
    try:
        stack.start_api()
        wrk_throughput(stack.url, seconds=3)  # warm up connections and pools
        own = {"api": with_children([api.pid for api in stack.apis])}
        before, wrk_before = cpu_by_program(own), os.times()
        load = wrk_throughput(stack.url, seconds=seconds)
        after, wrk_after = cpu_by_program(own), os.times()
    finally:
        stack.stop()
        fake.process.stop()
    requests = load.requests
    print(f"POST /email: {load.requests_per_second:.0f}/s over {seconds} s ({requests} requests)")
    after["wrk"] = wrk_after.children_user + wrk_after.children_system
    before["wrk"] = wrk_before.children_user + wrk_before.children_system
    for name in after:
        print(f"{name:>13}: {1000 * (after[name] - before[name]) / requests:6.3f} ms CPU/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("process", choices=["api", "worker", "cpu", "post"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mm-profile-") as scratch:
        if args.process == "cpu":
            profile_cpu(Path(scratch), args.emails)
            return
        if args.process == "post":
            profile_post(Path(scratch), args.seconds)
            return
        if args.process == "api":
            out = profile_api(Path(scratch), args.seconds)
        else:
            out = profile_worker(Path(scratch), args.seconds, args.emails)
    summarize(out, args.top)


if __name__ == "__main__":
    main()
