"""The providers' event webhooks: each provider's authenticity check and its events in
micromailer's vocabulary (``domain/events.py``), one module per provider."""
