"""What routes depend on: the service's parts, held on the app, typed as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from micromailer.api.score_history import ScoreHistory
from micromailer.config import Settings
from micromailer.delivery.intake import Sender
from micromailer.health.strategy import Strategy
from micromailer.queue.publisher import DeliveryPublisher
from micromailer.store.repository import EmailStore


@dataclass
class Services:
    settings: Settings
    store: EmailStore
    publisher: DeliveryPublisher
    strategy: Strategy

    @property
    def sender(self) -> Sender:
        return Sender(self.settings.sender_email, self.settings.sender_name)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_score_history(request: Request) -> ScoreHistory:
    history: ScoreHistory = request.app.state.score_history
    return history


ServicesDep = Annotated[Services, Depends(get_services)]
ScoreHistoryDep = Annotated[ScoreHistory, Depends(get_score_history)]

__all__ = [
    "ScoreHistoryDep",
    "Services",
    "ServicesDep",
    "get_score_history",
    "get_services",
]
