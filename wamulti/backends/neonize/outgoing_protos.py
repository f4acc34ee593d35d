"""Every kind wamulti sends, as neonize 0.5.2's real protobufs, and the upload they point at.

- An upload goes through the library's public `client.upload(bytes, MediaType)`: the file's bytes
  are read here and handed over as `bytes`, never as a `str` (the library's send_image & co. read a
  str as a path or fetch it as a URL, with no timeout). The bytes are in memory while Go encrypts
  and uploads them; UploadGate (sending/uploads.py) bounds how many uploads run at once.
- A sticker uploads as an image (WhatsApp's MMS type for stickers); a voice note as audio, sent
  with PTT, its seconds and its waveform.
- A reply carries ContextInfo(stanzaID = the quoted id, participant = its sender, quotedMessage
  = its text when known).
- A plain text stays `conversation` (outgoing.text_message); a text reply is an extendedTextMessage.

Functions only, like outgoing.py: the session calls them inside its send call.
"""

from __future__ import annotations

from pathlib import Path

from ..backend_api import (ContactOut, EditOut, LocationOut, MediaOut, Outgoing, QuotedRef, ReactionOut, RevokeOut,
                           TextOut, UploadRef)
from .outgoing_actions import action_message

UPLOAD_TYPE = {"image": "MediaImage", "sticker": "MediaImage", "video": "MediaVideo", "audio": "MediaAudio",
               "voice": "MediaAudio", "document": "MediaDocument"}


def upload_file(client, data_path: Path, media_kind: str) -> UploadRef:
    """Upload the file's bytes as `media_kind`; the library's UploadResponse as an UploadRef."""
    from neonize.utils.enum import MediaType

    data = data_path.read_bytes()  # bytes, never the path string: see the module docstring
    answer = client.upload(data, getattr(MediaType, UPLOAD_TYPE[media_kind]))
    return UploadRef(url=answer.url, direct_path=answer.DirectPath, media_key=answer.MediaKey,
                     file_enc_sha256=answer.FileEncSHA256, file_sha256=answer.FileSHA256,
                     file_length=answer.FileLength)


def context_info(quoted: QuotedRef | None):
    """The ContextInfo of a reply (None for a message that replies to nothing)."""
    if quoted is None:
        return None
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, Message

    info = ContextInfo(stanzaID=quoted.message_id)
    if quoted.sender_jid:
        info.participant = quoted.sender_jid
    if quoted.text:
        info.quotedMessage.CopyFrom(Message(conversation=quoted.text))
    return info


def outgoing_message(outgoing: Outgoing):
    """The Message proto for any Outgoing."""
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    if isinstance(outgoing, (ReactionOut, EditOut, RevokeOut)):
        return action_message(outgoing)
    context = context_info(outgoing.reply_to)
    match outgoing:
        case TextOut(text=text) if context is None:
            return e2e.Message(conversation=text)
        case TextOut(text=text):
            return e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(text=text, contextInfo=context))
        case LocationOut():
            return e2e.Message(locationMessage=e2e.LocationMessage(
                degreesLatitude=outgoing.lat, degreesLongitude=outgoing.lng, name=outgoing.name,
                address=outgoing.address, contextInfo=context))
        case ContactOut():
            return e2e.Message(contactMessage=e2e.ContactMessage(
                displayName=outgoing.display_name, vcard=outgoing.vcard, contextInfo=context))
        case MediaOut():
            return media_message(outgoing, context)
    raise TypeError(f"not an Outgoing: {type(outgoing).__name__}")


def _file_fields(out: MediaOut, context) -> dict:
    """The fields every media message has: where the encrypted file is, its key and hashes."""
    ref = out.upload
    return dict(URL=ref.url, directPath=ref.direct_path, mediaKey=ref.media_key, fileEncSHA256=ref.file_enc_sha256,
                fileSHA256=ref.file_sha256, fileLength=ref.file_length, mimetype=out.mimetype, contextInfo=context)


def media_message(out: MediaOut, context=None):
    """imageMessage, videoMessage, audioMessage (a voice note: PTT), documentMessage or stickerMessage."""
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    fields = _file_fields(out, context)
    size = dict(width=out.width, height=out.height)
    if out.kind == "image":
        return e2e.Message(imageMessage=e2e.ImageMessage(caption=out.caption, JPEGThumbnail=out.thumbnail,
                                                         **size, **fields))
    if out.kind == "video":
        return e2e.Message(videoMessage=e2e.VideoMessage(caption=out.caption, JPEGThumbnail=out.thumbnail,
                                                         seconds=out.seconds, **size, **fields))
    if out.kind in ("audio", "voice"):
        return e2e.Message(audioMessage=e2e.AudioMessage(PTT=out.kind == "voice", seconds=out.seconds,
                                                         waveform=out.waveform, **fields))
    if out.kind == "sticker":
        return e2e.Message(stickerMessage=e2e.StickerMessage(**size, **fields))
    if out.kind == "document":
        return e2e.Message(documentMessage=e2e.DocumentMessage(caption=out.caption, fileName=out.file_name,
                                                               title=out.file_name, **fields))
    raise ValueError(f"unknown media kind: {out.kind}")
