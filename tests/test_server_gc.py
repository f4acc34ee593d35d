"""The server freezes what start-up made, so full collections under load skip it (server.py)."""

from __future__ import annotations

import gc
import weakref

from wamulti.server import freeze_startup_objects


class _Cycle:
    def __init__(self):
        self.me = self


def test_startup_objects_are_frozen_and_later_cycles_still_collected():
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > before
        dropped = _Cycle()
        gone = weakref.ref(dropped)
        del dropped  # made after the freeze: the collector still finds it
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()  # the rest of the test process collects as usual
