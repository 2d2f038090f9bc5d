"""Every test starts without the developer's micromailer settings or provider credentials.

In-process tests get settings from arguments or their own ``monkeypatch.setenv``; subprocess
tests pass an environment built by ``tests.support.processes.clean_env``. The suite's own
variables (``MICROMAILER_TEST_*``, ``MICROMAILER_PROVIDER_SPECS``) stay.

One setting is added for in-process tests: the in-process clients (Starlette's ``TestClient``,
schemathesis' ASGI transport) send ``Host: testserver``, which the ``Host`` check answers only
when ``MICROMAILER_ALLOWED_HOSTS`` names it, as Django's test runner adds it to its
``ALLOWED_HOSTS``. Subprocesses never inherit it (``clean_env``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.environment import configures_micromailer

#: The localhost names and the in-process test clients' name.
IN_PROCESS_HOSTS = "localhost,127.0.0.1,::1,testserver"


@pytest.fixture(scope="session", autouse=True)
def _environment_without_micromailer_settings() -> Iterator[None]:
    """Session-wide, so that session fixtures start from the same clean environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if configures_micromailer(name):
                patch.delenv(name)
        patch.setenv("MICROMAILER_ALLOWED_HOSTS", IN_PROCESS_HOSTS)
        yield
