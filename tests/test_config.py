"""Settings: defaults, typed parsing, one-line errors, generated keys, and the process exit on bad input."""

import subprocess
import sys
from pathlib import Path

import pytest

from wamulti.config import ConfigError, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
KEY = {"API_KEY": "0123456789abcdef"}


def test_defaults_match_the_documented_table():
    s = settings_from_env(KEY)
    assert (s.host, s.port, s.db_host, s.db_port, s.db_pool_size) == ("127.0.0.1", 3000, "", 3306, 10)
    assert (s.wa_backend, s.pairing_console, s.pairing_timeout, s.log_level) == ("neonize", "auto", 300.0, "INFO")
    assert (s.max_body_bytes, s.sim_connect_delay, s.sim_pair_delay, s.sim_sync_delay) == (1048576, 0.2, 3.0, 0.5)
    assert s.data_dir == Path("data") and s.store_kind == "sqlite" and not s.api_key_generated
    assert (s.webhook_url, s.webhook_secret, s.webhook_events) == ("", "", ("*",))
    assert (s.event_retention_hours, s.sim_read_delay) == (72, 1.0)


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_webhook_and_event_settings_are_parsed():
    s = settings_from_env({**KEY, "WEBHOOK_URL": " https://hooks.example.com/in?t=1 ", "WEBHOOK_SECRET": SECRET,
                           "WEBHOOK_EVENTS": "message.ack, message,", "EVENT_RETENTION_HOURS": "24",
                           "SIM_READ_DELAY": "0.25"})
    assert (s.webhook_url, s.webhook_secret, s.webhook_events) == ("https://hooks.example.com/in?t=1", SECRET,
                                                                   ("message", "message.ack"))
    assert (s.event_retention_hours, s.sim_read_delay) == (24, 0.25)
    assert settings_from_env({**KEY, "WEBHOOK_EVENTS": "message,*"}).webhook_events == ("*",)


def test_the_global_webhook_url_is_kept_in_the_form_it_is_sent_in_and_networks_are_parsed():
    s = settings_from_env({**KEY, "WEBHOOK_URL": "https://Bücher.example/päth", "WEBHOOK_SECRET": SECRET,
                           "WEBHOOK_ALLOW_NETWORKS": " 127.0.0.0/8, fd00::/8 "})
    assert s.webhook_url == "https://xn--bcher-kva.example/p%C3%A4th"
    assert [str(n) for n in s.webhook_allow_networks] == ["127.0.0.0/8", "fd00::/8"]
    assert settings_from_env(KEY).webhook_allow_networks == ()


def test_typed_values_are_parsed():
    s = settings_from_env({**KEY, "PORT": "8080", "DB_HOST": "db", "DB_NAME": "wa", "WA_BACKEND": "Simulator",
                           "PAIRING_CONSOLE": "OFF", "LOG_LEVEL": "debug", "PAIRING_TIMEOUT": "1.5"})
    assert (s.port, s.store_kind, s.wa_backend, s.pairing_console, s.log_level, s.pairing_timeout) == (
        8080, "mysql", "simulator", "off", "DEBUG", 1.5)


def test_missing_key_is_generated_and_strong():
    a, b = settings_from_env({}), settings_from_env({})
    assert a.api_key_generated and len(a.api_key) >= 32 and a.api_key != b.api_key


