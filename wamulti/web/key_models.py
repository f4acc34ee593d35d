"""The models of the key routes (/api/keys): the request body and path, and the answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ..keys.checks import LABEL_MAX, MAX_CLIENTS_PER_KEY, check_clients, check_label
from .schemas import Body, ClientId, Params, body_doc, checked

KEY_ID_EXAMPLE = "key_3f9a0c5e7b214d68"

KeyClients = Annotated[list[ClientId], checked(check_clients, strings_only=False), Field(
    min_length=1, max_length=MAX_CLIENTS_PER_KEY, examples=[["shop-1", "shop-2"]],
    description=f"1-{MAX_CLIENTS_PER_KEY} distinct ids of existing clients: the only clients the key reaches.")]
Label = Annotated[str, checked(check_label), Field(
    min_length=1, max_length=LABEL_MAX, examples=["shop frontend"],
    description="A name for people; no control characters.")]


class CreateKey(Body):
    model_config = body_doc({"clients": ["shop-1"], "label": "shop frontend"})
    clients: KeyClients
    label: Label | None = None


class KeyPath(Params):
    # Not checked here: an id that is not a key's answers 404 like an unknown one.
    key_id: str = Field(examples=[KEY_ID_EXAMPLE])


class KeyOut(BaseModel):
    """A scoped key as the admin sees it: never the key itself, never its hash."""

    id: str = Field(examples=[KEY_ID_EXAMPLE])
    label: str | None
    clients: list[str] = Field(description="The clients it reaches now (a deleted client drops out).")
    createdAt: str = Field(examples=["2026-12-07T04:00:00.123Z"])
    lastUsedAt: str | None = Field(description="Its latest use, to the minute (written at most once a minute).")


class CreatedKey(KeyOut):
    model_config = ConfigDict(title="KeyCreated", openapi_extra={
        "description": "Created: `key` is shown this once (only its SHA-256 is kept).",
        "headers": {"Cache-Control": {"description": "no-store: the answer holds the key.",
                                      "schema": {"type": "string"}}}})

    key: str = Field(examples=["wam_3q2-7TBo0S0kpCEpxbI8Lq0nRkQw_ZyT1w9s0TqH1eM"],
                     description="The key for `x-api-key` or `Authorization: Bearer`: 'wam_' + 43 characters.")


class KeyList(RootModel[list[KeyOut]]):
    """Every scoped key, oldest first."""


class KeyRevoked(BaseModel):
    id: str
    deleted: Literal[True]
