"""bench.outage, small: 100 paired neonize clients in a real server through a 2-minute
outage, then its end.

The server dials through a loopback proxy that first answers every CONNECT with 502, then tunnels to
an endpoint that fails the TLS handshake at once (tests/loopback_proxy.py). About 2.5 minutes in all.
"""

from __future__ import annotations

import pytest

from tests.offline import require_offline_proxy

require_offline_proxy()
pytest.importorskip("neonize")

from bench.outage import run  # noqa: E402

CLIENTS = 100


def test_an_outage_costs_nothing_per_client_and_every_client_dials_when_it_ends():
    result = run(CLIENTS, outage=120.0, warmup=20.0, every=5.0)
    samples = result["samples"]
    assert result["closed_max"] == 0, samples
    # each waiting client would have dialled 6 times in 120 s of backoff (600 CONNECTs). Through the gate
    # only the dials made before it closed reach the proxy (a handful on a quiet machine, more when a
    # loaded one is slow to see the first failure), then the probe's CONNECTs alone (2 s doubling to 15 s)
    assert result["proxy_connects_during_outage"] < CLIENTS // 2, result
    gate_closed = next(s for s in samples if s["waiting"] == CLIENTS)
    last = samples[-1]
    probe_connects = last["proxy_connects"] - gate_closed["proxy_connects"]
    assert probe_connects <= (last["t_s"] - gate_closed["t_s"]) / 15.0 + 3, samples
    assert samples[-1]["waiting"] == CLIENTS, samples[-1]
    assert result["fds_growth"] < 0.05, samples  # not one descriptor per dial any more
    assert result["rss_growth"] < 0.10, samples  # flat, with a margin for the allocator on a shared machine
    assert result["all_dialled_in_time"], result  # every client dialled within 90 s of the return
