"""python -m deploy apply [--inventory PATH] [--until pNN]: converge the phases
without running checks (the pytest run does both); python -m deploy plan."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from .inventory import InventoryError, check_key_files, load_inventory
from .phases import Context, all_phases
from .plan import plan
from .remote import Pool, RemoteError
from .runlock import RunLockError, take_all
from .runner import PhaseError, apply_phase
from .secrets import MaskingFilter, Secrets, SecretsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    parser.add_argument("command", choices=["apply", "plan"])
    parser.add_argument("--inventory", default=os.environ.get("DEPLOY_INVENTORY", "inventory.yaml"))
    parser.add_argument("--until", default=None, metavar="pNN", help="last phase to apply (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    try:
        inventory = load_inventory(args.inventory, check_keys=False)
        phases = all_phases()
        if args.until:
            ids = [p.id for p in phases]
            if args.until not in ids:
                raise InventoryError(f"--until: no phase {args.until} (phases: {', '.join(ids)})")
            phases = phases[:ids.index(args.until) + 1]
        if args.command == "plan":
            print(plan(inventory, phases))
            return 0
        if inventory.lab.embedded:
            import lab
            lab.up(inventory)
        check_key_files(inventory)
        ctx = Context(inventory, Secrets(inventory.secrets_path))
        pool = Pool(inventory.hosts)
        started = time.monotonic()
        try:
            take_all(pool)  # one run per host at a time; what a dead run left running is ended
            for i, phase in enumerate(phases):
                apply_phase(phase, ctx, pool, ahead=phases[i + 1:])
        finally:
            pool.close()
        print(f"applied {len(phases)} phases in {time.monotonic() - started:.1f}s")
    except (InventoryError, SecretsError, PhaseError, RunLockError, RemoteError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
