"""What an email holds beyond one recipient and its body, as the store keeps it.

An email to one ``to`` recipient with nothing else stores no envelope at all (``None``): its
row's ``to_email`` and ``to_name`` say everything, and the common case costs nothing more.
Otherwise the envelope is one JSON document in the row: every recipient, reply-to, headers,
tags, metadata and the attachments' names and sizes. The attachments' bytes are stored once,
in their own table, and read only to send.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from micromailer.domain.message import Address, Attachment, Message


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """An attachment without its bytes: what the API shows."""

    filename: str
    content_type: str
    size: int
    content_id: str | None = None

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentInfo:
        return cls(attachment.filename, attachment.content_type, attachment.size,
                   attachment.content_id)

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "contentType": self.content_type,
                "size": self.size, "contentId": self.content_id}


@dataclass(frozen=True, slots=True)
class Envelope:
    """Every recipient and extra of an email."""

    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    attachments: tuple[AttachmentInfo, ...] = ()

    @classmethod
    def single(cls, to_email: str, to_name: str | None) -> Envelope:
        """The envelope of a row that stores none: one ``to`` recipient."""
        return cls((Address(to_email, to_name),))

    @property
    def plain(self) -> bool:
        """Nothing beyond one ``to`` recipient: stored as no envelope."""
        return self == Envelope(self.to[:1]) and len(self.to) == 1

    def to_json(self) -> str:
        return json.dumps({
            "to": [item.to_json() for item in self.to],
            "cc": [item.to_json() for item in self.cc],
            "bcc": [item.to_json() for item in self.bcc],
            "replyTo": [item.to_json() for item in self.reply_to],
            "headers": [list(pair) for pair in self.headers],
            "tags": list(self.tags),
            "metadata": [list(pair) for pair in self.metadata],
            "attachments": [item.to_json() for item in self.attachments],
        }, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        data = json.loads(text)
        return cls(
            to=_addresses(data["to"]),
            cc=_addresses(data.get("cc", ())),
            bcc=_addresses(data.get("bcc", ())),
            reply_to=_addresses(data.get("replyTo", ())),
            headers=tuple((name, value) for name, value in data.get("headers", ())),
            tags=tuple(data.get("tags", ())),
            metadata=tuple((key, value) for key, value in data.get("metadata", ())),
            attachments=tuple(
                AttachmentInfo(item["filename"], item["contentType"], item["size"],
                               item.get("contentId"))
                for item in data.get("attachments", ())
            ),
        )

    def message(
        self, *, email_id: str, subject: str, html: str, text: str, sender: Address,
        attachments: Sequence[Attachment] = (), test: bool = False,
    ) -> Message:
        """The message a provider sends: this envelope with its body and files."""
        return Message(
            email_id=email_id, to=self.to, subject=subject, html=html, text=text,
            sender=sender, cc=self.cc, bcc=self.bcc, reply_to=self.reply_to,
            attachments=tuple(attachments), headers=self.headers, tags=self.tags,
            metadata=self.metadata, test=test,
        )


def stored_envelope(envelope: Envelope) -> str | None:
    """The envelope column's value: ``None`` for a plain one."""
    return None if envelope.plain else envelope.to_json()


def _addresses(items: Sequence[dict[str, str]]) -> tuple[Address, ...]:
    return tuple(Address(item["email"], item.get("name")) for item in items)


__all__ = ["AttachmentInfo", "Envelope", "stored_envelope"]
