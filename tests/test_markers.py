"""What `pytest -m ROLE` and `-m pNN` select for the default inventory, pinned:
an item that runs on a host carries that host's roles; an API check carries the
role whose service it checks; `all` marks checks that run on every host.
Collection runs in a subprocess with `--collect-only --no-deploy` and a plugin
that refuses (and records) any connection, process or lab operation."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy.inventory import load_inventory
from deploy.phases import all_phases

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = load_inventory(ROOT / "inventory.yaml", check_keys=False)
HOSTS = {h.name: h for h in INVENTORY.hosts}
ROLES = ("controller", "compute", "gateway")
PHASES = [p.id for p in all_phases()]

# API checks (no host parameter) and the role whose service each checks.
API_CHECKS = {
    "test_admin_gets_a_token_and_every_service_user_exists": {"controller"},
    "test_every_catalog_endpoint_returns_its_version_document": {"controller"},
    "test_every_catalog_endpoint_answers_a_client_that_keeps_its_connection": {"controller"},
    "test_glance_has_every_inventory_image_active_with_its_checksum": {"controller"},
    "test_nova_services_all_up": {"controller"},
    "test_neutron_answers_with_networks": {"controller"},
    "test_the_inventorys_flavors_exist_with_their_ids_and_sizes": {"controller"},
    "test_cinder_services_all_up": {"controller"},
    "test_service_users_log_in_with_the_secrets_file_passwords": {"controller"},
    "test_written_on_one_host_read_on_every_other": {"controller", "compute"},
    "test_every_compute_is_a_hypervisor": {"compute"},
    "test_every_compute_answers_rpc_calls": {"compute"},
    "test_service_table_all_smiling": {"compute"},
    "test_linuxbridge_agent_alive_on_every_compute": {"compute"},
    "test_every_neutron_agent_alive_on_its_host": {"gateway"},
    "test_vm_network_has_a_subnet_with_dhcp": {"gateway"},
    "test_router_joins_the_vm_network_to_the_public_network": {"gateway"},
    "test_default_security_group_allows_icmp_and_ssh": {"gateway"},
    "test_management_traffic_leaves_with_the_gateway_public_address": {"gateway"},
    "test_from_the_public_network_only_the_published_ports_answer": {"gateway"},
    "test_through_the_provider_bridge_nothing_answers": {"gateway"},
    "test_memcached_answers_its_clients_only": {"controller"},
}
# Checks that run on every host: `-m all`.
EVERY_HOST_CHECKS = {"test_every_host_resolves_every_other", "test_localhost_resolves", "test_chrony_installed",
                     "test_chronyd_synchronised_where_the_host_can_set_the_clock",
                     "test_clock_within_a_second_of_the_operator", "test_debconf_answers_loaded"}


def collect(tmp: Path, *args: str) -> list[str]:
    """Node ids `pytest --collect-only -q --no-deploy ARGS` lists; nothing may be contacted."""
    log = tmp / f"contact-{abs(hash(args))}.log"
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--no-deploy",
                          "-p", "tests.no_contact", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NO_CONTACT_LOG": str(log)})
    assert run.returncode in (0, 5), run.stdout[-3000:] + run.stderr[-3000:]  # 5: nothing selected
    assert not log.exists(), f"collection with {args} contacted something:\n{log.read_text()}"
    assert "lab up" not in run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def selections(tmp_path_factory) -> dict[str, list[str]]:
    tmp = tmp_path_factory.mktemp("collect")
    expressions = ["", *ROLES, "all", "scenario", "tempest", "day2", *PHASES]
    with ThreadPoolExecutor(3) as pool:
        found = pool.map(lambda e: collect(tmp, *(["-m", e] if e else [])), expressions)
    return dict(zip(expressions, found))


def function(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def host(nodeid: str) -> str | None:
    params = nodeid.partition("[")[2].rstrip("]")
    return next((p for p in params.split("-") if p in HOSTS), None)


def test_the_plugin_refuses_and_records_contact(tmp_path):
    log = tmp_path / "contact.log"
    probe = ("import socket, lab, tests.no_contact\n"
             "for attempt in (lambda: socket.create_connection(('127.0.0.1', 9), timeout=1), lambda: lab.up(None)):\n"
             "    try:\n        attempt()\n    except tests.no_contact.ContactAttempted:\n        pass\n")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "NO_CONTACT_LOG": str(log)})
    assert run.returncode == 0, run.stderr
    assert log.read_text().splitlines() == ["connect to ('127.0.0.1', 9)", "lab.up()"]


@pytest.mark.parametrize("role", ROLES)
def test_role_marker_selects_its_hosts_items_and_its_api_checks(selections, role):
    everything = selections[""]
    expected = {i for i in everything if host(i) and HOSTS[host(i)].has_role(role)}
    expected |= {i for i in everything if i.startswith("checks/") and not host(i)
                 and role in API_CHECKS.get(function(i), ())}
    selected = set(selections[role])
    assert selected == expected, (f"-m {role}: unexpected {sorted(selected - expected)}; "
                                  f"missing {sorted(expected - selected)}")


def test_gateway_selects_the_gateway_agents_networks_router_and_nothing_on_other_hosts(selections):
    selected = selections["gateway"]
    assert {host(i) for i in selected} == {INVENTORY.gateway.name, None}
    for name in ("test_every_neutron_agent_alive_on_its_host", "test_vm_network_has_a_subnet_with_dhcp",
                 "test_router_joins_the_vm_network_to_the_public_network", "test_nat_rules_present"):
        assert any(function(i) == name for i in selected), f"-m gateway lacks {name}"


def test_controller_selects_only_what_runs_on_the_controller(selections):
    selected = selections["controller"]
    assert {host(i) for i in selected} == {INVENTORY.controller.name, None}
    for name in ("test_admin_gets_a_token_and_every_service_user_exists",
                 "test_every_catalog_endpoint_returns_its_version_document", "test_nova_services_all_up",
                 "test_cinder_services_all_up"):
        assert any(function(i) == name for i in selected), f"-m controller lacks {name}"


def test_every_check_carries_a_role(selections):
    """Each check (not scenario) is selected by some role marker, and each API check's role is pinned above."""
    checks = {i for i in selections[""] if i.startswith("checks/")}
    by_roles = set().union(*(selections[r] for r in ROLES))
    assert checks - by_roles == set()
    unpinned = {function(i) for i in checks if not host(i)} - set(API_CHECKS)
    assert not unpinned, f"API checks without a pinned role: {sorted(unpinned)}"


