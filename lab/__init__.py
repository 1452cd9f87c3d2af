"""The embedded lab: the inventory's hosts as systemd containers on this machine.

    up(inventory)       bring every host up (idempotent; recovers after a crash)
    down(inventory)     stop the hosts, keep their trees and disks
    destroy(inventory)  remove everything but the caches (base tree, proxy cache)
    status(inventory)   each host, its address, whether it runs and answers SSH
"""
from .core import HostStatus, destroy, down, status, up
from .errors import LabError

__all__ = ["HostStatus", "LabError", "destroy", "down", "status", "up"]
