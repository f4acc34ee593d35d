"""The MySQL/MariaDB error numbers the store reacts to, and how it sorts them."""

from __future__ import annotations

from enum import IntEnum


class ServerCode(IntEnum):
    """The MySQL/MariaDB error numbers the store reacts to (ER_* from the server, CR_* from the client)."""

    CON_COUNT_ERROR = 1040
    DBACCESS_DENIED = 1044
    ACCESS_DENIED = 1045
    BAD_DB = 1049
    SERVER_SHUTDOWN = 1053
    DUP_FIELDNAME = 1060  # a column added twice
    DUP_KEYNAME = 1061  # an index created twice
    DUP_ENTRY = 1062
    NET_PACKET_TOO_LARGE = 1153
    LOCK_WAIT_TIMEOUT = 1205
    LOCK_DEADLOCK = 1213
    NO_REFERENCED_ROW = 1452
    CONNECTION_KILLED = 1927
    CONN_HOST_ERROR = 2003
    SERVER_GONE = 2006  # how an oversized packet often shows: the server drops the connection
    SERVER_LOST = 2013
    COMMANDS_OUT_OF_SYNC = 2014
    SERVER_LOST_EXTENDED = 2055


CONNECTION_CODES = (
    ServerCode.CONN_HOST_ERROR, ServerCode.SERVER_GONE, ServerCode.SERVER_LOST, ServerCode.COMMANDS_OUT_OF_SYNC,
    ServerCode.SERVER_LOST_EXTENDED, ServerCode.CON_COUNT_ERROR, ServerCode.SERVER_SHUTDOWN,
    ServerCode.LOCK_WAIT_TIMEOUT, ServerCode.LOCK_DEADLOCK, ServerCode.CONNECTION_KILLED,
)
# what a migration step that an interrupted run applied already answers when run again
ALREADY_APPLIED = (ServerCode.DUP_FIELDNAME, ServerCode.DUP_KEYNAME)
FIRST_CLIENT_CODE = 2000  # CR_* numbers and above: the client side lost (or never had) the connection
ACCESS_PROBLEMS = {ServerCode.DBACCESS_DENIED: "access to the database denied",
                  ServerCode.ACCESS_DENIED: "login refused (check DB_USER/DB_PASSWORD)",
                  ServerCode.BAD_DB: "unknown database (check DB_NAME; it must exist)"}
