"""tempest.conf from what the suite knows: the inventory, the secrets, phase
07's flavors and users, phase 09's networks and dashboard, and what the cloud
answers (image and public network ids). Option names are Tempest 33.0.0's
(tempest/config.py of that tag; Debian 12's package), nothing guessed: a
self-test holds the list of the options used, taken from that file.

Feature flags say what this cloud does and does not do; each `False` below
carries its reason (the README's Tempest section lists the skips they cause).
"""
from __future__ import annotations

import configparser
import io
from dataclasses import dataclass
from pathlib import Path

import yaml

from .handoff import DOMAIN, auth_url, users, write_private
from .inventory import Inventory
from .phases.p07_openstack_controller.flavors import FLAVORS
from .phases.p09_openstack_gateway.dashboard import url as dashboard_url
from .pki import ca_file
from .phases.p09_openstack_gateway.networks import PUBLIC_NETWORK, VM_NETWORK
from .secrets import Secrets

NOVA_MAX_MICROVERSION = "2.93"     # Zed's highest
CINDER_MAX_MICROVERSION = "3.70"   # Zed's highest
# guests run under QEMU emulation on the embedded lab: debian takes ~90 s to SSH
BUILD_TIMEOUT = 600
SSH_TIMEOUT = 600


class TempestConfigError(RuntimeError):
    """What tempest.conf needs is not there (an image, the public network); the message says which."""


@dataclass(frozen=True)
class CloudFacts:
    """What only the deployed cloud knows."""
    image_ids: dict[str, str]     # inventory image name -> Glance id
    public_network_id: str
    image_file: Path | None       # the first image's file here, for scenario tests that upload their own
    network_extensions: tuple[str, ...] = ()   # Neutron's extension aliases, as it lists them


def workspace(inv: Inventory) -> Path:
    """Tempest's folder for this inventory: its config, locks, logs and .stestr."""
    return inv.lab.state_dir / "tempest"


def default_config_path(inv: Inventory) -> Path:
    return workspace(inv) / "etc" / "tempest.conf"


def flavor_ids(inv: Inventory) -> tuple[str, str]:
    """flavor_ref and flavor_ref_alt: m1.tiny and m1.small when the inventory makes them."""
    made = [n for n in FLAVORS if n in inv.flavors]
    if not made:
        raise TempestConfigError("openstack.flavors is empty: Tempest needs a flavor (m1.tiny, m1.small)")
    first = made[0]
    alt = made[1] if len(made) > 1 else first
    return FLAVORS[first][0], FLAVORS[alt][0]


def settings(inv: Inventory, secrets: Secrets, facts: CloudFacts, folder: Path) -> dict[str, dict[str, object]]:
    if not inv.images:
        raise TempestConfigError("images: the inventory has none; Tempest needs an image to boot")
    missing = [i.name for i in inv.images if i.name not in facts.image_ids]
    if missing:
        raise TempestConfigError(f"images {', '.join(missing)}: not active in Glance (deploy first)")
    # The first (small) image for both: under emulation a rebuild to the debian image costs minutes.
    image = alt_image = inv.images[0]
    flavor, flavor_alt = flavor_ids(inv)
    computes = len(inv.with_role("compute"))
    admin = dict(users())["admin"]
    return {
        "DEFAULT": {"log_dir": folder / "logs", "log_file": "tempest.log"},
        "oslo_concurrency": {"lock_path": folder / "lock"},
        "auth": {
            "admin_username": admin.name, "admin_password": secrets.get(admin.secret).reveal(),
            "admin_project_name": admin.project, "admin_domain_name": DOMAIN,
            # Tempest makes a project and users per test class (a primary and an alt user);
            # the demo user is in accounts.yaml for a run with use_dynamic_credentials = false
            "use_dynamic_credentials": True, "create_isolated_networks": True,   # its users get role member
            "default_credentials_domain_name": DOMAIN, "test_accounts_file": folder / "etc" / "accounts.yaml",
        },
        "identity": {"uri_v3": auth_url(inv), "auth_version": "v3", "region": inv.region,
                     "v3_endpoint_type": "public",
                     # the dashboard's HTTPS certificate is the suite's own authority's
                     "ca_certificates_file": str(ca_file(inv.secrets_path))},
        "identity-feature-enabled": {"api_v2": False, "api_v3": True},
        "compute": {
            "image_ref": facts.image_ids[image.name], "image_ref_alt": facts.image_ids[alt_image.name],
            "flavor_ref": flavor, "flavor_ref_alt": flavor_alt, "fixed_network_name": VM_NETWORK,
            "min_compute_nodes": computes, "region": inv.region, "build_timeout": BUILD_TIMEOUT,
            "min_microversion": "2.1", "max_microversion": NOVA_MAX_MICROVERSION,
        },
        "compute-feature-enabled": {
            # instances live on a share every compute mounts: live migration without block migration
            "live_migration": computes > 1, "live_migrate_back_and_forth": computes > 1,
            "block_migration_for_live_migration": False, "can_migrate_between_any_hosts": True,
            "config_drive": True, "metadata_service": True, "console_output": True,
            "vnc_console": True,   # noVNC through the gateway (phase 09)
            "interface_attach": True, "snapshot": True, "rescue": True, "pause": True, "suspend": True,
            "shelve": True,
            # Nova's libvirt driver asks over SSH between computes (as nova) whether the instances
            # path is shared before a resize or cold migration: no such SSH is set up
            "resize": False, "cold_migration": False,
            "attach_encrypted_volume": False,   # no key manager (Barbican) deployed
            "change_password": False,           # no guest agent in the images
        },
        "image": {"region": inv.region, "build_timeout": BUILD_TIMEOUT},
        "image-feature-enabled": {"api_v2": True, "api_v1": False},
        "network": {"public_network_id": facts.public_network_id, "floating_network_name": PUBLIC_NETWORK,
                    "region": inv.region, "project_networks_reachable": False},
        # the extensions Neutron has: Tempest's default `all` expects ones this cloud does not
        # deploy (DVR, L3 HA) and fails test_list_show_extensions on them
        "network-feature-enabled": {"port_security": True, "floating_ips": True,
                                    **({"api_extensions": ",".join(facts.network_extensions)}
                                       if facts.network_extensions else {})},
        "dashboard": {"dashboard_url": dashboard_url(inv.gateway)},
        "validation": {
            "run_validation": True, "connect_method": "floating", "auth_method": "keypair",
            "ip_version_for_ssh": 4, "network_for_ssh": PUBLIC_NETWORK,
            "image_ssh_user": image.login or "root", "image_alt_ssh_user": alt_image.login or "root",
            "ssh_timeout": SSH_TIMEOUT, "ping_timeout": 300,
        },
        "volume": {"region": inv.region, "build_timeout": BUILD_TIMEOUT, "volume_size": 1,
                   "min_microversion": "3.0", "max_microversion": CINDER_MAX_MICROVERSION},
        # Cinder's NFS driver on GlusterFS (phase 07): snapshots are off in the driver (no
        # nfs_snapshot_support), and with them clones; no cinder-backup runs
        "volume-feature-enabled": {"backup": False, "snapshot": False, "clone": False},
        "scenario": {"img_file": facts.image_file or "", "img_disk_format": image.disk_format,
                     "img_container_format": image.container_format,
                     "dhcp_client": "udhcpc"},   # tiny renews with busybox udhcpc, as CirrOS
        # volume attach has no flag of its own in Tempest 33.0.0: its attach tests run with cinder available
        "service_available": {"cinder": True, "neutron": True, "glance": True, "nova": True, "horizon": True,
                              "swift": False},
    }


