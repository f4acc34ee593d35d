"""Where the service may connect: which addresses are refused, and connecting only to vetted ones.

Used for webhooks now and for media URLs later, so it knows nothing of events. `ranges` names the
rule an address falls under, `hosts` reads the spellings of a URL host, `policy` checks hosts and
resolved names, `connections` dials an address that passed, `urls` makes a URL sendable and masks
its password.
"""
