"""``POST /preview``: render Markdown exactly as ``POST /email`` would, without sending."""

from __future__ import annotations

from fastapi import APIRouter

from micromailer.api.deps import ServicesDep
from micromailer.api.responses import BODY_TOO_LARGE, error
from micromailer.api.schemas import PreviewIn, PreviewOut
from micromailer.domain.validation import MAX_CONTENT_BYTES

router = APIRouter(tags=["emails"])


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="Render Markdown content as the email would carry it",
    responses={
        **error(400, "The body is not a JSON object with a string `content` of at most "
                     f"{MAX_CONTENT_BYTES:,} characters."),
        **BODY_TOO_LARGE,
    },
)
async def create_preview(body: PreviewIn, services: ServicesDep) -> PreviewOut:
    """The HTML document and plain-text alternative of `content`, stored and sent nowhere.

    Raw HTML in the Markdown is escaped, as in a sent email. The web page shows the HTML in a
    sandboxed frame that runs no script.
    """
    rendered = await services.intake.render(body.content)
    return PreviewOut(html=rendered.html, text=rendered.text)


__all__ = ["router"]
