"""Seams into other projects' internals: one module per project, each pinned by a contract test."""