def render(values: dict[str, dict[str, object]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str   # option names as Tempest spells them
    for section, options in values.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parser.set(section, key, text)
    out = io.StringIO()
    out.write("# tempest.conf written by `python -m deploy tempest-config`; it holds the admin's password.\n")
    parser.write(out)
    return out.getvalue()


def accounts(secrets: Secrets) -> str:
    """Tempest's pre-provisioned accounts: the demo tenant's user."""
    demo = dict(users())["demo"]
    return yaml.safe_dump([{"username": demo.name, "project_name": demo.project, "domain_name": DOMAIN,
                            "password": secrets.get(demo.secret).reveal(), "roles": ["member"]}],
                          default_flow_style=False, sort_keys=False)


def write(inv: Inventory, secrets: Secrets, facts: CloudFacts, out: Path | None = None) -> Path:
    """tempest.conf (0600) at `out` (default: the workspace's etc/), accounts.yaml beside it."""
    folder = workspace(inv)
    path = Path(out) if out else default_config_path(inv)
    path.parent.mkdir(parents=True, exist_ok=True)
    (folder / "etc").mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "lock"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    write_private(folder / "etc" / "accounts.yaml", accounts(secrets))
    return write_private(path, render(settings(inv, secrets, facts, folder)))


def cloud_facts(inv: Inventory, secrets: Secrets) -> CloudFacts:
    """Ask Glance for the images' ids and Neutron for the public network's."""
    from glanceclient import Client

    from . import glance_images
    from .phases.p07_openstack_controller import image_cache

    from .openstack_api import Neutron, admin_session

    sess = admin_session(inv, secrets)
    glance = Client("2", session=sess)
    ids = {}
    for image in inv.images:
        active = [i for i in glance.images.list(filters={"name": image.name}) if i.get("status") == "active"]
        if len(active) != 1:
            raise TempestConfigError(f"image {image.name}: {len(active)} active images of that name in Glance "
                                     "(phase 07 uploads exactly one)")
        ids[image.name] = active[0]["id"]
    neutron = Neutron(sess)
    found = [n for n in neutron.get(f"/networks?name={PUBLIC_NETWORK}&router:external=true")["networks"]]
    if len(found) != 1:
        raise TempestConfigError(f"network {PUBLIC_NETWORK}: Neutron has {len(found)} external networks of that "
                                 "name (phase 09 makes one)")
    image_file = glance_images.local_file(inv.images[0], image_cache()) if inv.images else None
    extensions = tuple(sorted(e["alias"] for e in neutron.get("/extensions")["extensions"]))
    return CloudFacts(ids, found[0]["id"], image_file, extensions)
