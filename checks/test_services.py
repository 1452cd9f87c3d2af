"""Every service a phase starts is running on every host it targets: the
report's troubleshooting step "find the failed service, find its host, read
its log", done for the operator. A unit that is down is named with its host,
its state, the last lines of its journal and the fix."""
from __future__ import annotations

import shlex

import pytest

from deploy.phases import Context, all_phases, started_units
from deploy.secrets import Secrets
from pytest_deploy import inventory_of

JOURNAL_LINES = 8


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = inventory_of(metafunc.config)
    listing = Context(inventory, Secrets.placeholders())  # unit names need no secrets
    params = []
    for phase in all_phases():
        for host in phase.targets(inventory):
            if not started_units(phase, listing, host):
                continue  # the phase starts nothing there (phase 09 on the controller: API calls)
            # role marks come from the host (pytest_deploy.hosts.mark_roles_by_host); `all`: the phase targets every host
            marks = [getattr(pytest.mark, phase.id)] + ([pytest.mark.all] if "all" in phase.roles else [])
            params.append(pytest.param(phase, host.name, marks=marks, id=f"{phase.id}-{host.name}"))
    metafunc.parametrize(("phase", "host_name"), params)


def test_every_service_of_the_phase_runs(phase, host_name, request, deploy_context, pool):
    request.getfixturevalue(f"phase_{phase.id}")
    host = deploy_context.inventory.host(host_name)
    wanted = started_units(phase, deploy_context, host)
    states = pool[host_name].run_many([f"systemctl is-active {shlex.quote(u)}" for u in wanted])
    down = {u: r.stdout.strip() or "unknown" for u, r in zip(wanted, states) if r.stdout.strip() != "active"}
    if down:
        journals = pool[host_name].run_many(
            [f"journalctl -u {shlex.quote(u)} -n {JOURNAL_LINES} --no-pager -o short-iso" for u in down])
        detail = "\n".join(f"--- journal of {u} on {host_name}:\n{j.stdout.strip()}" for u, j in zip(down, journals))
        pytest.fail(f"{host_name}: {', '.join(f'{u} is {s}' for u, s in down.items())} "
                    f"(phase {phase.title} starts it). Fix: `systemctl start {' '.join(down)}` on {host_name}, "
                    f"or re-run the deploy, which starts it again; then read its journal:\n{detail}",
                    pytrace=False)
