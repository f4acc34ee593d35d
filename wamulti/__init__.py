"""wamulti: many WhatsApp accounts behind one REST API."""

__version__ = "0.1.0"
