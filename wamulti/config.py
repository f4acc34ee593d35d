"""Settings from the environment (and a .env file), parsed and validated once."""

from __future__ import annotations

import os
import resource
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .destinations.policy import Network, allowed_networks
from .errors import InvalidField
from .fields.phone import normalize_phone
from .backends.backend_api import MEDIA_KINDS
from .hearing.event_fields import ALL_TYPES, check_event_types, check_secret, check_url

BACKENDS = ("neonize", "simulator")
CONSOLE_MODES = ("auto", "on", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_API_KEY_LENGTH = 16
# Descriptors the process needs besides the API's connections and the clients: the listener, waitress's
# trigger, the log, the store's files and read pool, the snapshot helpers' pipes, webhook sockets.
FIXED_DESCRIPTORS = 64
CONNECTION_LIMIT_FLOOR = 100  # waitress's own default: never fewer
CONNECTION_LIMIT_CAP = 1000  # waitress's loop looks at every connection in each pass (README, "Slow clients")


class ConfigError(ValueError):
    """An invalid setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class Settings:
    api_key: str
    api_key_generated: bool = False
    host: str = "127.0.0.1"
    port: int = 3000
    db_host: str = ""
    db_port: int = 3306
    db_user: str = ""
    db_password: str = field(default="", repr=False)
    db_name: str = ""
    db_pool_size: int = 10
    data_dir: Path = Path("./data")
    wa_backend: str = "neonize"
    pairing_console: str = "auto"
    pairing_timeout: float = 300.0
    log_level: str = "INFO"
    max_body_bytes: int = 1048576
    sim_connect_delay: float = 0.2
    sim_pair_delay: float = 3.0
    sim_sync_delay: float = 0.5
    sim_read_delay: float = 1.0
    sim_not_on_whatsapp: tuple[str, ...] = ()  # phone digits the simulator says have no account
    sim_send_delay: float = 0.3  # seconds a simulated send takes (WhatsApp-like)
    sim_send_jitter: float = 0.0  # +- seconds spread on each simulated send
    send_wait: float = 10.0  # the longest a send request waits for WhatsApp's answer before 202
    send_expiry: float = 3600.0  # a queued send not sent by then fails (`expired`)
    send_queue_max: int = 1000  # open (queued or sending) sends per client; 429 past it
    send_rate_per_minute: int = 60  # sends started per minute per client; 0 = no cap
    media_upload_reuse_hours: float = 24.0  # a file uploaded to WhatsApp is reused this long (sending/uploads.py)
    media_uploads_at_once: int = 2  # uploads under way in the process (each holds its file in memory)
    sim_pairing_window: float = 160.0
    sim_registry: str = ""  # SIM_REGISTRY: loopback host:port of a census of simulated connections (bench.cluster)
    http_threads: int = 8
    webhook_url: str = field(default="", repr=False)  # may carry credentials
    webhook_secret: str = field(default="", repr=False)
    webhook_events: tuple[str, ...] = (ALL_TYPES,)
    webhook_allow_networks: tuple[Network, ...] = ()  # ranges opened for per-client webhooks (policy)
    event_retention_hours: int = 72
    snapshot_helpers: int = 2  # processes reading session snapshots; 0: a process per snapshot
    media_download: tuple[str, ...] = MEDIA_KINDS  # incoming kinds downloaded and stored; () for none
    media_max_mb: int = 64  # the largest file stored (incoming and sent), MiB
    media_download_concurrency: int = 2  # downloads at a time, process-wide
    transcode_concurrency: int = 2  # conversions (ffmpeg processes, image decodes) at once, process-wide
    http_connection_limit: int = field(default_factory=lambda: default_connection_limit(descriptor_limit(), 10))
    reject_calls: bool = False  # REJECT_CALLS=on: every incoming call is declined
    reject_calls_message: str = ""  # REJECT_CALLS_MESSAGE: the text sent to a rejected caller ("" none)
    media_store: str = ""  # '' = DATA_DIR/media; a directory; or s3://bucket/prefix
    media_url_ttl: int = 7 * 86400  # seconds a signed media link stays valid
    media_retention_hours: int = 72  # like EVENT_RETENTION_HOURS
    media_link_secret: str = field(default="", repr=False)  # '' = DATA_DIR/media-link-secret
    public_url: str = ""  # the base of signed links; '' = http://HOST:PORT
    cluster: bool = False  # CLUSTER=on: instances share one MySQL database's clients by leases (wamulti/cluster)
    max_clients_per_instance: int = 0  # MAX_CLIENTS_PER_INSTANCE: the most one instance owns; 0 = no cap

    @property
    def media_max_bytes(self) -> int:
        return self.media_max_mb << 20

    @property
    def public_base(self) -> str:
        """PUBLIC_URL, or http://HOST:PORT when it is not set (an IPv6 HOST in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return self.public_url or f"http://{host}:{self.port}"

    @property
    def public_base_unreachable(self) -> bool:
        """No PUBLIC_URL while HOST listens on every address: links would name 0.0.0.0 or ::."""
        return not self.public_url and self.host in ("0.0.0.0", "::")

    @property
    def store_kind(self) -> str:
        """'mysql' when a database host is configured, else the embedded 'sqlite'."""
        return "mysql" if self.db_host else "sqlite"

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(host={self.host!r}, port={self.port}, store={self.store_kind}, backend={self.wa_backend})"


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds from {low:g} to {high:g}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a number of seconds from {low:g} to {high:g}, got {raw}")
    return value


def descriptor_limit() -> int:
    """The descriptors this process may open now (the soft RLIMIT_NOFILE; LimitNOFILE in the unit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 65536 if soft == resource.RLIM_INFINITY else soft


def default_connection_limit(nofile: int, db_pool_size: int) -> int:
    """HTTP connections the descriptor limit leaves room for: a quarter of what the store does not take.

    The WhatsApp clients get the rest: their session files and sockets (about 4 each) and, on
    neonize, the failed-dial budget (half the limit). A connection is one descriptor, or up to three
    while a large body or answer spills to temporary files."""
    spare = nofile - FIXED_DESCRIPTORS - db_pool_size
    return max(CONNECTION_LIMIT_FLOOR, min(CONNECTION_LIMIT_CAP, spare // 4))


def _connection_limit(env: Mapping[str, str], db_pool_size: int) -> int:
    """HTTP_CONNECTION_LIMIT: waitress's connection_limit, at most what the descriptor limit can hold."""
    nofile = descriptor_limit()
    spare = max(nofile - FIXED_DESCRIPTORS - db_pool_size, 10)
    if env.get("HTTP_CONNECTION_LIMIT", "").strip() == "":
        return default_connection_limit(nofile, db_pool_size)
    try:
        return _int(env, "HTTP_CONNECTION_LIMIT", 0, 10, spare)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the descriptor limit is {nofile}: ulimit -n, LimitNOFILE)") from None


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], upper=False) -> str:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _phone_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of phone numbers, as digits."""
    try:
        return tuple(normalize_phone(p, name) for p in env.get(name, "").split(",") if p.strip())
    except InvalidField as exc:
        raise ConfigError(exc.message.replace(f"Field '{name}'", name).rstrip(".")) from None


def _api_key(env: Mapping[str, str]) -> tuple[str, bool]:
    raw = env.get("API_KEY", "").strip()
    if raw == "":
        return secrets.token_urlsafe(32), True
    if len(raw) < MIN_API_KEY_LENGTH:
        raise ConfigError(f"API_KEY must be at least {MIN_API_KEY_LENGTH} characters long (got {len(raw)})")
    return raw, False


def _webhook(env: Mapping[str, str]) -> dict:
    """WEBHOOK_URL, WEBHOOK_SECRET and WEBHOOK_EVENTS, checked like a client's own webhook."""
    url, secret = env.get("WEBHOOK_URL", "").strip(), env.get("WEBHOOK_SECRET", "").strip()
    names = [n.strip() for n in env.get("WEBHOOK_EVENTS", "").split(",") if n.strip()] or [ALL_TYPES]
    try:
        if url:
            url = check_url(url, "WEBHOOK_URL", "WEBHOOK_URL")  # the form it is sent in
            if not secret:
                raise InvalidField("WEBHOOK_SECRET", "WEBHOOK_SECRET must be set when WEBHOOK_URL is set")
        if secret:
            check_secret(secret, "WEBHOOK_SECRET", "WEBHOOK_SECRET")
        events = check_event_types(names, "WEBHOOK_EVENTS", "WEBHOOK_EVENTS")
    except InvalidField as exc:
        raise ConfigError(f"{exc.message.rstrip('.')}" + (f", got {names!r}" if exc.field == "WEBHOOK_EVENTS"
                                                           else "")) from None
    return {"webhook_url": url, "webhook_secret": secret,
            "webhook_events": (ALL_TYPES,) if events is None else tuple(sorted(t.value for t in events))}


