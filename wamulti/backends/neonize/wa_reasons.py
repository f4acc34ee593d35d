"""neonize's connection-trouble events (protobufs) as backend events, with WhatsApp's reasons kept.

What neonize 0.5.2 carries (neonize/proto/Neonize_pb2.pyi, goneonize/utils/encoder.go):
- LoggedOutEv: `OnConnect` (bool), `Reason`: neonize's own ConnectFailureReason enum (1..10), not
  WhatsApp's number; codes the Go encoder does not know arrive unset.
- ConnectFailureEv: the same `Reason` enum, `Message`, and `Raw`, the <failure> node, whose
  `reason` attribute holds WhatsApp's exact number (used first).
- TemporaryBanEv: `Code` (TempBanReason enum 1..5) and `Expire` (whole seconds from now; 0 unknown).
- KeepAliveTimeoutEv: `ErrorCount` and `LastSuccess` (unix seconds).
Only attributes are read here, so this module needs no neonize import (backends/neonize/neonize_backend.py registers).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .. import backend_api as bk
from .. import reasons

# neonize's ConnectFailureReason enum -> whatsmeow's (WhatsApp's) number
FAILURE_CODES = {1: 400, 2: 401, 3: 402, 4: 403, 5: 406, 6: 405, 7: 409, 8: 500, 9: 501, 10: 503}
# neonize's TemporaryBan.TempBanReason enum -> whatsmeow's TempBanReason number
BAN_CODES = {1: 101, 2: 102, 3: 103, 4: 104, 5: 106}

BAN_UNKNOWN_EXPIRY = 3600.0  # seconds to wait when WhatsApp gave no expiry
KEEPALIVE_MAX_FAIL = 180.0  # whatsmeow's KeepAliveMaxFailTime: past it, whatsmeow drops the socket itself


def _enum(ev, field: str, table: dict[int, int]) -> int | None:
    return table.get(getattr(ev, field)) if ev.HasField(field) else None


def _raw_reason(ev) -> int | None:
    """WhatsApp's number from the <failure reason="..."> attribute, when the node came along."""
    if not ev.HasField("Raw"):
        return None
    for attr in ev.Raw.Attrs:
        if attr.name == "reason":
            value = attr.integer if attr.WhichOneof("Value") == "integer" else attr.text
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def logged_out(ev) -> bk.LoggedOut:
    """LoggedOutEv: `logged_out: 401 unlinked from the phone` (403 account locked, 406 banned, ...)."""
    return bk.LoggedOut(reasons.logged_out(_enum(ev, "Reason", FAILURE_CODES)))


def connect_failure(ev) -> bk.Event:
    """ConnectFailureEv: 5xx means try again later (RetryLater); anything else closes the client."""
    code = _raw_reason(ev) or _enum(ev, "Reason", FAILURE_CODES)
    reason = reasons.connect_failure(code, ev.Message)
    return bk.RetryLater(reason) if reasons.is_retryable(code) else bk.Terminated(reason)


def temporary_ban(ev, now: datetime | None = None) -> bk.TemporaryBan:
    """TemporaryBanEv: the reason and the moment it expires (an hour from now if WhatsApp gave none)."""
    now = now or datetime.now(timezone.utc)
    seconds = ev.Expire if ev.Expire > 0 else BAN_UNKNOWN_EXPIRY
    until = now + timedelta(seconds=seconds)
    reason = reasons.temporary_ban(_enum(ev, "Code", BAN_CODES), until)
    return bk.TemporaryBan(reason, reasons.retry_at_of(reason) or until)


def keepalive_timeout(ev, now: datetime | None = None) -> bk.Event:
    """KeepAliveTimeoutEv: a missed ping keeps the client as it is, until whatsmeow's own limit.

    Past KEEPALIVE_MAX_FAIL since the last answered ping whatsmeow drops the socket and reconnects
    by itself WITHOUT a Disconnected event (an expected disconnect), so this is where we learn it.
    """
    now = now or datetime.now(timezone.utc)
    if ev.LastSuccess > 0 and now.timestamp() - ev.LastSuccess > KEEPALIVE_MAX_FAIL:
        return bk.Disconnected("keepalive_timeout")
    return bk.KeepAliveMissed(max(1, ev.ErrorCount))
