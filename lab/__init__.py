"""The embedded lab: the inventory's hosts as systemd containers on this machine.

    up(inventory)       bring every host up (idempotent; recovers after a crash)
    down(inventory)     stop the hosts, keep their trees and disks
    destroy(inventory)  remove everything but the caches (base tree, proxy cache)
    status(inventory)   each host, its address, whether it runs and answers SSH
    power_cut(inventory, host)  kill a host's container at once, as a power cut would
(down, destroy and status cover every host the lab made, also one a grown
inventory added and this one does not name: made_hosts.)
"""
from .core import HostStatus, destroy, down, find_host, made_hosts, power_cut, status, up
from .errors import LabError

__all__ = ["HostStatus", "LabError", "destroy", "down", "find_host", "made_hosts", "power_cut", "status", "up"]
