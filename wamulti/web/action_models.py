"""The request models of POST /api/messages/react|edit|revoke|read: a message action on a chat.

`messageId` is wamulti's id of a send of this client, or WhatsApp's id of any message (as a
`message` event's `id`); `chat` the chat it is in (a JID or a phone number). `to_request` makes the
queue's ActionRequest (sending/action_payloads.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from ..errors import InvalidField
from ..fields.client_fields import validate_text
from ..fields.phone import normalize_recipient
from ..sending.action_payloads import ActionRequest
from .schemas import Body, ClientId, Text, body_doc, checked, strict_bool
from .send_models import MESSAGE_ID_PATTERN, refuse

READ_MAX = 100  # ids per read mark
EMOJI_MAX = 32  # characters: an emoji with its modifiers and joiners

Chat = Annotated[str, checked(lambda v: normalize_recipient(v, "chat")), Field(
    examples=["491512345678@s.whatsapp.net"], description="The chat: a user or group JID, or a phone number.")]
Participant = Annotated[str, checked(lambda v: normalize_recipient(v, "participant")), Field(
    examples=["491598765432@s.whatsapp.net"],
    description="Who wrote the message, in a group (someone else's); known from the `message` events this "
                "client heard lately, else required.")]
MessageId = Annotated[str, Field(pattern=MESSAGE_ID_PATTERN, examples=["3EB0C431C26A1916E4C2AB"],
                                 description="wamulti's messageId of a send, or WhatsApp's id of any message.")]
Wait = Annotated[bool, checked(strict_bool, strings_only=False)] | None


def _from_me(value):
    if not isinstance(value, bool):
        raise InvalidField("fromMe", "Field 'fromMe' must be true or false.")
    return value


def _emoji(value):
    return validate_text(value, "emoji", EMOJI_MAX) if value else value


class ActionBody(Body):
    clientId: ClientId
    chat: Chat
    wait: Wait = Field(None, description="false: answer 202 at once; absent: wait up to SEND_WAIT.")


class ReactMessage(ActionBody):
    model_config = body_doc({"clientId": "work-phone", "chat": "491512345678@s.whatsapp.net",
                             "messageId": "3EB0C431C26A1916E4C2AB", "emoji": "👍"})
    messageId: MessageId
    emoji: Annotated[str, checked(_emoji)] = Field(max_length=EMOJI_MAX, description="\"\" takes the reaction back.")
    participant: Participant | None = None
    fromMe: Annotated[bool, checked(_from_me, strings_only=False)] | None = Field(
        None, description="WhatsApp's id of a message this account sent from another device.")

    def to_request(self) -> ActionRequest:
        return ActionRequest("react", self.chat, self.messageId, emoji=self.emoji, participant=self.participant,
                             from_me=self.fromMe)


class EditMessage(ActionBody):
    model_config = body_doc({"clientId": "work-phone", "chat": "491512345678@s.whatsapp.net",
                             "messageId": "3EB0C431C26A1916E4C2AB", "text": "Corrected text"},
                            description="Only a text this account sent, within 15 minutes of its send.")
    messageId: MessageId
    text: Text

    def to_request(self) -> ActionRequest:
        return ActionRequest("edit", self.chat, self.messageId, text=self.text)


class RevokeMessage(ActionBody):
    model_config = body_doc({"clientId": "work-phone", "chat": "491512345678@s.whatsapp.net",
                             "messageId": "3EB0C431C26A1916E4C2AB"},
                            description="Delete for everyone: this account's message, or as a group admin "
                                        "someone else's (give `participant`).")
    messageId: MessageId
    participant: Participant | None = None

    def to_request(self) -> ActionRequest:
        return ActionRequest("revoke", self.chat, self.messageId, participant=self.participant)


class ReadMessages(ActionBody):
    model_config = body_doc({"clientId": "work-phone", "chat": "491512345678@s.whatsapp.net",
                             "messageIds": ["3EB0A1B2C3D4E5F60718"]},
                            description="Exactly one of messageIds (those messages) or upTo (the chat up to it).")
    messageIds: list[MessageId] | None = Field(None, min_length=1, max_length=READ_MAX)
    upTo: MessageId | None = None
    participant: Participant | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.messageIds is None) == (self.upTo is None):
            raise refuse("messageIds", "Exactly one of 'messageIds' or 'upTo' is required.")
        return self

    def to_request(self) -> ActionRequest:
        ids = tuple(dict.fromkeys(self.messageIds or ()))
        return ActionRequest("read", self.chat, self.upTo or ids[0], participant=self.participant, message_ids=ids)


class ActionDone(BaseModel):
    success: bool = Field(examples=[True])
    messageId: str = Field(examples=["3EB0C431C26A1916E4C2"], description="wamulti's id of the action.")
    waMessageId: str | None = Field(examples=["3EB0A1B2C3D4E5F60718"], description="WhatsApp's id of the "
                                    "reaction, edit or revoke message; null for a read mark.")
    clientId: str
    to: str = Field(examples=["491512345678@s.whatsapp.net"], description="The chat it went to.")
    timestamp: str | None = Field(examples=["2024-05-06T07:08:09.123Z"])
