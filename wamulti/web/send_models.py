"""The request model of POST /api/messages/send: a text, a file, a location or a contact, maybe a reply.

Exactly one of text, media, location, contact; a bad combination is a 400 `invalid_request` naming
the field, before anything is queued. `to_request` turns the validated model into the send path's
SendRequest (sending/payloads.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from ..fields.message_parts import (CAPTION_MAX_CHARS, check_coordinate, check_display_name, check_place_text,
                                    check_vcard, sanitize_file_name, vcard_for_phone)
from ..fields.client_fields import validate_text
from ..fields.phone import normalize_phone
from ..hearing.event_fields import check_url
from ..sending.payloads import ContactChoice, LocationChoice, MediaChoice, SendRequest
from .schemas import INVALID_FIELD, Body, ClientId, Recipient, Text, body_doc, checked, strict_bool

ONE_OF = ("text", "media", "location", "contact")
NO_CAPTION = ("voice", "audio", "sticker")  # WhatsApp's messages of these kinds carry no caption
MEDIA_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9]{1,128}$"


def refuse(field: str, message: str) -> PydanticCustomError:
    """A model-level error that names its field, answered as our 400 (web/validation.py)."""
    return PydanticCustomError(INVALID_FIELD, "{message}", {"message": message, "field": field})


class Part(BaseModel):
    model_config = {"extra": "ignore"}


class MediaIn(Part):
    id: str | None = Field(None, pattern=MEDIA_ID_PATTERN, examples=["m3x7k2q9v4b8n1c6z5h0j2w4r8t"],
                           description="A stored file's mediaId (POST /api/media); it must be the client's own.")
    url: Annotated[str, checked(lambda v: check_url(v, "media.url"))] | None = Field(
        None, max_length=2048, examples=["https://example.com/files/invoice.pdf"],
        description="Fetched once when the send is accepted (destination policy, MEDIA_MAX_MB, a timeout).")
    kind: Literal["image", "video", "audio", "voice", "document", "sticker"] = Field(
        description="voice: converted to an OGG/Opus voice note; sticker: to a 512x512 WebP.")
    caption: Annotated[str, checked(lambda v: validate_text(v, "media.caption", CAPTION_MAX_CHARS))] | None = \
        Field(None, max_length=CAPTION_MAX_CHARS, description="image, video and document only.")
    fileName: Annotated[str, checked(sanitize_file_name)] | None = Field(
        None, max_length=255, examples=["invoice-4711.pdf"], description="The name a document is shown with.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.id is None) == (self.url is None):
            raise refuse("media", "Field 'media' must have exactly one of 'id' or 'url'.")
        if self.caption is not None and self.kind in NO_CAPTION:
            raise refuse("media.caption", f"Field 'media.caption' is not allowed for a {self.kind}.")
        return self


class LocationIn(Part):
    lat: Annotated[float, checked(lambda v: check_coordinate(v, "location.lat", 90), strings_only=False)] = \
        Field(ge=-90, le=90, examples=[52.5163])
    lng: Annotated[float, checked(lambda v: check_coordinate(v, "location.lng", 180), strings_only=False)] = \
        Field(ge=-180, le=180, examples=[13.3777])
    name: Annotated[str, checked(lambda v: check_place_text(v, "location.name"))] | None = Field(
        None, max_length=1024, examples=["Brandenburger Tor"])
    address: Annotated[str, checked(lambda v: check_place_text(v, "location.address"))] | None = Field(
        None, max_length=1024, examples=["Pariser Platz, 10117 Berlin"])


class ContactIn(Part):
    displayName: Annotated[str, checked(check_display_name)] = Field(max_length=256, examples=["Ada Lovelace"])
    vcard: Annotated[str, checked(check_vcard)] | None = Field(
        None, max_length=16384, description="A vCard (BEGIN:VCARD ... END:VCARD, at most 16 KiB).")
    phone: Annotated[str, checked(lambda v: normalize_phone(v, "contact.phone"))] | None = Field(
        None, examples=["+49 151 2345678"], description="Instead of 'vcard': a vCard 3.0 is made for this number.")

    @model_validator(mode="after")
    def _one_card(self):
        if (self.vcard is None) == (self.phone is None):
            raise refuse("contact", "Field 'contact' must have exactly one of 'vcard' or 'phone'.")
        return self

    def card(self) -> str:
        return self.vcard if self.vcard is not None else vcard_for_phone(self.displayName, self.phone)


class SendMessage(Body):
    model_config = body_doc({"clientId": "work-phone", "to": "+49 151 2345678", "text": "Hello"},
                            description="Exactly one of text, media, location, contact; any may reply to a message.")
    clientId: ClientId
    to: Recipient
    text: Text | None = None
    media: MediaIn | None = None
    location: LocationIn | None = None
    contact: ContactIn | None = None
    replyTo: str | None = Field(None, pattern=MESSAGE_ID_PATTERN, examples=["3EB0C431C26A1916E4C2AB"],
                                description="The message this one replies to: wamulti's messageId or WhatsApp's id.")
    wait: Annotated[bool, checked(strict_bool, strings_only=False)] | None = Field(
        None, description="false: answer 202 at once; absent: wait up to SEND_WAIT (unless Prefer: respond-async).")

    @model_validator(mode="before")
    @classmethod
    def _caption_inside_media(cls, value):
        for loose in ("caption", "fileName"):
            if isinstance(value, dict) and loose in value:
                raise refuse(loose, f"Field '{loose}' goes inside 'media' (only a file has one).")
        return value

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [name for name in ONE_OF if getattr(self, name) is not None]
        if len(given) != 1:
            raise refuse("text", "Exactly one of 'text', 'media', 'location' or 'contact' is required"
                                 + (f" (got {', '.join(given)})." if given else "."))
        return self

    def to_request(self) -> SendRequest:
        media, place, contact = self.media, self.location, self.contact
        return SendRequest(
            to=self.to, text=self.text, reply_to=self.replyTo,
            media=media and MediaChoice(media.kind, media.id, media.url, media.caption, media.fileName),
            location=place and LocationChoice(place.lat, place.lng, place.name, place.address),
            contact=contact and ContactChoice(contact.displayName, contact.card()))