def _allow_networks(env: Mapping[str, str]) -> tuple[Network, ...]:
    """WEBHOOK_ALLOW_NETWORKS: the ranges per-client webhooks may reach although the policy refuses them."""
    try:
        return allowed_networks(env.get("WEBHOOK_ALLOW_NETWORKS", ""))
    except ValueError as exc:
        raise ConfigError(f"WEBHOOK_ALLOW_NETWORKS must be a comma-separated list of networks: {exc}") from None


def _simulator(env: Mapping[str, str]) -> dict:
    """The simulator backend's settings (SIM_*)."""
    return {
        "sim_connect_delay": _float(env, "SIM_CONNECT_DELAY", 0.2, 0, 3600),
        "sim_pair_delay": _float(env, "SIM_PAIR_DELAY", 3.0, 0, 3600),
        "sim_sync_delay": _float(env, "SIM_SYNC_DELAY", 0.5, 0, 3600),
        "sim_read_delay": _float(env, "SIM_READ_DELAY", 1.0, 0, 3600),
        "sim_not_on_whatsapp": _phone_list(env, "SIM_NOT_ON_WHATSAPP"),
        "sim_pairing_window": _float(env, "SIM_PAIRING_WINDOW", 160.0, 0.1, 3600),
        "sim_send_delay": _float(env, "SIM_SEND_DELAY", 0.3, 0, 3600),
        "sim_send_jitter": _float(env, "SIM_SEND_JITTER", 0.0, 0, 3600),
        "sim_registry": _sim_registry(env.get("SIM_REGISTRY", "")),
    }


