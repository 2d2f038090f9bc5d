"""The message a provider adapter sends: rendered, addressed, ready."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr

#: Bytes of headers and MIME structure counted for a message beyond its parts (an estimate
#: that errs on the large side: providers count the encoded message).
MIME_OVERHEAD_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: an address and, optionally, the name shown with it."""

    email: str
    name: str | None = None

    def formatted(self) -> str:
        """``"Jane Doe <jane@example.com>"`` (RFC 2047-encoded when the name is not ASCII), or
        the bare address without a name."""
        return formataddr((self.name, self.email)) if self.name else self.email

    def to_json(self) -> dict[str, str]:
        """``{"email", "name"?}``, as the API shows an address."""
        return {"email": self.email, "name": self.name} if self.name else {"email": self.email}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with the message; with a ``content_id`` it is an inline image that the HTML
    shows as ``cid:<content_id>``."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None

    @property
    def inline(self) -> bool:
        return self.content_id is not None

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def extension(self) -> str:
        """The filename's extension, lower case, without the dot (``""`` when none)."""
        stem, dot, extension = self.filename.rpartition(".")
        return extension.lower() if dot and stem else ""


@dataclass(frozen=True, slots=True)
class Message:
    """One email: its recipients, sender, subject, HTML and/or text, attachments and extras.

    ``html`` or ``text`` may be empty, never both. ``headers`` are extra mail headers from
    the safe list (``domain/message_fields.py``); ``tags`` and ``metadata`` go to providers
    that take them, and ``metadata`` always carries nothing secret.
    """

    email_id: str
    to: tuple[Address, ...]
    subject: str
    html: str
    text: str
    sender: Address
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    #: Sent with a test key: only the sandbox fakes may carry it.
    test: bool = False

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Everyone the message goes to: ``to``, then ``cc``, then ``bcc``."""
        return self.to + self.cc + self.bcc

    @property
    def files(self) -> tuple[Attachment, ...]:
        """The attachments that are not inline images."""
        return tuple(item for item in self.attachments if not item.inline)

    @property
    def inline_images(self) -> tuple[Attachment, ...]:
        return tuple(item for item in self.attachments if item.inline)

    def size_bytes(self) -> int:
        """The message's size as sent, estimated: parts in UTF-8, attachments in base64."""
        parts = len(self.html.encode()) + len(self.text.encode()) + len(self.subject.encode())
        encoded = sum(4 * ((item.size + 2) // 3) for item in self.attachments)
        return parts + encoded + MIME_OVERHEAD_BYTES


__all__ = ["MIME_OVERHEAD_BYTES", "Address", "Attachment", "Message"]
