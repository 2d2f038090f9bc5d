"""The audit log's writer on the API's hot path: refused authentications (not yet written)."""

from __future__ import annotations


class AuditLog:
    """Records refused authentications, sampled so that a flood cannot fill the disk."""

    def refused(self, client: str | None, key_prefix: str | None, reason: str) -> None:
        """Note one refused authentication; never blocks the event loop."""


__all__ = ["AuditLog"]
