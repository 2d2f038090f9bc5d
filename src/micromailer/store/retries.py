"""Retry by hand: a ``failed`` email starts a new delivery cycle (``POST /email/{id}/retry``).

One conditional ``UPDATE`` moves the email from ``failed`` back to ``queued``, due now, so of two
retries at once exactly one wins. Its attempts stay; new ones go on numbering from the last
(``attempt_count``), while the attempt budget (``MICROMAILER_MAX_ATTEMPTS``) counts from the new
cycle's start (``cycle_start``, read with each claim: ``store/claims.py``). The retry is written
to the audit log (``email.retried``) in the same commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from micromailer.domain.attempt import Submitter
from micromailer.domain.audit import AuditKind
from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.models import AuditEventRow, EmailRow

#: Cut to the audit log's columns, as ``store/emails.py`` cuts them.
_CLIENT_LENGTH = 64


@dataclass(frozen=True, slots=True)
class CycleStarted:
    """The email is ``queued`` again, due now; ``cycle`` is its new delivery cycle (2, 3…)."""

    email_id: str
    cycle: int


@dataclass(frozen=True, slots=True)
class NotFailed:
    """The email is not ``failed`` (or another retry won the race): nothing changed."""

    email_id: str
    status: Status

    @property
    def sentence(self) -> str:
        """Why it cannot be retried, for the 409 and the CLI."""
        return f"This email is {self.status.value}; only failed emails can be retried."


#: What asking for a retry comes to; ``None`` when no such email is visible to the caller.
RetryOutcome = CycleStarted | NotFailed | None


class RetryStore(StoreBase):
    """Retries by hand of ``failed`` emails."""

    def start_cycle(
        self, email_id: str, project: str | None, submitter: Submitter = Submitter(),
        *, every_project: bool = False,
    ) -> RetryOutcome:
        """Queue a failed email of ``project`` again (of any project with ``every_project``);
        ``None`` when there is no such email, as for an id never seen."""
        now = self._clock()
        with self.engine.begin() as connection:
            found = connection.execute(
                select(EmailRow.project).where(EmailRow.id == email_id)
            ).first()
            if found is None or not (every_project or found.project == project):
                return None
            started = connection.execute(
                update(EmailRow)
                .where(EmailRow.id == email_id, EmailRow.status == Status.FAILED.value)
                .values(
                    status=Status.QUEUED.value, due_at=now, updated_at=now, claimed_until=None,
                    error=None, retries=EmailRow.retries + 1,
                    cycle_start=EmailRow.attempt_count,
                )
                .returning(EmailRow.retries)
            ).first()
            if started is None:
                status = connection.execute(
                    select(EmailRow.status).where(EmailRow.id == email_id)
                ).scalar_one()
                return NotFailed(email_id, Status(status))
            connection.execute(insert(AuditEventRow).values(
                at=now, kind=AuditKind.EMAIL_RETRIED.value, key_name=submitter.key_name,
                project=found.project, email_id=email_id,
                client=submitter.client[:_CLIENT_LENGTH] if submitter.client else None,
            ))
        return CycleStarted(email_id, started.retries + 1)


__all__ = ["CycleStarted", "NotFailed", "RetryOutcome", "RetryStore"]
