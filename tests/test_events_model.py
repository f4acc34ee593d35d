"""The event vocabulary: ids, the wire shape, and the validation of webhook input."""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta, timezone

import pytest

from wamulti.errors import InvalidField
from wamulti.hearing.event_fields import (check_event_id, check_event_type, check_event_types, check_secret,
    check_url, mask_secret, new_secret)
from wamulti.hearing.event_model import Event, EventType, event_id_floor, new_event_id


def test_event_ids_are_ulids_that_strictly_increase_even_within_one_millisecond():
    ids = [new_event_id() for _ in range(5000)]  # thousands per millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(i) == 30 and i.startswith("evt_") for i in ids)
    assert all(set(i[4:]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)


def test_event_ids_made_on_many_threads_are_unique():
    made: list[list[str]] = [[] for _ in range(8)]
    threads = [threading.Thread(target=lambda out: out.extend(new_event_id() for _ in range(2000)), args=(m,))
               for m in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for m in made for i in m]
    assert len(set(every)) == len(every) and all(m == sorted(m) for m in made)


def test_ids_sort_by_creation_time_and_the_floor_separates_older_ids():
    before = new_event_id()
    floor = event_id_floor(datetime.now(timezone.utc) + timedelta(milliseconds=5))
    assert before < floor
    assert event_id_floor(datetime(2020, 1, 1)) < before


def test_an_event_has_the_documented_wire_shape():
    event = Event.new("work-phone", "message", {"text": "hi"})
    body = event.to_json()
    assert list(body) == ["id", "type", "clientId", "timestamp", "data"]
    assert (body["type"], body["clientId"], body["data"]) == ("message", "work-phone", {"text": "hi"})
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == len("2026-11-25T10:00:00.123Z")
    assert Event.from_json(body) == event and event.type is EventType.MESSAGE


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError):
        Event.new("a", "message.read", {})


@pytest.mark.parametrize("url, sent", [("https://example.com/hook", "https://example.com/hook"),
                                       ("http://127.0.0.1:8080/x?y=1", "http://127.0.0.1:8080/x?y=1"),
                                       ("http://user:pw@[::1]:9000/", "http://user:pw@[::1]:9000/"),
                                       ("HTTPS://EXAMPLE.COM", "https://example.com")])
def test_http_and_https_urls_with_a_host_are_accepted_in_the_form_they_are_sent_in(url, sent):
    assert check_url(url) == sent


@pytest.mark.parametrize("url", [None, "", "  ", 42, "ftp://example.com/", "example.com/hook", "http://",
                                 "https:///path", "http://exa mple.com/", "http://h:99999/", "javascript:alert(1)",
                                 "http://example.com/" + "x" * 2100])
def test_other_urls_are_refused_naming_the_field(url):
    with pytest.raises(InvalidField) as err:
        check_url(url)
    assert err.value.field == "url" and "'url'" in err.value.message


def test_secrets_are_whsec_base64_of_24_to_64_bytes():
    secret = new_secret()
    assert check_secret(secret) == secret and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret
    for bad in ["", "abc", "whsec_", "whsec_!!!!", "whsec_" + base64.b64encode(b"x" * 10).decode(),
                "whsec_" + base64.b64encode(b"x" * 65).decode(), base64.b64encode(b"x" * 32).decode(), 7]:
        with pytest.raises(InvalidField):
            check_secret(bad)
    assert mask_secret(secret).startswith("whsec_****") and secret[6:-4] not in mask_secret(secret)


def test_event_type_lists_are_known_types_or_the_star():
    assert check_event_types(["message", "client.state"]) == {EventType.MESSAGE, EventType.CLIENT_STATE}
    assert check_event_types(["*"]) is None and check_event_types(["message", "*"]) is None
    for bad in [[], "message", ["message", "nope"], [1], None]:
        with pytest.raises(InvalidField) as err:
            check_event_types(bad)
        assert err.value.field == "events"
    with pytest.raises(InvalidField):
        check_event_type("Message")


def test_event_ids_are_checked_and_their_ulid_part_read_case_insensitively():
    assert check_event_id("evt_01jd7q5r2w8x3m9k4t6v0b1n2c") == "evt_01JD7Q5R2W8X3M9K4T6V0B1N2C"
    for bad in ["", "evt_", "01JD7Q5R2W8X3M9K4T6V0B1N2C", "evt_01JD7Q5R2W8X3M9K4T6V0B1N2",
                "evt_01JD7Q5R2W8X3M9K4T6V0B1NIU", None, 5]:
        with pytest.raises(InvalidField):
            check_event_id(bad)
