"""`pytest --plan`: every phase's commands per host, in order, contacting nothing."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def pytest_run(tmp_path, *args, cwd=ROOT):
    """The suite's pytest, unable to deploy whatever regresses: collection only, no deploy, and a plugin
    that refuses (and records) any connection, process or lab operation; nothing may have been attempted."""
    contact = tmp_path / "contact.log"
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "--no-deploy", "-p", "tests.no_contact",
                          *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NO_CONTACT_LOG": str(contact)})
    assert not contact.exists(), f"pytest {args} attempted: {contact.read_text()}"
    return run


def test_plan_lists_phase_01_for_every_host_in_order(tmp_path):
    run = pytest_run(tmp_path, "--plan", "-p", "no:randomly")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    headers = [l for l in out.splitlines() if l.startswith("== 01-network-gateway")]
    assert [h.split()[3] for h in headers] == ["compute1", "compute2", "compute3", "compute4", "controller"]
    gateway = out.split("== 01-network-gateway on compute1")[1].split("== ")[0]
    order = [gateway.index(s) for s in ("01-iptables-nat", "02-ip-forward", "03-copy-hosts")]
    assert order == sorted(order)
    assert "iptables -w -t nat -A DPL-NAT-POSTROUTING -s 192.168.0.0/24 -o eth0 -j MASQUERADE" in gateway
    assert "192.168.0.5\tcontroller" in out
    assert "no host was contacted" in out


def test_plan_with_broken_inventory_fails_in_one_line(tmp_path):
    data = yaml.safe_load((ROOT / "inventory.yaml").read_text())
    data["glusterfs"]["replica"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    run = pytest_run(tmp_path, "--plan", f"--inventory={bad}")
    assert run.returncode == 4
    assert run.stdout.strip() == f"ERROR: inventory: {bad}: glusterfs.replica: 3 does not fit the 4 compute hosts " \
                                 "(their number must be a multiple of the replica count: 3 or 6 compute hosts for " \
                                 "replica 3, or replica 2 or 4 for these 4)"


def test_broken_inventory_stops_a_run_before_any_host(tmp_path):
    """Validation comes before collection (and pytest_run cannot deploy if it regressed)."""
    data = yaml.safe_load((ROOT / "inventory.yaml").read_text())
    data["hosts"][4]["roles"] = ["compute"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    run = pytest_run(tmp_path, f"--inventory={bad}", "-m", "gateway")
    assert run.returncode == 4
    assert "hosts: exactly one host must have role 'controller', found 0" in run.stderr
    assert "lab up" not in run.stdout + run.stderr
