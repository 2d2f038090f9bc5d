"""New signing secrets and webhook ids, in the Standard Webhooks formats."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

#: Random bytes in a signing secret (Standard Webhooks asks for 24 to 64).
SECRET_BYTES = 32
SECRET_PREFIX = "whsec_"
WEBHOOK_ID_PREFIX = "msg_"


def new_secret() -> str:
    """``whsec_`` and the base64 of :data:`SECRET_BYTES` random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def new_webhook_id(now: datetime) -> str:
    """``msg_`` + the time in milliseconds (12 hex digits) + 80 random bits: unique, and in
    creation order when sorted, so the log lists deliveries of one instant in a stable order."""
    return f"{WEBHOOK_ID_PREFIX}{int(now.timestamp() * 1000):012x}{secrets.token_hex(10)}"


__all__ = ["SECRET_BYTES", "SECRET_PREFIX", "WEBHOOK_ID_PREFIX", "new_secret", "new_webhook_id"]
