"""Which environment variables configure micromailer or its providers: no test inherits them."""

from __future__ import annotations

#: The suite's own settings (test servers' URLs, Chromium, the provider specs): kept.
TEST_PREFIX = "MICROMAILER_TEST_"
TEST_VARIABLES = frozenset({"MICROMAILER_PROVIDER_SPECS"})

#: Provider credentials and settings under the providers' own names (DESIGN.md's provider
#: table; SES through botocore's credential chain). Each may also come as ``<NAME>_FILE``.
PROVIDER_VARIABLES = frozenset({
    "SENDGRID_API_KEY",
    "MANDRILL_API_KEY",
    "MAILGUN_API_KEY", "MAILGUN_DOMAIN", "MAILGUN_REGION",
    "POSTMARK_SERVER_TOKEN",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "SPARKPOST_API_KEY", "SPARKPOST_REGION",
    "SPARKPOST_WEBHOOK_USERNAME", "SPARKPOST_WEBHOOK_PASSWORD", "SPARKPOST_WEBHOOK_TOKEN",
    "BREVO_API_KEY",
    "BREVO_WEBHOOK_USERNAME", "BREVO_WEBHOOK_PASSWORD", "BREVO_WEBHOOK_TOKEN",
    "RESEND_API_KEY",
    "RESEND_WEBHOOK_SECRET",
    # their event webhooks' secrets
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "MANDRILL_WEBHOOK_KEY", "MANDRILL_WEBHOOK_URL",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "POSTMARK_WEBHOOK_USERNAME", "POSTMARK_WEBHOOK_PASSWORD", "POSTMARK_WEBHOOK_TOKEN",
})


def configures_micromailer(name: str) -> bool:
    """True for a variable micromailer reads (``MICROMAILER_*``, a provider's credential or
    setting, any ``*_API_KEY``), each also as ``<NAME>_FILE``; false for the suite's own."""
    if name.startswith(TEST_PREFIX) or name in TEST_VARIABLES:
        return False
    base = name.removesuffix("_FILE")
    return (
        base.startswith("MICROMAILER_") or base in PROVIDER_VARIABLES or base.endswith("_API_KEY")
    )


__all__ = ["PROVIDER_VARIABLES", "TEST_PREFIX", "TEST_VARIABLES", "configures_micromailer"]
