"""The MIME message the SMTP adapter sends: headers, alternative bodies, related images, files.

Bcc recipients are never written into a header: they travel in the envelope only (``RCPT
TO``). Bodies are 7-bit clean (quoted-printable or base64), so no server needs 8BITMIME.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import formatdate

from micromailer.domain.message import Address, Attachment, Message

#: RFC 5322 with CRLF line ends, and bodies encoded to 7 bits.
POLICY = email.policy.SMTP.clone(cte_type="7bit")

#: The header that carries micromailer's email id to the server (and its webhooks).
EMAIL_ID_HEADER = "X-Micromailer-Email-Id"


def message_id(message: Message) -> str:
    """``<email_id@sender-domain>``: unique (the email id is), and known before sending."""
    domain = message.sender.email.rpartition("@")[2] or "micromailer"
    return f"<{message.email_id}@{domain}>"


def build_mime(message: Message) -> EmailMessage:
    """The whole message as it goes after ``DATA``; raises ``ValueError`` (or a subclass) for
    a header or address that cannot be written."""
    mime = EmailMessage(policy=POLICY)
    mime["From"] = _addresses((message.sender,))
    mime["To"] = _addresses(message.to)
    if message.cc:
        mime["Cc"] = _addresses(message.cc)
    if message.reply_to:
        mime["Reply-To"] = _addresses(message.reply_to)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = message_id(message)
    mime[EMAIL_ID_HEADER] = message.email_id
    for name, value in message.headers:
        mime[name] = value
    html_part = _bodies(mime, message)
    for image in message.inline_images:
        if html_part is not None:
            _add(html_part, image, related=True)
        else:  # nothing shows it inline: it still travels, with its content id
            _add(mime, image, related=False)
    for attachment in message.files:
        _add(mime, attachment, related=False)
    return mime


def _addresses(addresses: tuple[Address, ...]) -> tuple[HeaderAddress, ...]:
    return tuple(
        HeaderAddress(display_name=address.name or "", addr_spec=address.email)
        for address in addresses
    )


def _bodies(mime: EmailMessage, message: Message) -> EmailMessage | None:
    """Text and HTML as ``multipart/alternative`` (text first); the HTML part, if any."""
    if message.text and message.html:
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        _text_part, html_part = mime.iter_parts()
        assert isinstance(html_part, EmailMessage)
        return html_part
    if message.html:
        mime.set_content(message.html, subtype="html")
        return mime
    mime.set_content(message.text)
    return None


def _add(target: EmailMessage, attachment: Attachment, *, related: bool) -> None:
    maintype, _, subtype = attachment.content_type.partition("/")
    cid = f"<{attachment.content_id}>" if attachment.content_id is not None else None
    if related:
        target.add_related(
            attachment.content, maintype, subtype or "octet-stream", disposition="inline",
            filename=attachment.filename, cid=cid,
        )
    else:
        target.add_attachment(
            attachment.content, maintype, subtype or "octet-stream",
            disposition="inline" if attachment.inline else "attachment",
            filename=attachment.filename, cid=cid,
        )


__all__ = ["EMAIL_ID_HEADER", "POLICY", "build_mime", "message_id"]
