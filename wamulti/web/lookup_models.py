"""Request and answer models of a client's lookups and presence (routes/lookup_routes.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..clients.lookups import CHECK_MAX_NUMBERS
from ..fields.phone import normalize_recipient, phone_of_recipient, user_jid
from .schemas import Body, Params, body_doc, checked


def chat_jid(value, field: str = "chat") -> str:
    """A chat as every JID form an event carries (user, @lid, group), or a phone number as its user JID
    (no lookup: presence and pictures go to the JID as given)."""
    recipient = normalize_recipient(value, field)
    digits = phone_of_recipient(recipient)
    return recipient if digits is None else user_jid(digits)


Chat = Annotated[str, checked(chat_jid), Field(
    examples=["491512345678@s.whatsapp.net", "123456789012345@lid", "120363012345678901@g.us"],
    description="A user JID, a privacy id '<digits>@lid', a group JID '<id>@g.us', or a phone number "
    "(taken as '<digits>@s.whatsapp.net').")]


class SendPresence(Body):
    model_config = body_doc({"chat": "+49 151 2345678", "state": "composing"})
    chat: Chat | None = Field(None, description="With a chat: composing, recording or paused there; "
                              "without: available or unavailable for the account.")
    state: Literal["available", "unavailable", "composing", "recording", "paused"]


class CheckNumbers(Body):
    model_config = body_doc({"numbers": ["+49 151 2345678", "+55 11 93333-4444"]})
    numbers: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=CHECK_MAX_NUMBERS,
        description=f"1-{CHECK_MAX_NUMBERS} phone numbers with country code; an entry that is no phone number "
        "is answered with its error, the others are still checked.")


def _picture_jid(value):
    return chat_jid(value, "jid")


class PictureQuery(Params):
    jid: Annotated[str, checked(_picture_jid)] = Field(
        examples=["491512345678@s.whatsapp.net"], description="A user, @lid or group JID, or a phone number.")


class PresenceSent(BaseModel):
    clientId: str
    state: str = Field(examples=["composing"])
    chat: str | None = Field(examples=["491512345678@s.whatsapp.net"])


class NumberAnswer(BaseModel):
    input: str = Field(description="The entry as it was sent.")
    onWhatsApp: bool | None = Field(description="null: the entry is not a phone number (see error).")
    jid: str | None = Field(examples=["5511933334444@s.whatsapp.net"],
                            description="The JID to send to, as WhatsApp answered (may be another form of the number).")
    error: str | None = Field(None, description="Why the entry was not checked.")


class NumberChecks(BaseModel):
    clientId: str
    results: list[NumberAnswer] = Field(description="One per entry, in the order sent.")


class ContactOut(BaseModel):
    jid: str = Field(examples=["491512345678@s.whatsapp.net"])
    phone: str | None = Field(examples=["491512345678"])
    name: str | None = Field(description="The name saved in the phone's address book.")
    pushName: str | None = Field(description="The name the contact gave itself.")


class ContactList(BaseModel):
    clientId: str
    contacts: list[ContactOut] = Field(description="Sorted by jid.")


class PictureOut(BaseModel):
    clientId: str
    jid: str
    url: str = Field(description="WhatsApp's CDN URL of the picture; it expires after a while.")


class ProfileOut(BaseModel):
    clientId: str
    jid: str | None = Field(examples=["491512345678@s.whatsapp.net"])
    name: str | None = Field(description="The account's push name.")
    about: str | None = Field(description="The account's about (status) text.")
