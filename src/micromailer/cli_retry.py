"""``micromailer retry ID``: a failed email's new delivery cycle, as ``POST /email/ID/retry``."""

from __future__ import annotations

import json
import sys

import click

from micromailer.cli_support import load_settings
from micromailer.logs import CONSOLE, configure_logging


@click.command()
@click.argument("email_id")
def retry(email_id: str) -> None:
    """Queue a failed email again, a new delivery cycle (as POST /email/ID/retry); print its id."""
    from micromailer.queue.celery_app import create_celery
    from micromailer.queue.publisher import DeliveryPublisher
    from micromailer.store.engine import make_engine
    from micromailer.store.retries import NotFailed, RetryStore

    settings = load_settings()
    configure_logging(settings.log_format or CONSOLE, "INFO")
    outcome = RetryStore(make_engine(settings.store_url)).start_cycle(
        email_id, None, every_project=True
    )
    if outcome is None:
        click.echo(json.dumps({"status": "notfound", "emailId": email_id}))
        sys.exit(1)
    if isinstance(outcome, NotFailed):
        raise click.ClickException(outcome.sentence)
    try:
        DeliveryPublisher(create_celery(settings)).publish(email_id)
    except Exception as exc:  # queued and due: the sweeper publishes it
        click.echo(f"warning: could not queue it now ({exc}); the sweeper will.", err=True)
    click.echo(email_id)


__all__ = ["retry"]
