"""The guard of every test module that lets neonize dial: only through the dead loopback proxy."""

from __future__ import annotations

import os

import pytest

OFFLINE_PROXY = "http://127.0.0.1:9"


def require_offline_proxy() -> None:
    """Skip the calling module (fail it under CI) unless HTTPS_PROXY points at the dead loopback port.

    Go reads the environment when the process starts: without this proxy a dial would send a DNS
    query off this machine. ./scripts/test sets it. Call at module level.
    """
    if os.environ.get("HTTPS_PROXY") != OFFLINE_PROXY:
        why = f"run through ./scripts/test (needs HTTPS_PROXY={OFFLINE_PROXY} at process start)"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why, allow_module_level=True)
