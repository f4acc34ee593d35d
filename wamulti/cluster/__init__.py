"""Several instances on one MySQL/MariaDB database (CLUSTER=on, docs/scaling.md): each client owned by
one live instance through a lease on the database's clock, its writes fenced by the lease's token, an
instance that cannot renew disconnecting its clients before its leases can expire.

lease_timings.py   LeaseTimings: lease length, renew period, self-fencing margin, and why
lease_keeper.py    LeaseKeeper: the leases this process holds, their renewal and the self-fence
placement.py       Placement: the share of each instance, takes, bounded graceful hand-overs
queue_pickup.py    QueuePickup: queued sends other instances accepted, handed to their owner's queues
whereabouts.py     Whereabouts: which instance runs which client, the instances
cluster_node.py    ClusterNode: one instance's part, started and stopped by server.py

It imports only store/ and errors; the registry is reached through its hooks (clients/cluster_hooks.py).
"""
