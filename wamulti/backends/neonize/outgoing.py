"""What the neonize backend sends, and how it asks whether a number is on WhatsApp (neonize 0.5.2).

- A text goes out as `Message(conversation=text)`, built here. Given a `str`, neonize's
  `send_message` would scan it for "@<digits>" (each becoming a mention) and "@<id>@g.us" (each a
  network group lookup), and wraps every text in an extendedTextMessage; given a Message it sends it
  as is.
- The JID string is turned into a JID proto with the server given, so a `@lid` or `@g.us` JID
  goes out unchanged.
- `client.is_on_whatsapp("+<digits>")` (whatsmeow wants the '+') answers one IsOnWhatsAppResponse
  per number WhatsApp knows: `IsIn` and the `JID` to use, which may be another form of the number
  (Brazil's 9th digit ...) or a privacy id `...@lid`. neonize 0.5.2 turns an empty answer into the
  error "Function returned nothing.": WhatsApp answered, but with no account for the number.
- neonize 0.5.2 cannot send with a chosen message id (its Go `SendMessage` passes no
  SendRequestExtra), so whatsmeow picks it and the SendResponse tells it.

Functions only: the session calls them under its locks; they raise the library's own errors.
"""

from __future__ import annotations

from datetime import datetime, timezone

# neonize's own words (Go goneonize IsOnWhatsApp) when WhatsApp's answer held no user for the number
EMPTY_ANSWER = "Function returned nothing."


def text_message(text: str):
    """The proto a plain text is sent as: `conversation` only, no context info, no mentions."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    return Message(conversation=text)


def jid_proto(jid: str):
    """'user@server' as neonize's JID proto (server kept: s.whatsapp.net, g.us, lid)."""
    from neonize.utils import build_jid

    user, _, server = jid.partition("@")
    return build_jid(user, server or "s.whatsapp.net")


def jid_string(jid) -> str:
    """A JID proto as 'user@server' (no device: a message goes to the account, not to one device)."""
    return f"{jid.User}@{jid.Server}"


def send_text(client, jid: str, text: str):
    """Send the text to the JID as given; returns (WhatsApp's message id, aware UTC timestamp)."""
    return send_proto(client, jid, text_message(text))


def send_proto(client, jid: str, message):
    """Send a Message proto to the JID as given; returns (WhatsApp's message id, aware UTC timestamp)."""
    resp = client.send_message(jid_proto(jid), message)
    ts = resp.Timestamp / 1000 if resp.Timestamp > 10**11 else resp.Timestamp  # ms or s, as Go encoded it
    when = datetime.fromtimestamp(ts, timezone.utc) if ts else datetime.now(timezone.utc)
    return resp.ID, when


def lookup_phone(client, digits: str, library_error: type[Exception]) -> str | None:
    """The JID WhatsApp has for the number, None if it has no account; other library errors pass."""
    query = f"+{digits}"
    try:
        answers = client.is_on_whatsapp(query)
    except library_error as exc:
        if str(exc).strip() == EMPTY_ANSWER:
            return None
        raise
    return jid_from_answers(answers, digits)


def jid_from_answers(answers, digits: str) -> str | None:
    """The answer for the number (by its Query; the only answer when one number was asked, even if
    WhatsApp wrote the query back in another form): its JID if WhatsApp has an account, else None."""
    answers = list(answers)
    mine = [a for a in answers if a.Query.lstrip("+") == digits] or (answers if len(answers) == 1 else [])
    if not mine or not mine[0].IsIn:
        return None
    jid = mine[0].JID
    return jid_string(jid) if jid.User else f"{digits}@s.whatsapp.net"
