"""Several instances on one MySQL/MariaDB database (CLUSTER=on): each client owned by one live
instance through a lease on the database's clock, writes fenced by the lease's token, an instance
that cannot renew disconnecting its clients before its leases can expire (docs/scaling.md).

lease_timings.py   LeaseTimings: lease length, renew period, self-fencing margin, and why
lease_keeper.py    LeaseKeeper: the leases this process holds, their renewal and the self-fence
"""
