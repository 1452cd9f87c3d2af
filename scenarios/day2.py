"""Day 2 on the embedded lab, as an operator does it: the inventory gains a
compute (a grown copy of it that shares the cloud's secrets and CA), and the
suite's own commands are run against it: `python -m deploy apply --inventory`
to bring the host in, `python -m deploy drain|undrain` to empty it. The
commands run as subprocesses, as typed; their output goes to a log file of
the run, whose tail is the message when one fails."""
from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from deploy.inventory import Inventory, load_inventory
from deploy.remote import Remote, Result

log = logging.getLogger("scenarios.day2")
ROOT = Path(__file__).resolve().parent.parent


class CommandFailed(AssertionError):
    """One of the suite's commands exited non-zero: the message holds its log's tail."""


def new_compute(inventory: Inventory) -> tuple[str, str]:
    """The name and address of the next compute: computeN after the highest N, at the first
    management address no host, network or operator uses."""
    numbers = [int(h.name[len("compute"):]) for h in inventory.hosts
               if h.name.startswith("compute") and h.name[len("compute"):].isdigit()]
    taken = {ipaddress.ip_address(h.address) for h in inventory.hosts}
    taken.add(ipaddress.ip_address(inventory.management.operator_address))
    address = next(a for a in inventory.management.cidr.hosts() if a not in taken)
    return f"compute{max(numbers, default=0) + 1}", str(address)


def write_grown(inventory: Inventory, folder: Path) -> Path:
    """A copy of the inventory file with one compute more and the replica count raised to the
    number of computes (the only replica count 5 bricks allow when there were 4); its relative
    paths made absolute, its secrets the original's (secrets.file)."""
    raw = yaml.safe_load(inventory.path.read_text())
    name, address = new_compute(inventory)
    raw["hosts"].append({"name": name, "address": address, "roles": ["compute"],
                         "interfaces": {"management": inventory.with_role("compute")[-1].management_interface}})
    computes = len(inventory.with_role("compute")) + 1
    raw["glusterfs"]["replica"] = computes
    raw.setdefault("lab", {})
    raw["lab"]["state_dir"] = str(inventory.lab.state_dir)
    raw["lab"]["cache_dir"] = str(inventory.lab.cache_dir)
    raw.setdefault("ssh", {})["key"] = str(inventory.hosts[0].key)
    raw["ssh"]["known_hosts"] = str(inventory.hosts[0].known_hosts)
    raw["secrets"] = {"file": str(inventory.secrets_path)}
    for image in raw.get("images", []):
        if image.get("file"):
            image["file"] = str((inventory.path.parent / image["file"]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "inventory.yaml"
    path.write_text("# The embedded lab grown by the day-2 scenarios (scenarios/day2.py): "
                    f"{inventory.path} and {name}\n" + yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass
class Suite:
    """The suite's own commands against one inventory, logged to `log_dir`."""
    inventory_path: Path
    log_dir: Path

    def run(self, label: str, *args: str, timeout: float = 1800, exit_code: int = 0,
            inventory: Path | None = None) -> str:
        """Run `python -m ARGS --inventory PATH` (this suite's inventory unless another is named); its
        whole output goes to LOG_DIR/LABEL.log and is returned; another exit than `exit_code` fails
        with the log's tail."""
        argv = [sys.executable, "-m", *args, "--inventory", str(inventory or self.inventory_path)]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{label}.log"
        log.info("%s: %s (log %s)", label, " ".join(argv[1:]), path)
        with open(path, "w") as out:
            done = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        text = path.read_text(errors="replace")
        if done.returncode != exit_code:
            tail = "\n".join(text.splitlines()[-40:])
            raise CommandFailed(f"{' '.join(argv[1:])} exited {done.returncode}, not {exit_code} (log {path}):\n{tail}")
        return text

    def inventory(self) -> Inventory:
        return load_inventory(self.inventory_path, check_keys=False)


def on_host(inventory: Inventory, name: str, command: str, timeout: float = 120, check: bool = True) -> Result:
    """A command on one host of the inventory (non-zero exit with `check`: RemoteError, naming host and command)."""
    remote = Remote(inventory.host(name), connect_timeout=30)
    try:
        return remote.run(command, timeout=timeout, check=check)
    finally:
        remote.close()


def file_difference(new: list[str], old: list[str], shown: int = 8) -> str:
    """What a brick lacks or holds otherwise than another ("" when the two lists are the same):
    the `path size` lines only the old brick has, and those only the new one has."""
    lacking, extra = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    parts = [f"{len(found)} {label}: {', '.join(found[:shown])}{' ...' if len(found) > shown else ''}"
             for label, found in (("only on the old brick", lacking), ("only on the new", extra)) if found]
    return "; ".join(parts)
