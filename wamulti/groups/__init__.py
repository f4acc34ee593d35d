"""A client's groups: the cache of its joined groups kept fresh by WhatsApp's group events, the
group calls behind the API (rate-limited metadata reads), and the group events they publish.

Imports: clients -> groups -> (hearing, backends, errors). Never on the send path: a send to a
group JID goes through the client's queue like any other and reads nothing here.
"""
