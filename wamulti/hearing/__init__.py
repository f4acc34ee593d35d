"""Hearing: events stored in an outbox first, then delivered to signed webhooks and read over the API.

The package never imports Flask or the worker. `model` and `fields` are pure (settings and the API
use them); `service.EventService` builds the rest: the log that publishes, the webhook directory and
the delivery threads.
"""
