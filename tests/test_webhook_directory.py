"""The webhook directory's start-up read: every stored webhook at once, on SQLite and on real MariaDB."""

from __future__ import annotations

from wamulti.hearing.webhook_directory import CACHE_SECONDS, WebhookConfig, WebhookDirectory
from wamulti.hearing.event_fields import new_secret
from wamulti.store.store_api import ClientRecord, StoreUnavailable
from wamulti.store.event_rows import WebhookRow


class Counting:
    """The store, counting the per-client webhook lookups; all_webhooks fails while `down`."""

    def __init__(self, store):
        self._store, self.lookups, self.down = store, [], False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get_webhook(self, client_id):
        self.lookups.append(client_id)
        return self._store.get_webhook(client_id)

    def all_webhooks(self):
        if self.down:
            raise StoreUnavailable("database unavailable")
        return self._store.all_webhooks()


def hooked(store, *ids) -> None:
    for client_id in ("a", "b", "c"):
        store.create_client(ClientRecord(client_id, "READY"))
    for client_id in ids:
        store.save_webhook(WebhookRow(client_id, f"http://127.0.0.1:9/{client_id}", "*", new_secret()))


def test_all_webhooks_reads_every_stored_webhook_as_each_reads_alone(store):
    hooked(store, "a", "c")
    assert store.all_webhooks() == [store.get_webhook("a"), store.get_webhook("c")]


def test_preloaded_webhooks_answer_every_client_without_a_lookup_of_its_own(store):
    hooked(store, "a")
    counting = Counting(store)
    directory = WebhookDirectory(counting)
    directory.preload()
    assert directory.for_client("a").url == "http://127.0.0.1:9/a"
    assert directory.for_client("b") is None and directory.own("never-stored") is None
    assert counting.lookups == []


def test_changes_win_over_the_preload_at_once_and_another_instances_after_the_cache_time(store):
    hooked(store, "a")
    now = [100.0]
    counting = Counting(store)
    directory = WebhookDirectory(counting, clock=lambda: now[0])
    directory.preload()
    directory.save(WebhookConfig("http://127.0.0.1:9/new-b", new_secret(), client_id="b"))
    directory.delete("a")
    assert directory.own("b").url == "http://127.0.0.1:9/new-b" and directory.own("a") is None
    store.save_webhook(WebhookRow("c", "http://127.0.0.1:9/other-instance", "*", new_secret()))
    assert directory.own("c") is None, "within the cache time the preload still answers"
    now[0] += CACHE_SECONDS + 0.1
    assert directory.own("c").url == "http://127.0.0.1:9/other-instance" and counting.lookups == ["c"]


def test_a_client_just_created_has_no_webhook_without_a_lookup_and_a_later_put_wins(store):
    counting = Counting(store)
    directory = WebhookDirectory(counting)
    store.create_client(ClientRecord("new", "CONNECTING"))
    directory.created("new")
    assert directory.for_client("new") is None and counting.lookups == []
    directory.save(WebhookConfig("http://127.0.0.1:9/new", new_secret(), client_id="new"))
    assert directory.own("new").url == "http://127.0.0.1:9/new" and counting.lookups == []


def test_a_forgotten_client_loses_its_preloaded_webhook(store):
    hooked(store, "a")
    directory = WebhookDirectory(store)
    directory.preload()
    store.delete_client("a")
    directory.forget("a")
    assert directory.own("a") is None


def test_a_failed_preload_leaves_each_client_to_look_its_own_up(store):
    hooked(store, "a")
    counting = Counting(store)
    counting.down = True
    directory = WebhookDirectory(counting)
    directory.preload()
    assert directory.own("a").url == "http://127.0.0.1:9/a" and directory.own("b") is None
    assert counting.lookups == ["a", "b"]


def test_presence_is_opt_in_all_types_leave_it_out_and_naming_it_takes_it():
    from wamulti.hearing.event_fields import check_event_types
    from wamulti.hearing.event_model import EventType

    everything = WebhookConfig("http://127.0.0.1:9/", new_secret(), check_event_types(["*"]))
    assert everything.applies_to("call") and everything.applies_to("message.reaction")
    assert not everything.applies_to("presence"), "'*' is every type but the chatty opt-in ones"
    assert WebhookConfig("u", "s", check_event_types(["presence"])).applies_to("presence")
    both = check_event_types(["*", "presence"])
    assert both == frozenset(EventType) and WebhookConfig("u", "s", both).event_list == sorted(t.value for t in EventType)
