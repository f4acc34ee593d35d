"""Hearing: what a client hears becomes events, stored in an outbox first, then delivered to signed
webhooks and read over the API.

The package never imports Flask, the clients or the send queue. `event_model` and `event_fields`
are pure (settings and the API use them); `heard_events` turns what a backend reports into events;
`event_service.EventService` builds the rest: the log that publishes (`event_log`), the webhook
directory and the delivery threads (`delivery`, `delivery_lanes`, `courier`, `webhook_post`, `retry`,
`watchdog`).
"""