@pytest.mark.parametrize("env, fragment", [
    ({"API_KEY": "short"}, "API_KEY must be at least 16"),
    ({**KEY, "PORT": "http"}, "PORT must be a whole number"),
    ({**KEY, "PORT": "70000"}, "PORT must be a whole number from 0 to 65535"),
    ({**KEY, "DB_POOL_SIZE": "0"}, "DB_POOL_SIZE"),
    ({**KEY, "WA_BACKEND": "baileys"}, "WA_BACKEND must be one of neonize, simulator"),
    ({**KEY, "PAIRING_CONSOLE": "maybe"}, "PAIRING_CONSOLE must be one of auto, on, off"),
    ({**KEY, "PAIRING_TIMEOUT": "-1"}, "PAIRING_TIMEOUT"),
    ({**KEY, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ({**KEY, "DB_HOST": "db"}, "DB_NAME must be set"),
    ({**KEY, "WEBHOOK_URL": "ftp://example.com/"}, "WEBHOOK_URL must be an http:// or https:// URL with a host"),
    ({**KEY, "WEBHOOK_URL": "example.com"}, "WEBHOOK_URL must be"),
    ({**KEY, "WEBHOOK_URL": "https://example.com/"}, "WEBHOOK_SECRET must be set when WEBHOOK_URL is set"),
    ({**KEY, "WEBHOOK_URL": "https://example.com/", "WEBHOOK_SECRET": "hunter2"}, "WEBHOOK_SECRET must be 'whsec_'"),
    ({**KEY, "WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "WEBHOOK_SECRET must be 'whsec_'"),
    ({**KEY, "WEBHOOK_URL": "https://" + "a" * 64 + ".example/", "WEBHOOK_SECRET": SECRET},
     "WEBHOOK_URL cannot be sent: a label of the host name is empty, longer than 63 characters"),
    ({**KEY, "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,intranet"},
     "WEBHOOK_ALLOW_NETWORKS must be a comma-separated list of networks: 'intranet' is not a network"),
    ({**KEY, "WEBHOOK_EVENTS": "message,messages"}, "WEBHOOK_EVENTS entry must be one of message, message.ack"),
    ({**KEY, "EVENT_RETENTION_HOURS": "0"}, "EVENT_RETENTION_HOURS must be a whole number from 1"),
    ({**KEY, "SIM_READ_DELAY": "soon"}, "SIM_READ_DELAY must be a number of seconds"),
    ({**KEY, "MEDIA_MAX_MB": "0"}, "MEDIA_MAX_MB must be a whole number from 1 to 4096"),
    ({**KEY, "MEDIA_URL_TTL": "10"}, "MEDIA_URL_TTL must be a whole number from 60"),
    ({**KEY, "MEDIA_STORE": "s3://"}, "MEDIA_STORE must be a directory or s3://bucket/prefix"),
    ({**KEY, "PUBLIC_URL": "wa.example.com"}, "PUBLIC_URL must be an http:// or https:// URL"),
])
def test_invalid_values_give_one_line_naming_the_variable(env, fragment):
    with pytest.raises(ConfigError) as err:
        settings_from_env(env)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_media_settings_default_and_parse():
    s = settings_from_env({**KEY, "PORT": "3917"})
    assert (s.media_max_bytes, s.media_store, s.media_url_ttl, s.media_retention_hours, s.public_base) == (
        64 << 20, "", 7 * 86400, s.event_retention_hours, "http://127.0.0.1:3917")
    s = settings_from_env({**KEY, "MEDIA_MAX_MB": "2", "MEDIA_STORE": "s3://b/p", "PUBLIC_URL": "https://wa.x.com/",
                           "MEDIA_LINK_SECRET": "link-secret-value"})
    assert (s.media_max_bytes, s.media_store, s.public_base) == (2 << 20, "s3://b/p", "https://wa.x.com")
    assert "link-secret-value" not in repr(s)


def test_links_without_public_url_name_host_and_a_wildcard_host_is_flagged():
    local = settings_from_env({**KEY, "HOST": "::1", "PORT": "3000"})
    assert (local.public_base, local.public_base_unreachable) == ("http://[::1]:3000", False)
    for wildcard in ("0.0.0.0", "::"):
        assert settings_from_env({**KEY, "HOST": wildcard}).public_base_unreachable
    assert not settings_from_env({**KEY, "HOST": "0.0.0.0", "PUBLIC_URL": "https://wa.x.com"}).public_base_unreachable


def test_repr_hides_secrets():
    s = settings_from_env({**KEY, "DB_HOST": "db", "DB_NAME": "x", "DB_PASSWORD": "hunter2-secret",
                           "WEBHOOK_URL": "https://user:pw-in-url@example.com/", "WEBHOOK_SECRET": SECRET})
    assert "hunter2" not in repr(s) and KEY["API_KEY"] not in repr(s)
    assert "pw-in-url" not in repr(s) and SECRET not in repr(s)


def test_a_bad_webhook_setting_stops_the_start_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "API_KEY": KEY["API_KEY"], "DATA_DIR": str(tmp_path),
           "WEBHOOK_URL": "https://example.com/hook", "WEBHOOK_SECRET": "not-a-secret"}
    done = subprocess.run([sys.executable, str(ROOT / "wsgi.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wamulti: invalid setting: WEBHOOK_SECRET must be 'whsec_'")


def test_bad_setting_stops_the_start_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "API_KEY": "short", "DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "wsgi.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["wamulti: invalid setting: API_KEY must be at least 16 characters long (got 5)"]
    assert "Traceback" not in done.stdout + done.stderr


def test_dotenv_is_read_and_environment_wins(tmp_path, monkeypatch):
    from wamulti.config import load_settings

    (tmp_path / ".env").write_text("API_KEY=from-dotenv-0123456789\nPORT=4000\n")
    monkeypatch.setenv("PORT", "5000")
    monkeypatch.delenv("API_KEY", raising=False)
    s = load_settings(tmp_path / ".env")
    assert (s.api_key, s.port) == ("from-dotenv-0123456789", 5000)


def test_http_connection_limit_defaults_to_a_share_of_the_descriptor_limit():
    from wamulti.config import default_connection_limit, descriptor_limit

    assert settings_from_env(KEY).http_connection_limit == default_connection_limit(descriptor_limit(), 10)
    assert settings_from_env({**KEY, "DB_POOL_SIZE": "50"}).http_connection_limit == default_connection_limit(
        descriptor_limit(), 50)
    # a shell's 1024: a quarter of what the store leaves; a unit's 65536: the cap; a tiny limit: the floor
    assert [default_connection_limit(n, 10) for n in (1024, 65536, 256)] == [237, 1000, 100]
    assert settings_from_env({**KEY, "HTTP_CONNECTION_LIMIT": "150"}).http_connection_limit == 150


@pytest.mark.parametrize("value, fragment", [
    ("many", "HTTP_CONNECTION_LIMIT must be a whole number from 10 to"),
    ("5", "HTTP_CONNECTION_LIMIT must be a whole number from 10 to"),
    ("100000000", "(the descriptor limit is"),
])
def test_an_http_connection_limit_past_the_descriptors_gives_one_line(value, fragment):
    with pytest.raises(ConfigError) as err:
        settings_from_env({**KEY, "HTTP_CONNECTION_LIMIT": value})
    assert fragment in str(err.value) and "\n" not in str(err.value)
