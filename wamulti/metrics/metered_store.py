"""MeteredStore: the session store with each call timed and its errors counted, per operation.

A proxy rather than a change to every store module: it forwards attributes as they are, wraps the
public methods of the store interface (a fixed set of names, so the label stays bounded), and
notes what the metrics need to see (snapshot saves and loads, webhook attempt outcomes).
"""

from __future__ import annotations

import functools
import time

from ..store.store_api import SessionStore, StoreError

METERED = frozenset(name for name in dir(SessionStore) if not name.startswith("_") and name != "close"
                    and callable(getattr(SessionStore, name)))


class MeteredStore:
    """Wraps a SessionStore (MySQLStore or SQLiteStore) for a Metrics."""

    def __init__(self, store, metrics):
        self._store, self._metrics = store, metrics

    def __getattr__(self, name):
        value = getattr(self._store, name)
        if name not in METERED:
            return value
        timed = functools.partial(self._call, name, value)
        setattr(self, name, timed)  # built once per operation
        return timed

    def _call(self, operation: str, method, *args, **kwargs):
        m = self._metrics
        started = time.perf_counter()
        try:
            result = method(*args, **kwargs)
        except StoreError:
            m.store_errors.labels(operation).inc()
            raise
        finally:
            m.store_seconds.labels(operation).observe(time.perf_counter() - started)
        self._noted(operation, args, kwargs, result)
        return result

    def _noted(self, operation: str, args, kwargs, result) -> None:
        if operation == "record_attempts" and result is not None:
            client_id = args[0] if args else kwargs["client_id"]
            results = args[2] if len(args) > 2 else kwargs["results"]
            self._metrics.webhook_results(client_id, results)
