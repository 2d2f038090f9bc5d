"""Callbacks to the client: a project's URLs told of its emails' status changes, signed as
Standard Webhooks and retried for more than a day.

- ``events.py``: the event names a callback subscribes to.
- ``urls.py``: which URLs may be called (no server-side request forgery).
- ``schedule.py``: how far apart a delivery's tries are.
- ``tokens.py``: new signing secrets and webhook ids.
- ``sender.py``: one signed POST, to a checked address.
- ``deliverer.py``: one try of one delivery, from claim to record.
- ``metrics.py``: deliveries by outcome.

The outbox, which turns an email's event into deliveries in the caller's transaction, is
``store/callback_outbox.py``; the tables are ``callbacks`` and ``callback_deliveries``.
"""
