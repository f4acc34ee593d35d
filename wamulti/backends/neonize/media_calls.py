"""A neonize session's calls on the send threads and the media pool: sends (a plain text, or any kind
built from the real protos, message actions too), read marks, the number lookup, the upload of a
file, the download of an attachment. Mixed into NeonizeSession (neonize_backend.py), which provides
`client`, `_send_call()` (a send's network call on a started session), `_state_lock`,
`_stopped`, `_started` and `_backend`."""

from __future__ import annotations

from pathlib import Path

from .. import backend_api as bk
from . import media_download, outgoing, outgoing_actions, outgoing_protos


class NeonizeMedia:
    """Sends, lookups, uploads and downloads (see the module's docstring for what the session provides)."""

    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> bk.SentMessage:
        """A plain `conversation` text to the JID as given; `message_id` cannot be used: neonize 0.5.2
        has no way to send with a chosen id, so whatsmeow's own id is returned (outgoing.py)."""
        with self._send_call():
            wa_id, when = outgoing.send_text(self.client, to_jid, text)
        return bk.SentMessage(message_id=wa_id, timestamp=when)

    def lookup_phone(self, digits: str) -> str | None:
        with self._send_call():
            return outgoing.lookup_phone(self.client, digits, self._backend.library_error)

    def send_message(self, to_jid: str, out: bk.Outgoing, message_id: str | None = None) -> bk.SentMessage:
        """Any kind, built from the real protos (outgoing_protos.py); whatsmeow picks the id (see send_text)."""
        message = outgoing_protos.outgoing_message(out)
        with self._send_call():
            wa_id, when = outgoing.send_proto(self.client, to_jid, message)
        return bk.SentMessage(message_id=wa_id, timestamp=when)

    def upload(self, data_path: Path, media_kind: str) -> bk.UploadRef:
        """The file's bytes through the library's upload (a call into Go like a send: GoCalls holds the
        lock only for its client lookup)."""
        with self._send_call():
            return outgoing_protos.upload_file(self.client, data_path, media_kind)

    def mark_read(self, chat: str, sender_jid: str, message_ids: tuple[str, ...], at) -> None:
        """A read receipt through the library's mark_read (outgoing_actions.py)."""
        with self._send_call():
            outgoing_actions.mark_read(self.client, chat, sender_jid, message_ids, at)

    def download(self, media: bk.Media, sink, max_bytes: int) -> int:
        """The attachment through neonize's download_any (media_download.py: what it costs); on the
        media pool's thread. GoCalls holds the lock only for Go's lookup, not for the transfer."""
        with self._state_lock:
            if self._stopped or not self._started:
                raise bk.DownloadFailed("not connected")
        return media_download.download_to(self.client, media, sink, max_bytes, self._backend.library_error)
