"""Amazon SNS messages to an HTTPS endpoint: the signature check, and the subscription's
confirmation (doc: sns/latest/dg/sns-verify-signature-of-message, http-notification-json).

A message is trusted once, in this order: its fields are all there; its topic is allowed; its
``SigningCertURL`` is an ``https://sns.<region>.amazonaws.com[.cn]/….pem`` URL (checked before
anything is fetched); its ``Timestamp`` is at most an hour old; and its ``Signature`` verifies,
SHA1withRSA (``SignatureVersion`` 1) or SHA256withRSA (2), over the canonical string of its
fields with the key of that certificate, which is fetched once per URL and kept.

Any AWS account can publish to its own topic and SNS signs what it publishes: the signature
proves SNS sent the message, the topic says whose it is. So a subscription is confirmed
automatically only for a topic the settings allow; without that setting, notifications from
any topic are taken (SNS delivers only to a confirmed subscription), and the operator confirms
the subscription in the SNS console.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from micromailer.webhooks.base import REPLAY_WINDOW_SECONDS, Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import instant, load_json

log = logging.getLogger(__name__)

#: The host a ``SigningCertURL`` or ``SubscribeURL`` must have (AWS's SDK validators' pattern).
AWS_HOST = re.compile(r"sns\.[a-z0-9-]{3,}\.amazonaws\.com(?:\.cn)?")
#: How old a message's ``Timestamp`` may be: SNS keeps it on every retry of a delivery, and
#: its HTTP delivery policies retry for up to an hour.
MAX_AGE = timedelta(hours=1)
#: Signature version → the hash it signs with.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
#: Message type → the fields its canonical string holds, in order (``Subject`` only if
#: present).
CANONICAL_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}
_SIGNED_FIELDS = ("Signature", "SignatureVersion", "SigningCertURL")
#: Certificates kept in memory, by URL (SNS signs with a handful).
MAX_CERTIFICATES = 32
#: Largest certificate fetched, in bytes (SNS's are about 2 KB), and the fetch's timeout.
MAX_CERTIFICATE_BYTES = 64 * 1024
FETCH_TIMEOUT = 5.0

#: ``fetch(url)`` → the PEM certificate at ``url``; raises :class:`Unverified` when it cannot.
CertificateFetcher = Callable[[str], bytes]
#: ``confirm(url)`` GETs a subscription's ``SubscribeURL``; raises :class:`Malformed` when it
#: cannot.
Confirmer = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """A verified SNS message: its type, its id (the same on every retry) and its fields."""

    type: str
    message_id: str
    topic_arn: str
    timestamp: datetime
    fields: Mapping[str, str]

    @property
    def message(self) -> str:
        return self.fields["Message"]


def aws_url(url: str, *, pem: bool = False) -> str | None:
    """``url`` rebuilt from its parts when it is ``https://sns.<region>.amazonaws.com[.cn]/…``
    with no login, no other port and nothing a parser could read two ways; ``None`` else.
    ``pem``: the path must also end in ``.pem`` (a signing certificate)."""
    if not url.isprintable() or any(char in url for char in " \\") or len(url) > 2048:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme != "https" or not AWS_HOST.fullmatch(host) or parts.username is not None
            or port not in (None, 443) or parts.fragment):
        return None
    if pem and not parts.path.endswith(".pem"):
        return None
    return urlunsplit(("https", host, parts.path or "/", parts.query, ""))


def canonical_string(fields: Mapping[str, str]) -> bytes:
    """The bytes SNS signs: ``name\\nvalue\\n`` for each of the type's fields, in order."""
    names = CANONICAL_FIELDS[fields["Type"]]
    return "".join(
        f"{name}\n{fields[name]}\n" for name in names if name != "Subject" or name in fields
    ).encode()


