"""The OpenStack services, one module each (kolla-ansible's one place per
service): a module holds its service's `SPEC`, the data every other part
reads (packages, units, databases, Keystone user, catalog entries, ports,
log folders, config files and their group, schema checks), and the steps
that set the service up on the controller in phase 07.

Adding a service is adding a module here: phase 07's steps, the databases,
the Keystone catalog, the port and schema checks, the diagnostics' logs and
configs and the triage's logs are all made from `all_services()`.
Programs a service copies to its hosts live in on_host/ (not imported).
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from ..inventory import Inventory
from ..pki import Authority
from ..secrets import Secrets
from ..steps import Step


class Context(Protocol):
    """What a service's steps read: the inventory and the secrets (a phase's
    deploy.phases.Context is one; the services never import the phases)."""
    inventory: Inventory
    secrets: Secrets
    pki: Authority


@dataclass(frozen=True)
class Endpoint:
    """One entry of the Keystone catalog: a service of a type, its port and path."""
    type: str
    name: str
    description: str
    port: int
    path: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    name: str                                   # as Debian and the logs name it: "glance"
    position: int                               # its place in phase 07 (the report's script order)
    packages: tuple[str, ...]                   # installed on the controller
    units: tuple[str, ...]                      # kept running on the controller
    steps: Callable[[Context], list[Step]]      # phase 07's steps for it, in order
    group: str                                  # the group its config files belong to (root:GROUP 0640)
    databases: tuple[str, ...] = ()             # owned by the database user `name`
    keystone_user: str | None = None            # its service user in project `service`
    catalog: tuple[Endpoint, ...] = ()
    ports: Mapping[int, str] = field(default_factory=dict)   # port -> what listens, on the management address
    log_dirs: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()          # globs of its config files (diagnostics shows them masked)
    schema_checks: Mapping[str, str] = field(default_factory=dict)   # what -> command that fails off head schema
    # Its phase-07 steps need no other service's but those of the services without a
    # lane before it (Keystone: the catalog and service users): they run in a lane of
    # their own, beside the other services' (runner.apply_host).
    own_lane: bool = True


@cache
def all_services() -> tuple[ServiceSpec, ...]:
    """Every module's SPEC, in phase 07's order."""
    specs = []
    for module in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SPEC", None)
        if isinstance(spec, ServiceSpec):
            specs.append(spec)
    return tuple(sorted(specs, key=lambda s: s.position))


def service_users() -> list[str]:
    """The services' Keystone users, in phase 07's order."""
    return [s.keystone_user for s in all_services() if s.keystone_user]


def catalog_entries() -> list[Endpoint]:
    return [e for s in all_services() for e in s.catalog]


def endpoint_of(service_type: str) -> Endpoint:
    return next(e for e in catalog_entries() if e.type == service_type)


def database_owners() -> dict[str, str]:
    """database -> the user that owns it (one user may own several: nova)."""
    return {db: s.name for s in all_services() for db in s.databases}


def listening_ports() -> dict[int, str]:
    return {port: what for s in all_services() for port, what in s.ports.items()}


def log_dirs() -> tuple[str, ...]:
    return tuple(d for s in all_services() for d in s.log_dirs)


def config_files() -> tuple[str, ...]:
    return tuple(g for s in all_services() for g in s.config_files)


def schema_checks() -> dict[str, str]:
    return {what: command for s in all_services() for what, command in s.schema_checks.items()}
