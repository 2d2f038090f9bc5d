"""Whether a message can be sent at all: the deployment's limits and its providers' abilities.

The intake asks before storing: a message over ``MICROMAILER_MAX_MESSAGE_BYTES`` or
``MICROMAILER_MAX_RECIPIENTS``, or one that no configured provider can carry (too many
recipients for each, an attachment type each refuses…), is refused with a sentence and never
stored. The dispatcher asks the same providers' capabilities again for each attempt
(``Dispatcher``), so that only providers able to carry it are tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from micromailer.domain.message import Message
from micromailer.providers.capabilities import MIB, Capabilities, carriers, nobody_can_carry


class MessageRefused(Exception):
    """The message cannot be accepted; ``str(error)`` is the sentence saying why."""


@dataclass(frozen=True, slots=True)
class Carriage:
    """The limits a message must meet to be accepted."""

    max_bytes: int
    max_recipients: int
    #: The configured providers, most preferred first, with what each can carry.
    providers: Sequence[tuple[str, Capabilities]] = ()

    def refusal(self, message: Message) -> str | None:
        """Why ``message`` cannot be accepted, as one sentence; ``None`` when it can."""
        count = len(message.recipients)
        if count > self.max_recipients:
            return (
                f"The message has {count:,} recipients (to, cc and bcc together); at most "
                f"{self.max_recipients:,} are allowed (MICROMAILER_MAX_RECIPIENTS). Send it "
                "as several messages."
            )
        size = message.size_bytes()
        if size > self.max_bytes:
            return (
                f"The message is about {size / MIB:.1f} MiB with its attachments encoded; at "
                f"most {self.max_bytes / MIB:.1f} MiB is allowed "
                "(MICROMAILER_MAX_MESSAGE_BYTES). Send smaller or fewer attachments."
            )
        if not self.providers:
            return None
        able, reasons = carriers(message, self.providers)
        return None if able else nobody_can_carry(reasons)

    def check(self, message: Message) -> None:
        """Raise :class:`MessageRefused` when ``message`` cannot be accepted."""
        refusal = self.refusal(message)
        if refusal is not None:
            raise MessageRefused(refusal)


__all__ = ["Carriage", "MessageRefused"]