def _sim_registry(raw: str) -> str:
    if not raw.strip():
        return ""
    from .backends.simulator.sim_reports import parse_address

    try:
        parse_address(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return raw.strip()


def _sending(env: Mapping[str, str]) -> dict:
    """The outbound queue's settings (SEND_*)."""
    return {
        "send_wait": _float(env, "SEND_WAIT", 10.0, 0, 300),
        "send_expiry": _float(env, "SEND_EXPIRY", 3600.0, 1, 30 * 86400),
        "send_queue_max": _int(env, "SEND_QUEUE_MAX", 1000, 1, 1_000_000),
        "send_rate_per_minute": _int(env, "SEND_RATE_PER_MINUTE", 60, 0, 100_000),
        "media_upload_reuse_hours": _float(env, "MEDIA_UPLOAD_REUSE_HOURS", 24.0, 0, 24 * 30),
        "media_uploads_at_once": _int(env, "MEDIA_UPLOADS_AT_ONCE", 2, 1, 64),
    }


def _media_kinds(env: Mapping[str, str]) -> tuple[str, ...]:
    """MEDIA_DOWNLOAD: a comma list of MEDIA_KINDS, `all` (the default) or `none`."""
    names = [n.strip().lower() for n in env.get("MEDIA_DOWNLOAD", "").split(",") if n.strip()]
    if not names or names == ["all"]:
        return MEDIA_KINDS
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in MEDIA_KINDS]
    if unknown:
        raise ConfigError(f"MEDIA_DOWNLOAD must be all, none or a comma list of {', '.join(MEDIA_KINDS)}, "
                          f"got {', '.join(unknown)!r}")
    return tuple(k for k in MEDIA_KINDS if k in names)


