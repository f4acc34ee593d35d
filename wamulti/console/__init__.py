"""Pairing on the server's console: one prompt at a time, each typed line answers exactly one prompt.

How it works
- `request_phone()` never blocks: it queues a ticket. One daemon thread (`wa-console`, started on
  the first request) serves the queue in FIFO order, so prompts never overlap. While a prompt owns
  the terminal's input it holds the process-wide `INPUT_LOCK`; every write to the console goes
  through the process-wide `CONSOLE_LOCK`, so messages are never interleaved mid-line.
- Input is read from the file descriptor with select() and os.read() and split into lines
  (`TerminalInput`; never sys.stdin.readline(), whose buffer would swallow lines typed ahead for
  later prompts).
- Typed-ahead input is DISCARDED when a prompt appears: a line typed while no prompt was showing
  (or a second line typed in one go after an answer) was not an answer to the prompt that comes
  next, so it must not be taken as one. Within one prompt, further lines answer its re-asks.
- A prompt ends with on_answer(digits, None) for a valid number (wamulti.fields.phone.normalize_phone),
  or on_answer(None, "no_phone_number") after `max_tries` invalid lines, after `timeout` seconds
  counted from the moment the prompt appeared, on EOF (sticky: once stdin reached end-of-file,
  later prompts answer at once), when the prompter closes, or at once when the console is off.
  `cancel()` drops a queued prompt or ends the active one ("[id] pairing cancelled") and on_answer
  is then never called. on_answer is called at most once per ticket, normally on the console
  thread, so it must only hand the answer over (the worker puts it in its inbox).
- A server in a background process group (`wsgi.py &` in a shell with job control) does not read
  the terminal (that would stop the whole process with SIGTTIN); it waits until it is brought to
  the foreground or the prompt times out.
- Messages for other clients (pairing codes, QR codes) are printed between prompts or, while a
  prompt waits, above a re-printed prompt (`Screen`).
- Log records written to the same terminal would glue onto a waiting prompt; `log_handler()` gives
  a StreamHandler that writes them on their own line above the prompt and shows the prompt again.
- Phone numbers and pairing codes go to the console stream only, never to the log.

Modules: `prompter` (the queue and the prompt dialogue) uses `terminal_input` (reading lines from
the descriptor) and `screen` (writing around a waiting prompt); those two know nothing of each other.
"""

from .prompter import INPUT_LOCK, LINK_STEPS, MODES, NO_PHONE, PROMPT, ConsolePrompter, PromptTicket
from .screen import CONSOLE_LOCK, PromptAwareHandler, Screen
from .terminal_input import TerminalInput, Waited

__all__ = ["CONSOLE_LOCK", "INPUT_LOCK", "LINK_STEPS", "MODES", "NO_PHONE", "PROMPT", "ConsolePrompter",
           "PromptAwareHandler", "PromptTicket", "Screen", "TerminalInput", "Waited"]
