"""The measurements: wrk for throughput, hey for latency at a fixed rate, delivery, RSS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

POST_SCRIPT = Path(__file__).with_name("post.lua")
BODY = json.dumps({"to": "ada@example.com", "to_name": "Ada", "subject": "Bench",
                   "content": "# Hello\n\nA *bench* email."})


@dataclass(frozen=True)
class Throughput:
    requests_per_second: float
    requests: int
    non_2xx: int
    errors: int


def wrk_throughput(url: str, seconds: int, connections: int = 32, threads: int = 2,
                   key: str | None = None) -> Throughput:
    """``wrk`` POSTing a different email on every request (with API ``key`` when given)."""
    env = {**os.environ, "MICROMAILER_BENCH_KEY": key} if key else None
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(POST_SCRIPT), url],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    requests = int(_find(r"(\d+) requests in", out))
    non_2xx = int(_find(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0"))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Throughput(rps, requests, non_2xx, errors)


@dataclass(frozen=True)
class Latency:
    rate: int
    p50_ms: float
    p99_ms: float
    answered: int
    non_202: int


def hey_latency(url: str, rate: int, seconds: int, connections: int = 25,
                key: str | None = None) -> Latency:
    """``hey`` at ``rate`` requests per second in all (``connections`` x per-connection QPS),
    with API ``key`` when given."""
    auth = ["-H", f"Authorization: Bearer {key}"] if key else []
    out = subprocess.run(
        ["hey", "-z", f"{seconds}s", "-c", str(connections), "-q", str(rate // connections),
         "-m", "POST", "-T", "application/json", *auth, "-d", BODY, f"{url}/email"],
        capture_output=True, text=True, check=True,
    ).stdout
    p50 = float(_find(r"50% in ([\d.]+) secs", out)) * 1000
    p99 = float(_find(r"99% in ([\d.]+) secs", out)) * 1000
    codes = {int(code): int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    answered = sum(codes.values())
    return Latency(rate, round(p50, 2), round(p99, 2), answered, answered - codes.get(202, 0)
                   - codes.get(200, 0))


def delivered_count(fake_url: str) -> int:
    return int(httpx.get(f"{fake_url}/count", timeout=10).text)


@dataclass(frozen=True)
class Delivery:
    accepted: int
    seconds: float
    emails_per_second: float


def deliver(url: str, fake_url: str, total: int, timeout: float = 600) -> Delivery:
    """POST ``total`` emails with hey (32 connections) and time until the fake provider has
    them all."""
    before = delivered_count(fake_url)
    start = time.monotonic()
    out = subprocess.run(
        ["hey", "-n", str(total), "-c", "32", "-m", "POST", "-T", "application/json",
         "-d", BODY, f"{url}/email"],
        capture_output=True, text=True, check=True,
    ).stdout
    codes = {int(code): int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    accepted = codes.get(202, 0) + codes.get(200, 0)
    deadline = start + timeout
    while delivered_count(fake_url) - before < accepted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {delivered_count(fake_url) - before} of {accepted} delivered")
        time.sleep(0.05)
    seconds = time.monotonic() - start
    return Delivery(accepted, round(seconds, 2), round(accepted / seconds, 1))


@dataclass
class RssSampler:
    """Peak resident memory of each process of the given roles, sampled in the background."""

    roots: dict[str, list[int]] = field(default_factory=dict)
    peaks: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, role: str, pid: int) -> None:
        self.roots.setdefault(role, []).append(pid)

    def start(self) -> RssSampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for role, pids in list(self.roots.items()):
                for pid in pids:
                    self._sample(role, pid)

    def _sample(self, role: str, pid: int) -> None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            try:
                rss = proc.memory_info().rss
                name = " ".join(proc.cmdline()[1:4])[:60]
            except psutil.Error:
                continue
            _, _, peak = self.peaks.get(proc.pid, (role, name, 0))
            self.peaks[proc.pid] = (role, name, max(peak, rss))

    def stop(self) -> list[dict[str, object]]:
        self._stop.set()
        return [
            {"role": role, "process": name, "peakRssMiB": round(rss / 2**20, 1)}
            for role, name, rss in sorted(self.peaks.values())
        ]


def _find(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match:
        return match.group(1)
    if default is not None:
        return default
    raise RuntimeError(f"{pattern!r} not found in:\n{text}")


__all__ = ["Delivery", "Latency", "RssSampler", "Throughput", "deliver", "hey_latency",
           "wrk_throughput"]
