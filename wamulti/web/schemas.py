"""The request models: what each route accepts, validated by pydantic and published as OpenAPI.

The field types wrap the service's own validators (fields/client_fields.py, fields/phone.py,
hearing/event_fields.py), so a bad value answers with the same one sentence naming the field as
before; pydantic adds the type and presence checks and the JSON Schema. Constraints given to
Field() are enforced as well, after our validator, so what the document promises is what the code
checks.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from ..clients.states import State
from ..errors import InvalidField
from ..fields.client_fields import CLIENT_ID_MAX, TEXT_MAX_CHARS, validate_client_id, validate_text
from ..fields.phone import normalize_phone, normalize_recipient
from ..hearing.event_fields import check_event_id, check_event_type, check_event_types, check_secret, check_url
from ..hearing.event_model import EventType
from ..seams.openapi3_internals import CachedSchema

INVALID_FIELD = "invalid_field"  # the pydantic error type that carries our own message
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
EVENT_ID_EXAMPLE = "evt_01JD7Q5R2W8X3M9K4T6V0B1N2C"
MAX_EVENTS_LIMIT = 1000


def checked(check, *, strings_only: bool = True):
    """A BeforeValidator running one of our validators; its InvalidField becomes a pydantic error.

    With strings_only, other types pass through untouched so pydantic's own type check names them.
    """
    def run(value):
        if strings_only and not isinstance(value, str):
            return value
        try:
            return check(value)
        except InvalidField as exc:
            # The message goes in the context: a template would treat '{' in it as a placeholder.
            raise PydanticCustomError(INVALID_FIELD, "{message}", {"message": exc.message}) from None
    return BeforeValidator(run)


# Constraints as StringConstraints ahead of the validator: pydantic leaves a Field(pattern=...) that
# follows a BeforeValidator out of the JSON Schema (while still enforcing it).
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=CLIENT_ID_MAX, pattern=CLIENT_ID_PATTERN),
                     checked(validate_client_id), Field(examples=["work-phone"],
    description="1-64 of A-Z a-z 0-9 _ . -, first a letter or digit; case-sensitive.")]
Phone = Annotated[str, checked(lambda v: normalize_phone(v, "phone")), Field(
    examples=["+49 151 2345678"], description="With country code; '+', spaces, dashes, dots and "
    "parentheses are stripped, leaving 7-15 digits not starting with 0.")]
Recipient = Annotated[str, checked(lambda v: normalize_recipient(v, "to")), Field(
    examples=["+49 151 2345678", "491512345678@s.whatsapp.net", "120363012345678901@g.us"],
    description="A phone number as for 'phone', a user JID '<digits>@s.whatsapp.net' or a group "
    "JID '<digits>@g.us'.")]
Text = Annotated[str, checked(lambda v: validate_text(v, "text")), Field(
    min_length=1, max_length=TEXT_MAX_CHARS, examples=["Hello from wamulti"],
    description="Not only whitespace; at most 65,536 characters; sent unchanged.")]
Url = Annotated[str, checked(check_url), Field(
    max_length=2048, examples=["https://example.com/hooks/whatsapp"], description="http:// or https:// with a host.")]
Secret = Annotated[str, checked(check_secret), Field(
    examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    description="'whsec_' + base64 of 24-64 random bytes; generated (and shown once) when absent.")]
EventId = Annotated[str, checked(lambda v: check_event_id(v, "after")), Field(
    examples=[EVENT_ID_EXAMPLE], description="An event id: 'evt_' + 26 Crockford base32 characters.")]


def _event_types(value):
    check_event_types(value)  # the view turns the checked list into a set with the same function
    return value


EventTypes = Annotated[list[Literal["*"] | EventType], checked(_event_types, strings_only=False),
                       Field(min_length=1, examples=[["message", "client.state"], ["*"]],
                             description="Event types to deliver; ['*'] (or absent) for all.")]


class Body(BaseModel):
    """A JSON object body; unknown members are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class OptionalBody(Body):
    """A body that may be left out entirely: no body is the same as {}."""

    @model_validator(mode="before")
    @classmethod
    def _absent_is_empty(cls, value):
        return {} if value is None else value


def body_doc(example: dict, required: bool = True, description: str | None = None) -> ConfigDict:
    """A body model's config: its example in the document, and whether the body may be left out."""
    extra = {"example": example, "required": required, **({"description": description} if description else {})}
    return ConfigDict(openapi_extra=extra)


class CreateClient(Body):
    model_config = body_doc({"clientId": "work-phone", "phone": "+49 151 2345678"})
    clientId: ClientId
    phone: Phone | None = Field(None, description="Pair with a code for this number; absent: the console asks.")


class PairClient(OptionalBody):
    model_config = body_doc({"phone": "+49 151 2345678"}, required=False)
    phone: Phone | None = None


def strict_bool(value):
    if not isinstance(value, bool):
        raise InvalidField("wait", "Field 'wait' must be true or false.")
    return value


IDEMPOTENCY_KEY_MAX = 255


