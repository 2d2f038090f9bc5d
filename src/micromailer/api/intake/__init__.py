"""``POST /email``: the one way an email comes in over HTTP, whatever the body's encoding.

    headers ──▶ head.read_head          413 declared too long; 415 compressed or another type
    body    ──▶ body.read_body          413 too long; the client gone: no answer, one log line
            ──▶ Services.intake_checks  checks.py: rules plugged in before decoding (401, 429…)
            ──▶ json_fields/form_fields JSON, urlencoded or multipart → fields (400)
            ──▶ parse_email_request     domain/validation.py (400)
            ──▶ idempotency.py          with an Idempotency-Key: 400, the first answer, or 409
            ──▶ Services.intake.accept  render, group commit (the key's answer in it), publish
                                        (503) → 202

:class:`~micromailer.api.intake.front.EmailIntake` sits in front of FastAPI's middleware stack
(``api/app.py``) and answers every ``POST /email`` itself through ``answer.py``, since
FastAPI's per-request layers cost more CPU than the intake's own work. The route
``routes/emails.py: create_email`` only documents the operation for OpenAPI.
"""

from micromailer.api.intake.answer import IntakeRefused
from micromailer.api.intake.checks import IntakeCheck, IntakeRequest
from micromailer.api.intake.front import EmailIntake

__all__ = ["EmailIntake", "IntakeCheck", "IntakeRefused", "IntakeRequest"]
