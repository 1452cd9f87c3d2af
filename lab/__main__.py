"""python -m lab up|status|down|destroy|ssh HOST|power-cut HOST [--inventory PATH]"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from deploy.inventory import InventoryError, load_inventory

from . import LabError, destroy, down, find_host, power_cut, status, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The embedded lab: hosts as containers.")
    parser.add_argument("command", choices=["up", "status", "down", "destroy", "ssh", "power-cut"])
    parser.add_argument("host", nargs="?", help="for ssh: the host to log in to; for power-cut: the host to kill")
    parser.add_argument("--inventory", default=os.environ.get("DEPLOY_INVENTORY", "inventory.yaml"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    try:
        inv = load_inventory(args.inventory, check_keys=False)
        if not inv.lab.embedded:
            raise LabError(f"{inv.path}: lab.embedded is false: this inventory names real hosts")
        if args.command == "up":
            up(inv)
        elif args.command == "down":
            down(inv)
        elif args.command == "destroy":
            destroy(inv)
        elif args.command == "status":
            for s in status(inv):
                print(f"{s.name:<12} {s.address:<15} {'running' if s.running else 'stopped':<8} "
                      f"ssh {'ok' if s.ssh else 'no'}")
        elif args.command == "power-cut":
            if not args.host:
                raise LabError("power-cut needs a host name: " + ", ".join(h.name for h in inv.hosts))
            print(f"{args.host}: {power_cut(inv, find_host(inv, args.host))} processes killed")
        elif args.command == "ssh":
            host = inv.host(args.host) if args.host else None
            if host is None:
                raise LabError("ssh needs a host name: " + ", ".join(h.name for h in inv.hosts))
            # the keys the lab recorded when it made the host; anything else is refused
            os.execvp("ssh", ["ssh", "-i", str(host.key), "-o", "StrictHostKeyChecking=yes",
                              "-o", f"UserKnownHostsFile={host.known_hosts}", "-o", "LogLevel=ERROR",
                              "-p", str(host.port), f"{host.user}@{host.address}"])
    except (InventoryError, LabError, KeyError) as e:
        print(f"lab: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