def _media(env: Mapping[str, str]) -> dict:
    """The media settings (MEDIA_*, PUBLIC_URL): the store, its links, incoming downloads."""
    store = env.get("MEDIA_STORE", "").strip()
    if store.startswith("s3://") and not store[len("s3://"):].split("/", 1)[0]:
        raise ConfigError(f"MEDIA_STORE must be a directory or s3://bucket/prefix, got {store!r}")
    public = env.get("PUBLIC_URL", "").strip().rstrip("/")
    if public and (urlsplit(public).scheme not in ("http", "https") or not urlsplit(public).hostname):
        raise ConfigError(f"PUBLIC_URL must be an http:// or https:// URL like https://wa.example.com, got {public!r}")
    return {
        "media_download": _media_kinds(env),
        "media_download_concurrency": _int(env, "MEDIA_DOWNLOAD_CONCURRENCY", 2, 1, 64),
        "media_max_mb": _int(env, "MEDIA_MAX_MB", 64, 1, 4096),
        "media_store": store,
        "media_url_ttl": _int(env, "MEDIA_URL_TTL", 7 * 86400, 60, 365 * 86400),
        "media_retention_hours": _int(env, "MEDIA_RETENTION_HOURS", 72, 1, 87600),
        "media_link_secret": env.get("MEDIA_LINK_SECRET", "").strip(),
        "public_url": public,
    }


def _calls(env: Mapping[str, str]) -> dict:
    """Incoming calls (REJECT_CALLS=on|off, REJECT_CALLS_MESSAGE: a text of at most 4,096 characters)."""
    message = env.get("REJECT_CALLS_MESSAGE", "").strip()
    if len(message) > 4096:
        raise ConfigError(f"REJECT_CALLS_MESSAGE must be at most 4096 characters, got {len(message)}")
    return {"reject_calls": _choice(env, "REJECT_CALLS", "off", ("on", "off")) == "on",
            "reject_calls_message": message}


def _cluster(env: Mapping[str, str], db_host: str) -> dict:
    """Several instances on one database (CLUSTER=on|off, MAX_CLIENTS_PER_INSTANCE): MySQL only, since
    the embedded SQLite store belongs to one process."""
    cluster = _choice(env, "CLUSTER", "off", ("on", "off")) == "on"
    if cluster and not db_host:
        raise ConfigError("CLUSTER=on needs the MySQL store (DB_HOST): the embedded SQLite store serves one instance")
    return {"cluster": cluster, "max_clients_per_instance": _int(env, "MAX_CLIENTS_PER_INSTANCE", 0, 0, 1_000_000)}


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Parse and validate settings from a mapping of environment variables."""
    api_key, generated = _api_key(env)
    db_host = env.get("DB_HOST", "").strip()
    db_pool_size = _int(env, "DB_POOL_SIZE", 10, 1, 200)
    settings = Settings(
        api_key=api_key,
        api_key_generated=generated,
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=_int(env, "PORT", 3000, 0, 65535),
        db_host=db_host,
        db_port=_int(env, "DB_PORT", 3306, 1, 65535),
        db_user=env.get("DB_USER", "").strip(),
        db_password=env.get("DB_PASSWORD", ""),
        db_name=env.get("DB_NAME", "").strip(),
        db_pool_size=db_pool_size,
        data_dir=Path(env.get("DATA_DIR", "").strip() or "./data"),
        wa_backend=_choice(env, "WA_BACKEND", "neonize", BACKENDS),
        pairing_console=_choice(env, "PAIRING_CONSOLE", "auto", CONSOLE_MODES),
        pairing_timeout=_float(env, "PAIRING_TIMEOUT", 300.0, 1, 86400),
        log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1048576, 1024, 1 << 30),
        http_threads=_int(env, "HTTP_THREADS", 8, 1, 256),
        http_connection_limit=_connection_limit(env, db_pool_size),
        **_simulator(env),
        **_sending(env),
        event_retention_hours=_int(env, "EVENT_RETENTION_HOURS", 72, 1, 87600),
        snapshot_helpers=_int(env, "SNAPSHOT_HELPERS", 2, 0, 16),
        **_media(env),
        transcode_concurrency=_int(env, "TRANSCODE_CONCURRENCY", 2, 1, 64),
        **_webhook(env),
        webhook_allow_networks=_allow_networks(env),
        **_calls(env),
        **_cluster(env, db_host),
    )
    if db_host and not settings.db_name:
        raise ConfigError("DB_NAME must be set when DB_HOST is set")
    return settings


def load_settings(dotenv_path: str | os.PathLike | None = ".env") -> Settings:
    """Load .env (real environment variables win), then parse the environment."""
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    if dotenv_path and Path(dotenv_path).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ)
    return settings_from_env(merged)