def _idempotency_key(raw: str) -> str:
    """The Idempotency-Key header: a structured-field string (a bare token is taken as well)."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all(" " <= c <= "~" for c in key):
        raise InvalidField("Idempotency-Key", f"Header 'Idempotency-Key' must be 1-{IDEMPOTENCY_KEY_MAX} "
                                              "printable ASCII characters.")
    return key


class SendHeaders(CachedSchema):
    """The headers a send reads; others are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    idempotency_key: Annotated[str, checked(_idempotency_key)] | None = Field(
        None, alias="Idempotency-Key",
        description="E.g. 'order-4711-confirmation'. The same key with the same body within 24 h answers the first result and never sends twice.")
    prefer: str | None = Field(None, alias="Prefer", description="'respond-async' answers 202 at once (a body 'wait' wins).")

    def prefers_async(self) -> bool:
        tokens = {part.strip().split("=")[0].lower() for part in (self.prefer or "").split(",")}
        return "respond-async" in tokens


class PutWebhook(Body):
    model_config = body_doc({"url": "https://example.com/hooks/whatsapp", "events": ["message", "message.ack"]})
    url: Url
    events: EventTypes | None = None
    secret: Secret | None = None


class Replay(OptionalBody):
    model_config = body_doc({"after": EVENT_ID_EXAMPLE}, required=False)
    after: EventId | None = Field(None, description="Replay the events after this one; absent: all.")


def _one_example(schema: dict) -> None:
    # A parameter's `examples` is a map of Example objects in OpenAPI; its `example` takes a value.
    for prop in schema.get("properties", {}).values():
        if "examples" in prop:
            prop["example"] = prop.pop("examples")[0]


class Params(CachedSchema):
    """Path or query parameters."""

    model_config = ConfigDict(json_schema_extra=_one_example)


class ClientPath(Params):
    client_id: ClientId


class MessagePath(Params):
    message_id: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$", examples=["3EB0C431C26A1916E4C2AB"],
                            description="wamulti's messageId, as a send answered it.")


class EventPath(Params):
    # Not checked here: an id that is not one of ours answers 404 like an unknown one.
    event_id: str = Field(examples=[EVENT_ID_EXAMPLE])


def _qr_format(value):
    if value not in ("png", "text"):
        raise InvalidField("format", "Query parameter 'format' must be 'png' or 'text'.")
    return value


class QrQuery(Params):
    format: Annotated[Literal["png", "text"], checked(_qr_format)] = Field(
        "png", description="png: the QR code image; text: its raw string.")


def _limit(value):
    if isinstance(value, str) and not (value.isdigit() and 1 <= int(value) <= MAX_EVENTS_LIMIT):
        raise InvalidField("limit", f"Query parameter 'limit' must be a whole number from 1 to {MAX_EVENTS_LIMIT}.")
    return value


class EventsQuery(Params):
    clientId: ClientId | None = None
    type: Annotated[EventType, checked(lambda v: check_event_type(v, "type", "Query parameter 'type'"))] | None = \
        Field(None, description="Only events of this type.")
    after: Annotated[str, checked(lambda v: check_event_id(v, "after", "Query parameter 'after'"))] | None = \
        Field(None, examples=[EVENT_ID_EXAMPLE], description="Cursor: the `next` of the previous page.")
    limit: Annotated[int, checked(_limit), Field(ge=1, le=MAX_EVENTS_LIMIT)] = 100


CLIENT_CURSOR_PREFIX = "c1."  # a version, so that the form may change later without misreading old ones
BAD_CURSOR = "Query parameter 'cursor' must be the 'next' of an earlier page."


def client_cursor(client_id: str) -> str:
    """The opaque cursor of a client list page that ends with client_id (its `next`)."""
    return CLIENT_CURSOR_PREFIX + base64.urlsafe_b64encode(client_id.encode()).decode().rstrip("=")


def _client_after(value):
    """A cursor -> the client id its page ended with (validated like any client id)."""
    if not isinstance(value, str) or not value.startswith(CLIENT_CURSOR_PREFIX) or len(value) > 100:
        raise InvalidField("cursor", BAD_CURSOR)
    packed = value[len(CLIENT_CURSOR_PREFIX):]
    try:
        client_id = base64.b64decode(packed + "=" * (-len(packed) % 4), altchars=b"-_", validate=True).decode()
        validate_client_id(client_id)
    except (binascii.Error, ValueError, InvalidField):  # UnicodeDecodeError is a ValueError
        raise InvalidField("cursor", BAD_CURSOR) from None
    if client_cursor(client_id) != value:  # one spelling per cursor
        raise InvalidField("cursor", BAD_CURSOR)
    return client_id


def _state(value):
    if value not in State.__members__:
        raise InvalidField("state", "Query parameter 'state' must be one of " + ", ".join(State) + ".")
    return value


class ClientsQuery(Params):
    limit: Annotated[int, checked(_limit), Field(ge=1, le=MAX_EVENTS_LIMIT)] | None = Field(
        None, description="A page of at most this many clients, as {clients, next}; absent (and no cursor): "
        "every client, as an array.")
    cursor: Annotated[str, checked(_client_after)] | None = Field(
        None, examples=["c1.d29yay1waG9uZQ"], description="The `next` of the previous page (100 a page "
        "when `limit` is absent).")
    state: Annotated[State, checked(_state)] | None = Field(None, description="Only clients in this state.")


class MediaPath(Params):
    # Not checked beyond its form: an id that is not one of ours answers 404 like an unknown one.
    media_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["mabcdefghijklmnopqrstuvwxyz"],
                          description="The media's id, as an event's `media.id` carried it.")