class SnsReceiver:
    """Verifies SNS messages to one endpoint and answers its subscription confirmations."""

    def __init__(
        self, *, fetch: CertificateFetcher, confirm: Confirmer,
        topics: frozenset[str] = frozenset(), refused_certificates: frozenset[str] = frozenset(),
    ) -> None:
        #: Allowed ``TopicArn`` s; empty: every topic, and no automatic confirmation.
        self._topics = topics
        self._fetch = fetch
        self._confirm = confirm
        #: Certificate URLs refused without fetching them (the sandbox's, for the real scheme).
        self._refused = refused_certificates
        self._keys: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def receive(self, request: WebhookRequest, now: datetime) -> SnsMessage | None:
        """The verified Notification; ``None`` for a confirmation, which is answered here."""
        message = self.verify(request, now)
        if message.type == "SubscriptionConfirmation":
            self._confirm_subscription(message)
            return None
        if message.type == "UnsubscribeConfirmation":
            log.info("SNS unsubscribed this endpoint from topic %s", message.topic_arn)
            return None
        return message

    def verify(self, request: WebhookRequest, now: datetime) -> SnsMessage:
        """The request's SNS message once every check passes; :class:`Unverified` else."""
        try:
            body = load_json(request.body)
        except Malformed:
            raise Unverified("the body is not an SNS message (JSON)") from None
        fields = _fields(body)
        header_type = request.headers.get("x-amz-sns-message-type")
        if header_type is not None and header_type != fields["Type"]:
            raise Unverified("x-amz-sns-message-type differs from the message's Type")
        if self._topics and fields["TopicArn"] not in self._topics:
            raise Unverified(f"topic {fields['TopicArn']} is not the one configured")
        cert_url = aws_url(fields["SigningCertURL"], pem=True)
        if cert_url is None:
            raise Unverified("SigningCertURL is not an https://sns.<region>.amazonaws.com "
                             "certificate")
        timestamp = instant(fields["Timestamp"])
        if timestamp is None:
            raise Unverified("the message's Timestamp is not a time")
        if now - timestamp > MAX_AGE:
            raise Unverified("the message's Timestamp is more than an hour old (a replay)")
        if timestamp - now > timedelta(seconds=REPLAY_WINDOW_SECONDS):
            raise Unverified("the message's Timestamp is in the future")
        algorithm = HASHES.get(fields["SignatureVersion"])
        if algorithm is None:
            raise Unverified(f"unknown SignatureVersion {fields['SignatureVersion']!r}")
        try:
            signature = base64.b64decode(fields["Signature"], validate=True)
        except binascii.Error:
            raise Unverified("the Signature is not base64") from None
        key = self._public_key(cert_url, now)
        try:
            key.verify(signature, canonical_string(fields), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Unverified("the SNS signature does not verify") from None
        return SnsMessage(fields["Type"], fields["MessageId"], fields["TopicArn"], timestamp,
                          fields)

    def _public_key(self, url: str, now: datetime) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at ``url``: kept, else fetched and kept."""
        if url in self._refused:
            raise Unverified("the message is signed with the sandbox's certificate")
        with self._lock:
            certificate = self._keys.get(url)
        if certificate is None:
            try:
                certificate = x509.load_pem_x509_certificate(self._fetch(url))
            except ValueError:
                raise Unverified("the signing certificate is not a PEM certificate") from None
            with self._lock:
                self._keys[url] = certificate
                while len(self._keys) > MAX_CERTIFICATES:
                    self._keys.popitem(last=False)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise Unverified("the signing certificate is not valid now")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unverified("the signing certificate's key is not RSA")
        return key

    def _confirm_subscription(self, message: SnsMessage) -> None:
        url = aws_url(message.fields["SubscribeURL"])
        if url is None:
            raise Unverified("SubscribeURL is not an https://sns.<region>.amazonaws.com URL")
        if not self._topics:
            log.warning(
                "SNS asks to subscribe this endpoint to topic %s: confirm it in the SNS console, "
                "or set MICROMAILER_SES_SNS_TOPIC_ARN to it to confirm it automatically",
                message.topic_arn,
            )
            return
        self._confirm(url)
        log.info("SNS subscription to topic %s confirmed", message.topic_arn)


def _fields(body: Any) -> dict[str, str]:
    """The message's string fields, once every field its type signs is there."""
    if not isinstance(body, dict):
        raise Unverified("the body is not an SNS message (a JSON object)")
    kind = body.get("Type")
    if kind not in CANONICAL_FIELDS:
        raise Unverified(f"unknown SNS message Type {kind!r}")
    names = [name for name in CANONICAL_FIELDS[kind] if name != "Subject"] + list(_SIGNED_FIELDS)
    missing = [name for name in names if not isinstance(body.get(name), str)]
    if missing:
        raise Unverified(f"the SNS message lacks {', '.join(missing)}")
    # A Subject that is not text (``null``) is absent, as it is from what SNS signed.
    return {name: value for name, value in body.items() if isinstance(value, str)}


def fetch_certificate(url: str) -> bytes:
    """GET a signing certificate from AWS: short timeout, no redirects, size bounded."""
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=False) as response:
            if response.status_code != 200:
                raise Unverified(f"the signing certificate's URL answered {response.status_code}")
            content = bytearray()
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) > MAX_CERTIFICATE_BYTES:
                    raise Unverified("the signing certificate is too large")
            return bytes(content)
    except httpx.HTTPError as exc:
        raise Unverified(f"the signing certificate could not be fetched ({type(exc).__name__})"
                         ) from None


def confirm_subscription(url: str) -> None:
    """GET a ``SubscribeURL``, which confirms the subscription."""
    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT * 2, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise Malformed(f"the SNS subscription could not be confirmed ({type(exc).__name__}); "
                        "confirm it in the SNS console") from None
    if response.status_code != 200:
        raise Malformed(f"the SNS subscription could not be confirmed (SubscribeURL answered "
                        f"{response.status_code}); confirm it in the SNS console")


__all__ = [
    "AWS_HOST",
    "CANONICAL_FIELDS",
    "HASHES",
    "MAX_AGE",
    "CertificateFetcher",
    "Confirmer",
    "SnsMessage",
    "SnsReceiver",
    "aws_url",
    "canonical_string",
    "confirm_subscription",
    "fetch_certificate",
]