def test_all_selects_the_checks_of_every_host_on_every_host(selections):
    selected = selections["all"]
    every = [p.id for p in all_phases() if "all" in p.roles]
    expected = {i for i in selections[""] if host(i) and (
        function(i) in EVERY_HOST_CHECKS or (function(i) == "test_every_service_of_the_phase_runs"
                                             and i.partition("[")[2].split("-")[0] in every))}
    assert set(selected) == expected
    for name in {function(i) for i in selected} - {"test_every_service_of_the_phase_runs"}:
        assert {host(i) for i in selected if function(i) == name} == set(HOSTS), f"{name} is not on every host"


@pytest.mark.parametrize("phase", PHASES)
def test_phase_marker_selects_its_checks_and_its_services(selections, phase):
    expected = {i for i in selections[""] if i.startswith(f"checks/test_{phase}_")
                or (i.startswith("checks/test_services.py::") and f"[{phase}-" in i)}
    assert expected, f"no checks of {phase}"
    assert set(selections[phase]) == expected


def test_scenario_marker_selects_the_scenarios(selections):
    assert set(selections["scenario"]) == {i for i in selections[""] if i.startswith("scenarios/")}
    assert selections["scenario"]


def test_every_phase_has_its_fixture_declared_by_name():
    """pytest_deploy/phases.py names one fixture per phase (so grep finds phase_p05); none missing, none extra."""
    from pytest_deploy import phases as glue

    declared = sorted(name for name in vars(glue) if name.startswith("phase_p"))
    assert declared == [f"phase_{p}" for p in PHASES]


def test_tempest_runs_only_when_asked_for(selections):
    """`pytest -m tempest` selects Tempest's smoke test; the default run and `-m scenario` do not."""
    assert selections["tempest"] == ["scenarios/test_tempest.py::test_tempest_smoke_set_passes"]
    assert not [i for i in selections[""] + selections["scenario"] if "test_tempest" in i]


def test_day2_runs_only_when_asked_for_in_its_order(selections):
    """`pytest -m day2` selects the four day-2 scenarios, scale-out first (each starts from the state
    the one before leaves); no other selection has them."""
    assert [function(i) for i in selections["day2"]] == [
        "test_scale_out_brings_the_new_compute_in", "test_the_inventory_without_the_new_compute_is_refused_naming_it",
        "test_drain_empties_the_host_and_undrain_brings_it_back",
        "test_a_power_cut_loses_no_guest_and_the_host_heals_on_return"]
    assert not [i for e, found in selections.items() if e != "day2" for i in found if "test_day2" in i]


def test_the_images_booted_ahead_are_created_after_the_busiest_scenario_and_logged_into_last(selections):
    """The guest-per-compute test (four boots at once) opens the scenarios; the first image's
    login test, which asks for `booting_ahead` (every image after the first is created then
    and boots while the other scenarios run), comes next; those images' tests come last."""
    scenarios = selections["scenario"]
    images = [i.name for i in INVENTORY.images]
    boots = [i for i in scenarios if function(i) == "test_boot_each_image_and_log_in"]
    assert [b.partition("[")[2].rstrip("]") for b in boots] == images
    assert function(scenarios[0]) == "test_every_compute_runs_a_guest" and scenarios[1] == boots[0]
    assert scenarios[len(scenarios) - len(images) + 1:] == boots[1:]
    assert selections[""][-len(images) + 1:] == boots[1:]
