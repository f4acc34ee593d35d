"""Writing to the console without breaking a waiting prompt.

The cursor stands after a prompt while it waits for an answer. Text from elsewhere (messages for
other clients, log records) must not glue onto that line: it goes on a line of its own, and the
prompt is shown again below it with whatever was typed after it so far.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Callable

# Process-wide: whole messages are written under CONSOLE_LOCK (short holds only; other code that
# prints to the terminal may take it too), so messages are never interleaved mid-line.
CONSOLE_LOCK = threading.RLock()


class Screen:
    """The console's output stream, and the prompt the cursor stands after (if any)."""

    def __init__(self, out, typed: Callable[[], str] | None = None):
        """typed() gives what was typed after the prompt so far (not yet a complete line)."""
        self._out = out
        self._typed = typed if typed is not None else (lambda: "")
        self._showing: str | None = None  # under CONSOLE_LOCK

    def write(self, text: str, prompt: str | None = None) -> None:
        """Write text; with `prompt`, the text ends with that prompt and the cursor now stands after it."""
        with CONSOLE_LOCK:
            self._showing = prompt
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):
                pass  # the terminal went away; nothing to tell

    def interrupt_prompt(self, lines: str, prompt: str) -> None:
        """Write lines (each ending in a newline) below the waiting `prompt`, then show it again."""
        self.write("\n" + lines + prompt + self._typed(), prompt)

    def forget_prompt(self) -> None:
        """The cursor left the prompt's line (Enter was pressed, or the prompt is over)."""
        with CONSOLE_LOCK:
            self._showing = None

    def write_above_prompt(self, stream, text: str) -> None:
        """Write text (ending in a newline) to stream; if a prompt waits, on a line of its own and
        with the prompt shown again below it."""
        with CONSOLE_LOCK:
            showing = self._showing
            try:
                if showing is not None:
                    self._out.write("\n")
                    self._out.flush()
                stream.write(text)
                stream.flush()
                if showing is not None:
                    self._out.write(showing + self._typed())
                    self._out.flush()
            except (OSError, ValueError):
                pass


class PromptAwareHandler(logging.StreamHandler):
    """A StreamHandler whose records never end up glued to a waiting console prompt."""

    def __init__(self, screen: Screen, stream=None):
        super().__init__(stream if stream is not None else sys.stderr)
        self._screen = screen

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._screen.write_above_prompt(self.stream, text)
