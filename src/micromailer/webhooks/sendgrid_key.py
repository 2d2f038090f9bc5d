"""SendGrid's event webhook verification key, read from the text SendGrid shows (base64 DER,
SubjectPublicKeyInfo) or from a PEM block. Settings check it with this at start-up."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

_HINT = (
    "copy the verification key again from SendGrid (Settings, Mail Settings, Signed Event "
    "Webhook): base64 text starting with MFkw, or a PEM block"
)


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key in ``text``; ``ValueError`` with a sentence when it is not one."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, UnicodeEncodeError, binascii.Error, TypeError):
        raise ValueError(f"not a public key: {_HINT}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"not an ECDSA P-256 public key, which SendGrid signs with: {_HINT}")
    return key


__all__ = ["load_public_key"]
