"""Health snapshots in the store: how embedded mode's API reads the worker's live scores."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from micromailer.health.base import ProviderHealth
from micromailer.store.base import StoreBase
from micromailer.store.models import ProviderHealthRow


class HealthSnapshotStore(StoreBase):
    """The last health a worker published per provider."""

    def save_health(self, states: Sequence[ProviderHealth]) -> None:
        now = self._clock()
        with self._transaction() as session:
            for state in states:
                session.merge(
                    ProviderHealthRow(
                        name=state.name, health=state.health, last_error=state.last_error,
                        retry_at=state.retry_at, updated_at=now,
                    )
                )

    def load_health(self) -> list[ProviderHealth]:
        """Saved health per provider; ``base_score`` is 0 here: the caller's config owns it."""
        with self._sessions() as session:
            rows = session.scalars(select(ProviderHealthRow)).all()
            return [ProviderHealth(row.name, 0.0, row.health, row.last_error, row.retry_at)
                    for row in rows]


__all__ = ["HealthSnapshotStore"]
