"""One worker per client: a thread that owns the client's backend session and its state machine.

Threads of a client `<id>`:
- `wa-<id>` (the worker thread) is the only place where the client's state changes and where the
  backend's lifecycle is driven (new session, pair, stop). Backend events, console answers and
  commands arrive through one inbox queue; timers (backoff, pairing timeout, snapshot checks) are
  deadlines that bound the wait on that queue, so nothing sleeps to poll.
- `wa-<id>-conn` runs a backend's connect(), which blocks while it is connected.
- `wa-<id>-send_N` (a small pool) runs sends, so a request waits a bounded time.
A CLOSED client keeps no thread: its worker only answers queries; pair() starts a thread again.

Parts, each readable alone: core.ClientWorker (what any thread may call), run.Run (one run of
the worker thread: the state machine), view (what other threads see), persistence (the store),
connection (sessions and the connection thread), pairing (the number, the console prompt),
sender (the send pool), timers, messages (the inbox), states.
"""

from .connection import backoff_delay
from .worker import ClientWorker
from .pairing import Prompter
from .states import CLOSED, CONNECTING, PAIRING, READY, SYNCING, ClientStatus, State

__all__ = ["CLOSED", "CONNECTING", "PAIRING", "READY", "SYNCING", "ClientStatus", "ClientWorker", "Prompter",
           "State", "backoff_delay"]
