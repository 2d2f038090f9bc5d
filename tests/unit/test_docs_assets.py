"""The API reference's third-party files are the published ones (``static/vendor/SOURCE.txt``
lists each with its checksum), and its pages name no address outside this service."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from micromailer.api.routes.docs import (
    EMPTY_IMAGE_URL,
    REDOC_BUNDLE,
    REDOCLY_LOGO_URL,
    offline_redoc_bundle,
)
from micromailer.api.routes.web import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
#: ``<sha256>  <path under vendor/>`` lines of SOURCE.txt.
LISTED = re.compile(r"^\s+([0-9a-f]{64})  (\S+)$", re.MULTILINE)


def listed_files() -> dict[str, str]:
    return {path: digest for digest, path in LISTED.findall((VENDOR / "SOURCE.txt").read_text())}


def test_source_lists_every_vendored_file() -> None:
    present = {path.relative_to(VENDOR).as_posix() for path in VENDOR.rglob("*")
               if path.is_file() and path.name != "SOURCE.txt"}
    assert present == set(listed_files())


@pytest.mark.parametrize(("path", "digest"), sorted(listed_files().items()))
def test_each_vendored_file_is_the_published_one(path: str, digest: str) -> None:
    assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest


def test_the_served_redoc_bundle_loads_nothing_from_redocly() -> None:
    served = offline_redoc_bundle()
    assert b"cdn.redoc.ly" not in served
    assert served.replace(EMPTY_IMAGE_URL, REDOCLY_LOGO_URL) == REDOC_BUNDLE.read_bytes()


@pytest.mark.parametrize("page", sorted((STATIC_DIR / "docs").iterdir()), ids=lambda p: p.name)
def test_the_swagger_ui_page_names_only_this_service(page: Path) -> None:
    assert not re.search(r"\b(?:https?:)?//", page.read_text())
