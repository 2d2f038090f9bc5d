"""The intake renders long content off the event loop and short content on it, without a hop.

``POST /preview`` renders through the same intake, so its long renders share the same threads.

A long email's Markdown may take a while to render (markdown-it-py on hostile shapes, at the
size limit); on the loop it would hold every other request. A short one renders faster than a
thread hop takes, so it stays. The e2e liveness test (tests/e2e/test_rendering_liveness.py)
shows the effect on ``/healthz``; this one shows where each render runs.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.delivery import pipeline
from micromailer.delivery.intake import Sender
from micromailer.delivery.pipeline import RENDER_ON_LOOP_MAX_CHARS, IntakePipeline
from micromailer.domain.rendering import RenderedContent, render_markdown
from micromailer.domain.validation import EmailRequest
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade

SENDER = Sender("no-reply@example.com", "test")


@pytest.fixture
def store(tmp_path: Path) -> EmailStore:
    url = f"sqlite:///{tmp_path}/store.sqlite3"
    upgrade(url)
    return EmailStore(make_engine(url))


def rendered_in_threads(
    store: EmailStore, contents: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, list[str]]:
    """The loop's thread name, and the thread each content was rendered in."""
    threads: list[str] = []

    def recording_render(content: str) -> RenderedContent:
        threads.append(threading.current_thread().name)
        return render_markdown(content)

    monkeypatch.setattr(pipeline, "render_markdown", recording_render)

    async def scenario() -> str:
        intake = IntakePipeline(store, lambda ids: None, SENDER)
        for content in contents:
            await intake.accept(EmailRequest(to="jane@example.com", subject="s", content=content))
        await intake.close()
        return threading.current_thread().name

    return asyncio.run(scenario()), threads


def test_short_content_renders_on_the_loop(
    store: EmailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = ["Hello *there*", "x" * RENDER_ON_LOOP_MAX_CHARS]
    loop_thread, threads = rendered_in_threads(store, short, monkeypatch)
    assert threads == [loop_thread, loop_thread]


def test_long_content_renders_in_another_thread(
    store: EmailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = ["x" * (RENDER_ON_LOOP_MAX_CHARS + 1), "[" * 5_000 + "a" + "](u)" * 5_000]
    loop_thread, threads = rendered_in_threads(store, long, monkeypatch)
    assert len(threads) == 2
    assert loop_thread not in threads


def test_preview_renders_through_the_intakes_render_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []

    def recording_render(content: str) -> RenderedContent:
        threads.append(threading.current_thread().name)
        return render_markdown(content)

    monkeypatch.setattr(pipeline, "render_markdown", recording_render)
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as client:
        response = client.post("/preview", json={"content": "x" * (RENDER_ON_LOOP_MAX_CHARS + 1)})

    assert response.status_code == 200, response.text
    assert len(threads) == 1
