import pytest
from wamulti.store import open_store
from wamulti.store.base import ClientRecord, StoreError

def test_a_connection_lost_mid_transaction_writes_nothing(mariadb):
    store = open_store(mariadb.settings(mariadb.new_database(), db_pool_size=1))
    root = mariadb.root()
    with pytest.raises(StoreError):
        with store._tx() as cur:
            cur.execute("INSERT INTO clients (client_id, state, created_at, updated_at) VALUES ('one', 'READY', NOW(), NOW())")
            cur.execute("SELECT CONNECTION_ID()")
            with root.cursor() as admin:
                admin.execute(f"KILL {cur.fetchone()[0]}")
            cur.execute("INSERT INTO clients (client_id, state, created_at, updated_at) VALUES ('two', 'READY', NOW(), NOW())")
    assert [c.client_id for c in store.list_clients()] == []
