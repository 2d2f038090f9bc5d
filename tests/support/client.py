"""HTTP clients for tests: the micromailer API and the sandbox's control API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

FINAL = {"sent", "failed"}


class ApiClient:
    def __init__(
        self, url: str, log_tail: Callable[[], str] = lambda: "", *, key: str | None = None
    ) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        self.http = httpx.Client(timeout=10, headers=headers)
        self._log_tail = log_tail

    def as_key(self, key: str | None) -> ApiClient:
        """The same API, every request sent with ``key`` (``None``: with no key)."""
        return ApiClient(self.url, self._log_tail, key=key)

    def post_json(self, **fields: Any) -> httpx.Response:
        return self.http.post(f"{self.url}/email", json=fields)

    def post_form(self, multipart: bool = False, **fields: str) -> httpx.Response:
        if multipart:
            files = {key: (None, value) for key, value in fields.items()}
            return self.http.post(f"{self.url}/email", files=files)
        return self.http.post(f"{self.url}/email", data=fields)

    def email(self, email_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.url}/email/{email_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_final(
        self, email_ids: Iterable[str], timeout: float = 90
    ) -> dict[str, dict[str, Any]]:
        """Poll until every email is ``sent`` or ``failed``; return their last bodies."""
        pending = set(email_ids)
        final: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for email_id in list(pending):
                body = self.email(email_id)
                if body["status"] in FINAL:
                    final[email_id] = body
                    pending.discard(email_id)
            if pending:
                time.sleep(0.3)
        if pending:
            raise AssertionError(
                f"{len(pending)} email(s) not final after {timeout:.0f} s, e.g. "
                f"{self.email(next(iter(pending)))}\n--- log ---\n{self._log_tail()}"
            )
        return final

    def providers(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.http.get(f"{self.url}/providers").json()
        return body


class SandboxClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=30)

    def set_faults(self, provider: str, **faults: Any) -> None:
        response = self.http.put(f"{self.url}/_sandbox/{provider}/faults", json=faults)
        response.raise_for_status()

    def captured(self, provider: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.url}/_sandbox/{provider}/messages")
        response.raise_for_status()
        body: list[dict[str, Any]] = response.json()
        return body


__all__ = ["FINAL", "ApiClient", "SandboxClient"]
