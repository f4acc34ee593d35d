"""Request and answer models of /api/media and the public /media links."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .schemas import ClientId, Params

MEDIA_ID_EXAMPLE = "mq3v7k2x9c4h6n8p5w2r7t3y4z6"
FILE_NAME_MAX = 255


class MediaPath(Params):
    # Not checked here: an id that is not one of ours answers 404 like an unknown one.
    media_id: str = Field(examples=[MEDIA_ID_EXAMPLE])


class MediaUploadQuery(Params):
    fileName: str | None = Field(None, max_length=FILE_NAME_MAX, examples=["invoice 2024.pdf"],
                                 description="The file's name (sanitised: no path, no control characters).")
    clientId: ClientId | None = Field(None, description="The client the file belongs to; required with a "
                                      "scoped key (one of its clients).")


class MediaLinkQuery(Params):
    expires: str | None = Field(None, examples=["1733600000"], description="Unix time the link stops working.")
    sig: str | None = Field(None, description="The link's signature.")


class MediaOut(BaseModel):
    """A stored file."""

    mediaId: str = Field(examples=[MEDIA_ID_EXAMPLE])
    mimetype: str | None = Field(examples=["application/pdf"], description="Sniffed from the bytes (libmagic).")
    size: int | None = Field(examples=[48213], description="Bytes.")
    sha256: str | None = Field(examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    fileName: str | None = Field(examples=["invoice 2024.pdf"])
    clientId: str | None = Field(examples=["work-phone"])


class MediaInfo(MediaOut):
    """A media record and how it stands."""

    status: Literal["stored", "pending", "too_large", "skipped", "failed"]
    reason: str | None = Field(description="Why it is too_large, skipped or failed.")
    url: str | None = Field(description="A signed link (no key needed) valid for MEDIA_URL_TTL; null unless stored.")
    createdAt: str = Field(examples=["2024-05-06T07:08:09.123Z"])
