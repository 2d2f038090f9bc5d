"""The queue: the Celery app, the deliver task and the sweeper."""
