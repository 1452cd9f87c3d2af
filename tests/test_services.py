"""Each OpenStack service's SPEC (deploy/services) says what its steps do:
the units its steps keep running, the packages they install, the config files
they write (matched by its globs, owned by its group), its databases in phase
07's create-db steps, its users and endpoints in Keystone's catalog file."""
from __future__ import annotations

import fnmatch
import json

import pytest

from deploy.phases import Context
from deploy.phases import p07_openstack_controller
from deploy.secrets import Secrets
from deploy.services import all_services, catalog_entries, service_users
from deploy.services.keystone import CATALOG_FILE
from deploy.steps import Command, Edit, Packages, Service


@pytest.fixture
def ctx(default_inventory) -> Context:
    return Context(default_inventory, Secrets.placeholders())


@pytest.mark.parametrize("spec", all_services(), ids=lambda s: s.name)
def test_the_spec_says_what_its_steps_do(spec, ctx):
    steps = spec.steps(ctx)
    assert [s.unit for s in steps if isinstance(s, Service) and s.running] == list(spec.units)
    installed = [n for s in steps if isinstance(s, Packages) for n in s.names]
    assert installed == list(spec.packages)
    configs = [s for s in steps if isinstance(s, Edit) and s.path.endswith((".conf", ".ini"))
               and not s.path.endswith("-uwsgi.ini")]
    assert configs, f"{spec.name}: no config file among its steps"
    for step in configs:
        assert any(fnmatch.fnmatch(step.path, g) for g in spec.config_files), \
            f"{spec.name}: {step.path} matches none of its config_files {spec.config_files}"
        assert step.group == spec.group, f"{spec.name}: {step.path} group {step.group}, spec says {spec.group}"
    assert all(d.startswith("/var/log/") for d in spec.log_dirs) and spec.log_dirs
    assert {e.port for e in spec.catalog} <= set(spec.ports), f"{spec.name}: a catalog port is not in its ports"
    if spec.keystone_user:  # its configs authenticate as its own Keystone user
        rendered = "".join(s.transform(None) for s in configs)
        assert f"username = {spec.keystone_user}\n" in rendered, f"{spec.name}: no config logs in as its user"


def test_phase_07_creates_every_database_and_runs_every_unit(ctx):
    steps = p07_openstack_controller.steps(ctx, ctx.inventory.controller)
    titles = {s.title for s in steps if isinstance(s, Command)}
    units = {s.unit for s in steps if isinstance(s, Service)}
    for spec in all_services():
        for db in spec.databases:
            assert f"database {db} for user {spec.name}" in titles
        assert set(spec.units) <= units


def test_keystone_catalog_holds_every_service_user_and_endpoint(ctx):
    steps = p07_openstack_controller.steps(ctx, ctx.inventory.controller)
    catalog = json.loads(next(s.transform(None) for s in steps if isinstance(s, Edit) and s.path == CATALOG_FILE))
    assert list(catalog["users"]) == service_users()
    assert [(s["type"], s["name"]) for s in catalog["services"]] == [(e.type, e.name) for e in catalog_entries()]
