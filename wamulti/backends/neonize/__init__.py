"""The real WhatsApp backend on neonize (whatsmeow in Go): the backend, its Go lock and calls, what it
sends and hears, its starts, and pairing in a child process. See docs/neonize.md."""
