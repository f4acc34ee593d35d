"""Sessions: a client's session file and its snapshots in the store, so restarts need no pairing.

persistence is what the store keeps of one client (written from its worker thread); group_commit
writes the snapshots and rows of many clients in one transaction; session_file copies and restores
files; snapshot_helpers runs the reader processes, snapshot_child.py is their script (standard
library only, started by path with `-I -S`).
"""
