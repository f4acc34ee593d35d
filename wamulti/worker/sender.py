"""Sender: a client's small send pool, so a request waits a bounded time for one client only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..backends.base import BackendError, BackendSession, NotConnected, SentMessage
from ..errors import NotReady, Upstream
from .states import CLOSED

SEND_TIMEOUT = 20.0
SEND_THREADS = 4


class Sender:
    """Runs sends on `wa-<clientId>-send` threads; any thread may call send()."""

    def __init__(self, client_id: str, timeout: float = SEND_TIMEOUT):
        self._client_id = client_id
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix=f"wa-{client_id}-send")

    def send(self, session: BackendSession, to_jid: str, text: str) -> SentMessage:
        """Send and wait at most the timeout; raises NotReady when stopping, Upstream on failure."""
        try:
            future = self._pool.submit(session.send_text, to_jid, text)
        except RuntimeError:  # the pool was shut down: the client is being stopped
            raise NotReady(f"Client '{self._client_id}' is stopping.", current_state=CLOSED) from None
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            raise Upstream(f"WhatsApp did not confirm the message within {self._timeout:g} seconds.") from None
        except NotConnected as exc:
            raise Upstream(f"The client is not connected to WhatsApp: {exc}") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp refused or failed the send: {exc}") from None

    def shutdown(self) -> None:
        """Refuse new sends; sends under way finish on their own."""
        self._pool.shutdown(wait=False)
