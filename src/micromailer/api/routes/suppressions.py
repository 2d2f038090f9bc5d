"""``GET/POST/DELETE /suppressions``: the addresses a project no longer sends to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, field_validator

from micromailer.api.deps import PrincipalDep, ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.request_schema import ADDRESS_PATTERN
from micromailer.api.responses import STORE_UNAVAILABLE, error
from micromailer.api.schemas import CamelModel
from micromailer.domain.addresses import normalized_address
from micromailer.domain.validation import MAX_TO_LENGTH
from micromailer.security.principal import Principal
from micromailer.store.suppressions import Suppression

router = APIRouter(tags=["suppressions"])

#: Most addresses one ``POST /suppressions`` adds.
MAX_ADDED = 1000


class SuppressionOut(CamelModel):
    address: str
    #: ``bounced`` or ``complained`` (an event put it there) or ``manual``.
    reason: str
    detail: str | None
    #: The email whose event put it there.
    email_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, item: Suppression) -> SuppressionOut:
        return cls(address=item.address, reason=item.reason, detail=item.detail,
                   email_id=item.email_id, created_at=item.created_at)


class SuppressionsIn(CamelModel):
    addresses: Annotated[list[str], Field(min_length=1, max_length=MAX_ADDED)] = Field(
        description=f"The addresses to stop sending to, 1 to {MAX_ADDED}.",
        json_schema_extra={"items": {"type": "string", "format": "email",
                                     "maxLength": MAX_TO_LENGTH, "pattern": ADDRESS_PATTERN}})
    detail: str | None = Field(default=None, max_length=500,
                               description="Why, for whoever reads the list later.")

    @field_validator("addresses", mode="after")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [normalized_address("addresses", item.strip()).lower() for item in value]


class SuppressionsAdded(CamelModel):
    #: How many were not on the list before.
    added: int


def _list_of(principal: Principal) -> str:
    """The list a caller acts on: its key's project's (one list for all when auth is off)."""
    return principal.project or ""


@router.get(
    "/suppressions",
    response_model=list[SuppressionOut],
    summary="The project's suppressed addresses",
    responses={**error(400, "`limit` is not an integer from 1 to 1000."), **STORE_UNAVAILABLE},
)
async def list_suppressions(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: int = Query(100, ge=1, le=1000, description="How many, 1 to 1000."),
    after: str | None = Query(None, max_length=320,
                              description="Continue after this address (the last one seen)."),
) -> list[SuppressionOut]:
    """In address order; page with `after`."""
    items = await run_in_threadpool(
        lambda: services.suppressions.list(_list_of(principal), limit=limit, after=after))
    return [SuppressionOut.of(item) for item in items]


@router.post(
    "/suppressions",
    response_model=SuppressionsAdded,
    status_code=201,
    summary="Stop sending to addresses",
    responses={**error(400, "An address is not valid, or there are none or too many."),
               **STORE_UNAVAILABLE},
)
async def add_suppressions(
    body: SuppressionsIn, services: ServicesDep, principal: PrincipalDep
) -> SuppressionsAdded:
    """Later emails to them are refused (400) unless the request sets
    `ignore_suppressions`."""
    added = await run_in_threadpool(
        lambda: services.suppressions.add(_list_of(principal), body.addresses,
                                          detail=body.detail))
    return SuppressionsAdded(added=added)


@router.get(
    "/suppressions/{address}",
    response_model=SuppressionOut,
    summary="Whether an address is suppressed, and why",
    responses={**error(404, "The address is not on the list."), **STORE_UNAVAILABLE},
)
async def read_suppression(
    services: ServicesDep, principal: PrincipalDep,
    address: str = Path(max_length=320, description="The address."),
) -> SuppressionOut:
    item = await run_in_threadpool(services.suppressions.get, _list_of(principal), address)
    if item is None:
        raise ApiError(404, f"{address} is not on this project's suppression list.")
    return SuppressionOut.of(item)


@router.delete(
    "/suppressions/{address}",
    status_code=204,
    summary="Send to an address again",
    responses={**error(404, "The address is not on the list."), **STORE_UNAVAILABLE},
)
async def remove_suppression(
    services: ServicesDep, principal: PrincipalDep,
    address: str = Path(max_length=320, description="The address."),
) -> Response:
    removed = await run_in_threadpool(services.suppressions.remove, _list_of(principal),
                                      address)
    if not removed:
        raise ApiError(404, f"{address} is not on this project's suppression list.")
    return Response(status_code=204)


__all__ = ["router"]
