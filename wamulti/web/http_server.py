"""The HTTP server: waitress for the app, with wamulti's settings, and the loop that serves it.

Through waitress's public create_server and server.run(); the parts of seams/waitress_internals.py
that pay for themselves (bench/README.md) are switched on by the caller.
"""

from __future__ import annotations

from ..config import Settings

# waitress's settings for connections that send slowly or not at all (README.md, "Slow clients and the
# reverse proxy"). waitress has no deadline for a whole request header: a connection that sends a byte
# now and then is never idle, so only a connection limit bounds those, and a proxy in front ends them.
SLOW_CLIENT_LIMITS = dict(
    # a connection silent this long is closed (waitress: 120 s). Above nginx's upstream keepalive_timeout
    # (deploy/wamulti-nginx.conf, 20 s), so the proxy drops an idle connection before waitress does and never
    # sends a request down one waitress is closing
    channel_timeout=30,
    # how often the loop looks for such connections (waitress: 30 s, which let them live up to 150 s):
    # one pass over the connections every 5 s is cheap even at the cap
    cleanup_interval=5,
    # the most an unfinished header holds in memory per connection (waitress: 256 KiB, 256 MB at a
    # thousand connections); nginx forwards at most 4 x 8 KiB (large_client_header_buffers)
    max_request_header_size=32 * 1024,
)


def build_http_server(settings: Settings, app, seams: frozenset = frozenset()):
    """waitress for `app` with wamulti's settings; `seams`: parts of wamulti/seams/waitress_internals.py, if any."""
    from waitress import create_server

    from ..seams.waitress_internals import create_tuned_server

    adjustments = dict(
        host=settings.host, port=settings.port, threads=settings.http_threads,
        ident="wamulti", clear_untrusted_proxy_headers=True,
        # well above MAX_BODY_BYTES so Flask answers oversized bodies with JSON;
        # waitress's own (plain-text) 413 only guards against absurd uploads; a media upload
        # (MEDIA_MAX_MB) is spooled to a temp file by waitress, never held in memory
        max_request_body_size=max(8 * settings.max_body_bytes, 16 << 20, 2 * settings.media_max_bytes),
        # select() fails once descriptors pass 1024 (many clients, each with
        # session files and sockets): poll() has no such limit
        asyncore_use_poll=True,
        **SLOW_CLIENT_LIMITS,
        # sized to the descriptors the process may open (config.py); past it waitress
        # stops accepting and everyone waits: slow clients must not get there first
        connection_limit=settings.http_connection_limit)
    if seams:
        return create_tuned_server(app, seams, **adjustments)
    return create_server(app, **adjustments)


def serving_loop(server, seams: frozenset):
    """The callable that runs `server`'s loop: waitress's own, or the seam's that ends each pass."""
    from ..seams.waitress_internals import run_in_passes

    if "passes" in seams:
        return lambda: run_in_passes(server)
    return server.run
