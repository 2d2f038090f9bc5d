"""A barrage of hostile requests against a running deployment, and what it must leave behind.

Each request belongs to one kind of abuse and expects one refusal; the barrage is shuffled and
sent from several threads over every API process, so that kinds interleave as real traffic
would. The test then checks that none got a 5xx, each got its refusal with a sentence, and
that nothing was stored or sent beyond what a flood's own key was allowed.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Hostile:
    """One request: its kind, how to send it, and the status it must get."""

    kind: str
    method: str
    path: str
    expected: frozenset[int]
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None


@dataclass(frozen=True)
class Keys:
    """The keys the barrage uses: live ones of two projects, a revoked one, a rate-limited one."""

    alpha: str
    beta: str
    revoked: str
    flood: str


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def email_body(n: int) -> dict[str, str]:
    return {"to": f"victim{n}@example.com", "subject": f"hostile {n}", "content": "x"}


def barrage(
    keys: Keys, alpha_email: str, idempotency_key: str, count: int = 2000, seed: int = 17
) -> list[Hostile]:
    """``count`` hostile requests, shuffled: the kinds the issue names, in equal shares."""
    rng = random.Random(seed)
    kinds: list[Callable[[int], Hostile]] = [
        lambda n: _no_key(rng, n),
        lambda n: _wrong_key(rng, n),
        lambda n: Hostile("revoked key", "POST", "/email", frozenset({401}),
                          bearer(keys.revoked), json=email_body(n)),
        lambda n: _other_project(rng, keys, alpha_email),
        lambda n: _cross_site(rng, keys, n),
        lambda n: _foreign_host(rng, keys, n),
        lambda n: Hostile("idempotency key replayed with another body", "POST", "/email",
                          frozenset({409}),
                          {**bearer(keys.alpha), "Idempotency-Key": idempotency_key},
                          json=email_body(n)),
        lambda n: Hostile("flood past the limit", "POST", "/email", frozenset({202, 429}),
                          bearer(keys.flood), json=email_body(n)),
    ]
    requests = [kinds[n % len(kinds)](n) for n in range(count)]
    rng.shuffle(requests)
    return requests


def _no_key(rng: random.Random, n: int) -> Hostile:
    method, path, body = rng.choice([
        ("POST", "/email", email_body(n)),
        ("GET", "/emails", None),
        ("GET", f"/email/{uuid.uuid4()}", None),
        ("GET", "/providers", None),
        ("POST", "/preview", {"content": "# hi"}),
        ("PUT", "/sandbox/sendgrid/outage", {"outage": True}),
        ("GET", "/metrics", None),
    ])
    return Hostile("no key", method, path, frozenset({401}), json=body)


def _wrong_key(rng: random.Random, n: int) -> Hostile:
    header = rng.choice([
        f"Bearer mm_live_{uuid.uuid4().hex}",
        f"Bearer mm_test_{uuid.uuid4().hex}",
        "Bearer " + "A" * rng.randint(1, 4000),
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "bearer  spaced",
        "Token abc",
        "",
    ])
    return Hostile("wrong key", "POST", "/email", frozenset({401}),
                   {"Authorization": header}, json=email_body(n))


def _other_project(rng: random.Random, keys: Keys, alpha_email: str) -> Hostile:
    method, path = rng.choice([("GET", f"/email/{alpha_email}")])
    return Hostile("another project's email", method, path, frozenset({404}), bearer(keys.beta))


def _cross_site(rng: random.Random, keys: Keys, n: int) -> Hostile:
    site = rng.choice([
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
    ])
    key = rng.choice([{}, bearer(keys.alpha)])
    form = {"to": f"victim{n}@example.com", "subject": "hi", "content": "x"}
    return Hostile("cross-site form", "POST", "/email", frozenset({403}), {**site, **key},
                   data=form)


def _foreign_host(rng: random.Random, keys: Keys, n: int) -> Hostile:
    host = rng.choice(["evil.example", "attacker.test:8000", "127.0.0.1.nip.io",
                       "x" * 300])
    method, path, body = rng.choice([
        ("GET", "/emails", None), ("POST", "/email", email_body(n)),
        ("GET", "/providers", None),
    ])
    return Hostile("foreign Host", method, path, frozenset({400}),
                   {"Host": host, **bearer(keys.alpha)}, json=body)


@dataclass
class Outcome:
    """What the barrage got back."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    accepted_floods: int = 0


def send(urls: Sequence[str], requests: Sequence[Hostile], threads: int = 8) -> Outcome:
    """Send every request, round-robin over ``urls``; what came back."""
    outcome = Outcome()
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]

    def one(numbered: tuple[int, Hostile]) -> None:
        n, request = numbered
        response = clients[n % len(clients)].request(
            request.method, request.path, headers=request.headers, json=request.json,
            data=request.data,
        )
        outcome.statuses[(request.kind, response.status_code)] += 1
        if response.status_code not in request.expected:
            outcome.unexpected.append(
                f"{request.kind}: {request.method} {request.path} -> {response.status_code} "
                f"{response.text[:200]}")
        elif response.status_code == 202:
            outcome.accepted_floods += 1
        elif not _has_sentence(response):
            outcome.unexpected.append(f"{request.kind}: no sentence in {response.text[:200]}")

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, enumerate(requests)))
    finally:
        for client in clients:
            client.close()
    return outcome


def _has_sentence(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    if body.get("status") == "notfound":
        return True
    error = body.get("error")
    return isinstance(error, str) and len(error) > 20 and error.endswith((".", ")"))


__all__ = ["Hostile", "Keys", "Outcome", "barrage", "bearer", "email_body", "send"]
