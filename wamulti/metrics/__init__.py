"""Metrics: the Prometheus registry (prometheus_metrics) and the store with each call timed (metered_store)."""
