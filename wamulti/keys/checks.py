"""Validation of a new key's fields: the clients it names and its label (pure functions)."""

from __future__ import annotations

from ..errors import InvalidField
from ..fields.client_fields import validate_client_id

MAX_CLIENTS_PER_KEY = 100
LABEL_MAX = 100


def check_clients(value) -> tuple[str, ...]:
    """1-100 distinct valid client ids, in the order given."""
    if value is None:
        raise InvalidField("clients", "Field 'clients' is required: a list of the client ids the key may use.")
    if not isinstance(value, list):
        raise InvalidField("clients", "Field 'clients' must be a list of client ids.")
    if not value:
        raise InvalidField("clients", "Field 'clients' must name at least one client.")
    if len(value) > MAX_CLIENTS_PER_KEY:
        raise InvalidField("clients", f"Field 'clients' may name at most {MAX_CLIENTS_PER_KEY} clients "
                                      f"(got {len(value)}).")
    for number, client_id in enumerate(value, 1):
        try:
            validate_client_id(client_id)
        except InvalidField as exc:
            # the shared validator names the field 'clientId'; here it is an item of 'clients'
            raise InvalidField("clients", exc.message.replace("Field 'clientId'", f"Item {number} of 'clients'")
                               ) from None
    seen: set[str] = set()
    for client_id in value:
        if client_id in seen:
            raise InvalidField("clients", f"Field 'clients' names '{client_id}' twice.")
        seen.add(client_id)
    return tuple(value)


def check_label(value) -> str | None:
    """An optional label: 1-100 characters, no control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField("label", "Field 'label' must be a string.")
    if not value.strip():
        raise InvalidField("label", "Field 'label' must not be empty or only whitespace.")
    if len(value) > LABEL_MAX:
        raise InvalidField("label", f"Field 'label' must be at most {LABEL_MAX} characters long (got {len(value)}).")
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF), None)
    if bad is not None:
        raise InvalidField("label", "Field 'label' must not contain control characters or lone surrogates "
                                    f"(U+{ord(bad):04X}).")
    return value
