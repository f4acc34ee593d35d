"""Clients: the registry of every client, and one worker per client owning its backend session and state.

Threads of a client `<id>`:
- `wa-<id>` (the worker thread) is the only place where the client's state changes and where the
  backend's lifecycle is driven (new session, pair, stop). Backend events, console answers and
  commands arrive through one inbox queue; timers (backoff, pairing timeout) are deadlines that
  bound the wait on that queue, so nothing sleeps to poll. The periodic look at session files is one
  thread's for every client (sessions/session_checks.py), which posts FlushDue when one must save.
- `wa-<id>-conn` runs a backend's connect(), which blocks while it is connected.
- `wa-<id>-send_N` (a small pool, wamulti.sending) runs sends, so a request waits a bounded time.
A CLOSED client keeps no thread: its worker only answers queries; pair() starts a thread again.

Parts, each readable alone: registry.ClientRegistry (all clients, what the routes call),
worker.ClientWorker (what any thread may call of one client), run.Run (one run of the worker
thread: the state machine), view (what other threads see), connection (sessions and the connection
thread), pairing (the number, the console prompt), unlink, timers, inbox, states, QR codes
(qr_codes) and the instance id recorded in the rows a process takes (instance_id).
"""
