"""Checking an AWS Signature Version 4 as AWS does, with botocore's own signer (SES's fake)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

#: How far ``X-Amz-Date`` may be from the server's clock (AWS allows 15 minutes).
MAX_SKEW = timedelta(minutes=15)

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*"
)


@dataclass(frozen=True, slots=True)
class SignatureProblem:
    """Why a request's signature is refused: AWS's error type and message."""

    error_type: str
    message: str


MISSING = SignatureProblem("MissingAuthenticationTokenException", "Missing Authentication Token")
UNKNOWN_KEY = SignatureProblem(
    "UnrecognizedClientException", "The security token included in the request is invalid."
)
MISMATCH = SignatureProblem(
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.",
)


def signature_problem(
    *, method: str, url: str, headers: Mapping[str, str], body: bytes, service: str,
    secrets: Mapping[str, str], now: datetime,
) -> SignatureProblem | None:
    """``None`` when ``Authorization`` holds a valid SigV4 signature of this request for
    ``service`` by one of ``secrets`` (access key id → secret); else what AWS answers.

    The request is rebuilt from its signed headers only and signed again with botocore's
    :class:`SigV4Auth` at its own ``X-Amz-Date``; the two signatures must be equal."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization")
    if not authorization:
        return MISSING
    match = _AUTHORIZATION.fullmatch(authorization)
    if match is None:
        return SignatureProblem(
            "IncompleteSignatureException", f"Authorization header requires 'Credential', "
            f"'Signature' and 'SignedHeaders' parameters: {authorization.split(' ')[0]}"
        )
    access_key, _, scope = match["credential"].partition("/")
    day, region, scope_service, terminator = [*scope.split("/"), "", "", "", ""][:4]
    secret = secrets.get(access_key)
    if secret is None:
        return UNKNOWN_KEY
    amz_date = lowered.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return SignatureProblem("IncompleteSignatureException", "Missing or invalid X-Amz-Date")
    if scope_service != service or terminator != "aws4_request" or day != amz_date[:8]:
        return SignatureProblem(
            "InvalidSignatureException", f"Credential should be scoped to correct service: "
            f"'{service}'."
        )
    if abs(now - signed_at) > MAX_SKEW:
        return SignatureProblem(
            "InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(SIGV4_TIMESTAMP)}"
        )
    signed_names = match["signed"].split(";")
    if "host" not in signed_names or any(name not in lowered for name in signed_names):
        return MISMATCH
    rebuilt = AWSRequest(
        method=method, url=url, data=body,
        headers={name: lowered[name] for name in signed_names},
    )
    rebuilt.context["timestamp"] = amz_date
    signer = SigV4Auth(ReadOnlyCredentials(access_key, secret, None), service, region)
    expected = signer.signature(
        signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt
    )
    if not hmac.compare_digest(expected, match["signature"]):
        return MISMATCH
    return None


__all__ = ["MAX_SKEW", "MISMATCH", "MISSING", "UNKNOWN_KEY", "SignatureProblem",
           "signature_problem"]
