"""Whether a message can be sent at all: the deployment's limits and its providers' abilities.

The intake asks before storing: a message over ``MICROMAILER_MAX_MESSAGE_BYTES`` or
``MICROMAILER_MAX_RECIPIENTS``, or one that no configured provider can carry (too many
recipients for each, an attachment type each refuses…), is refused with a sentence and never
stored. The dispatcher asks the same providers' capabilities again for each attempt
(``Dispatcher``), so that only providers able to carry it are tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from micromailer.domain.message import MIME_OVERHEAD_BYTES, Message
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
    #: The largest message to one recipient, without files, some provider takes.
    _single_limit: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        able = [capabilities.max_bytes for _, capabilities in self.providers
                if capabilities.max_recipients >= 1]
        limit = -1 if self.providers and not able else min(
            self.max_bytes, max(able, default=self.max_bytes))
        object.__setattr__(self, "_single_limit", limit)

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

    def fits_alone(self, parts_chars: int) -> bool:
        """Whether a message to one recipient, without attachments, whose subject and body
        hold ``parts_chars`` characters in all, is surely within every limit: the common case,
        decided without building the message (a character is at most 4 bytes in UTF-8)."""
        return 4 * parts_chars + MIME_OVERHEAD_BYTES <= self._single_limit

    def check(self, message: Message) -> None:
        """Raise :class:`MessageRefused` when ``message`` cannot be accepted."""
        refusal = self.refusal(message)
        if refusal is not None:
            raise MessageRefused(refusal)


__all__ = ["Carriage", "MessageRefused"]
