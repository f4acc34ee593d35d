"""How a client's outbound queue behaves (SendOptions, from the server's settings) and the reasons its
rows fail with when they were never sent (expired) or may have been (outcome_unknown)."""

from __future__ import annotations

from dataclasses import dataclass

OUTCOME_UNKNOWN = "outcome_unknown"
EXPIRED = "expired"


@dataclass(frozen=True)
class SendOptions:
    """How a client's queue behaves (the server passes its settings; these are the settings' defaults,
    except the rate cap: 0 means none, which the worker tests use)."""

    wait: float = 10.0  # SEND_WAIT: how long a request waits for its send's outcome
    expiry: float = 3600.0  # SEND_EXPIRY: a row not sent by then fails with reason `expired`
    queue_max: int = 1000  # SEND_QUEUE_MAX: open rows per client
    rate_per_minute: int = 0  # SEND_RATE_PER_MINUTE: sends started per minute per client, 0 = no cap
    owner: str = ""  # this process's instance id (clients/instance_id.py), recorded in the rows it takes
    shared: bool = False  # CLUSTER=on: other instances accept rows for this queue too (see accept)


def send_options(settings, owner: str = "") -> SendOptions:
    """The queue's options from the server's settings."""
    return SendOptions(wait=settings.send_wait, expiry=settings.send_expiry, queue_max=settings.send_queue_max,
                       rate_per_minute=settings.send_rate_per_minute, owner=owner, shared=settings.cluster)
