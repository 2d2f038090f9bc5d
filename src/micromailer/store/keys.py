"""API keys in the store: created, listed, revoked, and the active ones loaded for the gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from micromailer.security.keys import key_hash, key_prefix, new_key
from micromailer.security.principal import Principal
from micromailer.store.base import StoreBase
from micromailer.store.models import ApiKeyRow


class KeyNameTaken(ValueError):
    """Another key, live or revoked, already has this name."""


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """A key as listed: everything but the secret."""

    name: str
    project: str
    scope: str
    test: bool
    rate_limit: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "project": self.project, "scope": self.scope, "test": self.test,
            "rateLimit": self.rate_limit, "prefix": self.prefix,
            "createdAt": self.created_at.isoformat(),
            "revokedAt": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class KeyStore(StoreBase):
    """The ``api_keys`` table. The secret exists only in :meth:`create`'s answer."""

    def create(
        self, name: str, *, project: str | None = None, scope: str = "send", test: bool = False,
        rate_limit: str | None = None,
    ) -> tuple[ApiKeyView, str]:
        """A new key named ``name``, in ``project`` (by default one named after the key);
        returns its listing and the secret. Raises :class:`KeyNameTaken`."""
        secret = new_key(test=test)
        row = ApiKeyRow(
            name=name, project=project or name, scope=scope, test=test, rate_limit=rate_limit,
            prefix=key_prefix(secret), key_hash=key_hash(secret), created_at=self._clock(),
            revoked_at=None,
        )
        try:
            with self._transaction() as session:
                session.add(row)
        except IntegrityError:
            raise KeyNameTaken(f"a key named {name!r} already exists") from None
        return _view(row), secret

    def list_keys(self) -> list[ApiKeyView]:
        with self._sessions() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
            return [_view(row) for row in rows]

    def revoke(self, name: str) -> bool:
        """Revoke the live key ``name``; ``False`` when there is none."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return bool(result.rowcount)

    def active(self) -> dict[str, Principal]:
        """Every live key's principal, by the key's hash."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(ApiKeyRow.key_hash, ApiKeyRow.name, ApiKeyRow.project, ApiKeyRow.scope,
                       ApiKeyRow.test, ApiKeyRow.rate_limit)
                .where(ApiKeyRow.revoked_at.is_(None))
            ).all()
        return {
            row.key_hash: Principal(
                key_name=row.name, project=row.project, admin=row.scope == "admin",
                test=row.test, rate_limit=row.rate_limit,
            )
            for row in rows
        }


def _view(row: ApiKeyRow) -> ApiKeyView:
    return ApiKeyView(
        name=row.name, project=row.project, scope=row.scope, test=row.test,
        rate_limit=row.rate_limit, prefix=row.prefix, created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


__all__ = ["ApiKeyView", "KeyNameTaken", "KeyStore"]
