"""The HTTP API: app factory, routes, schemas."""

from micromailer.api.app import create_app

__all__ = ["create_app"]
