"""python -m deploy apply [--inventory PATH] [--until pNN]: converge the phases
without running checks (the pytest run does both); python -m deploy plan;
python -m deploy tempest-config [--out PATH]: tempest.conf for the deployed
cloud; python -m deploy tempest [--smoke | --regex R]: run Tempest against it;
python -m deploy drain HOST [--reason TEXT]: disable a compute's nova-compute
and live-migrate every guest away; python -m deploy undrain HOST: enable it."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from . import handoff
from .drain import DEFAULT_REASON
from .inventory import InventoryError, check_key_files, load_inventory
from .phases import Context, all_phases
from .plan import plan
from .remote import Pool, RemoteError
from .runlock import RunLockError, take_all
from .runner import PhaseError, PreconditionError, apply_phase, check_preconditions
from .secrets import MaskingFilter, Secrets, SecretsError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    parser.add_argument("command", choices=["apply", "plan", "tempest-config", "tempest", "drain", "undrain"])
    parser.add_argument("host", nargs="?", default=None, metavar="HOST",
                        help="drain, undrain: the compute (a nova-compute host Nova lists)")
    parser.add_argument("--inventory", default=os.environ.get("DEPLOY_INVENTORY", "inventory.yaml"))
    parser.add_argument("--until", default=None, metavar="pNN", help="apply, plan: last phase (default: all)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="tempest-config: where to write tempest.conf (default: LAB.state_dir/tempest/etc/)")
    parser.add_argument("--config", default=None, metavar="PATH",
                        help="tempest: the tempest.conf to use (default: the one tempest-config writes)")
    parser.add_argument("--junit", default=None, metavar="PATH", help="tempest: JUnit file (reports/tempest.xml)")
    parser.add_argument("--reason", default=None, metavar="TEXT",
                        help=f"drain: why, recorded as the service's disabled reason (default: {DEFAULT_REASON!r})")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--smoke", action="store_true", help="tempest: the smoke set")
    which.add_argument("--regex", default=None, metavar="R", help="tempest: tests matching R")
    args = parser.parse_args(argv)
    tempest_only = [o for o, v in (("--smoke", args.smoke), ("--regex", args.regex), ("--config", args.config),
                                   ("--junit", args.junit)) if v]
    if args.command != "tempest" and tempest_only:
        parser.error(f"{', '.join(tempest_only)}: only with the command tempest")
    if args.command != "tempest-config" and args.out:
        parser.error("--out: only with the command tempest-config")
    if args.command not in ("apply", "plan") and args.until:
        parser.error("--until: only with apply or plan")
    if args.command in ("drain", "undrain") and not args.host:
        parser.error(f"{args.command}: HOST missing (python -m deploy {args.command} HOST)")
    if args.command not in ("drain", "undrain") and args.host:
        parser.error(f"{args.host}: a HOST only with drain or undrain ({args.command} takes none)")
    if args.command != "drain" and args.reason is not None:
        parser.error("--reason: only with the command drain")
    if args.command == "drain":
        args.reason = DEFAULT_REASON if args.reason is None else args.reason
        if not 1 <= len(args.reason) <= 255 or not args.reason.isprintable():
            parser.error(f"--reason: {len(args.reason)} characters; Nova takes 1 to 255 printable ones on one line")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
        if args.command in ("tempest-config", "tempest"):
            return tempest_command(args, inventory)
        if args.command in ("drain", "undrain"):
            return drain_command(args, inventory)
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
            # every phase's, also with --until: an early phase (01's /etc/hosts) already acts on a
            # host the inventory lost (e.g. a brick there); they only read, nothing is changed
            check_preconditions(all_phases(), ctx, pool)
            for i, phase in enumerate(phases):
                apply_phase(phase, ctx, pool, ahead=phases[i + 1:])
        finally:
            pool.close()
        print(f"applied {len(phases)} phases in {time.monotonic() - started:.1f}s")
        if len(phases) == len(all_phases()):   # the whole cloud: hand it over
            files = handoff.write(inventory, ctx.secrets)
            print("\n".join(handoff.summary(inventory, ctx.secrets, files)))
    except (InventoryError, SecretsError, PhaseError, PreconditionError, RunLockError, RemoteError,
            handoff.HandoffError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2
    return 0


def tempest_command(args: argparse.Namespace, inventory) -> int:
    from keystoneauth1 import exceptions as ks_exc

    from . import tempest, tempest_config

    if not inventory.secrets_path.exists():
        print(f"deploy: {args.command}: no secrets file {inventory.secrets_path}: deploy the cloud first "
              "(python -m deploy apply)", file=sys.stderr)
        return 2
    secrets = Secrets(inventory.secrets_path, create=False)
    try:
        if args.command == "tempest-config":
            path = tempest_config.write(inventory, secrets, tempest_config.cloud_facts(inventory, secrets),
                                        Path(args.out) if args.out else None)
            print(f"tempest.conf written: {path} (mode 0600: it holds the admin's password)")
            return 0
        config = Path(args.config) if args.config else tempest_config.default_config_path(inventory)
        outcome = tempest.run(inventory, config, Path(args.junit) if args.junit else tempest.DEFAULT_JUNIT,
                              smoke=args.smoke, regex=args.regex)
    except (tempest.TempestError, tempest_config.TempestConfigError, handoff.HandoffError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2
    except ks_exc.ClientException as e:   # the cloud's APIs, asked for image and network ids
        print(f"deploy: {args.command}: the cloud at {handoff.auth_url(inventory)} did not answer as deployed: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print("\n".join(outcome.lines()))
    return 1 if outcome.failed else 0


def drain_command(args: argparse.Namespace, inventory, nova=None) -> int:
    """drain or undrain args.host as the cloud's admin. Exit 2: the command could
    not run (no secrets file, a host Nova does not list, the cloud not answering);
    1: the host was not left empty (the guest at fault named); 0: done.
    `nova`: a client to use instead of the admin's (self-tests)."""
    from keystoneauth1 import exceptions as ks_exc
    from novaclient import exceptions as nova_exceptions

    from . import drain

    where = f"{args.command} {args.host}"
    computes = [h.name for h in inventory.with_role("compute")]
    try:
        if nova is None:
            nova = admin_nova(inventory, where)
        if args.command == "drain":
            moved = drain.drain(nova, args.host, args.reason, inventory_computes=computes)
            print("\n".join([m.line() for m in moved] + [
                f"{args.host}: drained: {len(moved)} guest(s) moved, none left; its {drain.COMPUTE} stays disabled "
                f"until: python -m deploy undrain {args.host}"]))
        else:
            print("\n".join(drain.undrain(nova, args.host, inventory_computes=computes)))
    except (drain.DrainRefused, SecretsError) as e:
        print(f"deploy: {where}: {e}", file=sys.stderr)
        return 2
    except drain.DrainFailed as e:
        print(f"deploy: {where}: {e}", file=sys.stderr)
        return 1
    except (ks_exc.ClientException, nova_exceptions.ClientException) as e:
        print(f"deploy: {where}: the cloud at {handoff.auth_url(inventory)} did not answer as deployed: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


def admin_nova(inventory, where: str):
    """Nova's client as the cloud's admin; SecretsError when there is no secrets file to read the password from."""
    from novaclient import client as nova_client

    from .openstack_api import NOVA_MICROVERSION, admin_session

    if not inventory.secrets_path.exists():
        raise SecretsError(f"no secrets file {inventory.secrets_path}: deploy the cloud first (python -m deploy apply)")
    secrets = Secrets(inventory.secrets_path, create=False)
    return nova_client.Client(NOVA_MICROVERSION, session=admin_session(inventory, secrets))


if __name__ == "__main__":
    sys.exit(main())
