"""08-openstack-compute: nova-compute and the Neutron linuxbridge agent on
every compute host, then the computes discovered into cell1.

The report's 02-install-nova ... 05-nova-compute-start. Instances live on the
GlusterFS mount (phase 04); the hypervisor type is the one phase 05 chose;
live migration goes over libvirt's TLS socket on the management address,
guest memory in QEMU's own TLS (phase 05's certificates), with no block
migration since the instances directory is shared.
Tenant networks are VXLAN over the management network; only the gateway
maps the physical public network (phase 09).
"""
from __future__ import annotations

from .. import discover
from ..facts import SqlScalar, check
from ..inventory import Host, Inventory
from ..steps import Await, Command, Ini, Packages, Service, Step
from . import Context, Phase, ebtables_repair, p06_openstack_all
from ..services.neutron import PUBLIC_PHYSNET
from ..services.shared import authtoken, config, service_credentials, transport_url


def nova_compute_conf(ctx: Context, host: Host) -> dict:
    inv = ctx.inventory
    ctl = inv.controller.name
    virt_type = ctx.fact(host, "virt_type")
    return {
        "DEFAULT": {"my_ip": host.address, "transport_url": transport_url(ctx, "nova"),
                    "instances_path": inv.glusterfs.mount_point, "compute_driver": "libvirt.LibvirtDriver",
                    # a qcow2 image stays qcow2 in the shared image cache: no full-size raw
                    # copy written through GlusterFS before a guest's first boot
                    "force_raw_images": False},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(ctx, "nova", cache=False),
        "service_user": {"send_service_user_token": True, **service_credentials(ctx, "nova")},
        "placement": service_credentials(ctx, "placement"),
        "neutron": service_credentials(ctx, "neutron"),
        "glance": {"api_servers": f"http://{ctl}:9292"},
        "cinder": {"os_region_name": inv.region},
        "vnc": {"enabled": True, "server_listen": host.address, "server_proxyclient_address": host.address,
                "novncproxy_base_url": f"https://{inv.gateway.public_address}:6080/vnc_auto.html"},
        "libvirt": {"virt_type": virt_type,
                    # the shared instances directory makes block migration needless
                    "live_migration_scheme": "tls", "live_migration_inbound_addr": host.address,
                    "live_migration_with_native_tls": True,
                    "live_migration_permit_auto_converge": True},
        "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
    }


def linuxbridge_agent(inv: Inventory, host: Host) -> dict:
    mappings = f"{PUBLIC_PHYSNET}:{host.provider_interface}" if host.has_role("gateway") else None
    return {
        "linux_bridge": {"physical_interface_mappings": mappings},
        "vxlan": {"enable_vxlan": True, "local_ip": host.address, "l2_population": False},
        "securitygroup": {"enable_security_group": True,
                          "firewall_driver": "neutron.agent.linux.iptables_firewall.IptablesFirewallDriver"},
    }


def neutron_agent_conf(ctx: Context) -> dict:
    return {"DEFAULT": {"transport_url": transport_url(ctx, "neutron"), "auth_strategy": "keystone"},
            "oslo_concurrency": {"lock_path": "/var/lib/neutron/tmp"}}


# Asked of every host that runs the linuxbridge agent (phases 08 and 09).
AGENT_FACTS = {"ebtables_among_delete": ebtables_repair.AMONG_DELETE}


def agent_steps(ctx: Context, host: Host, script: str) -> tuple[list[Step], list[Step]]:
    """The linuxbridge agent's files and service (phase 09 reuses them on the
    gateway); ebtables repaired first where the host needs it (its ARP protection)."""
    conf = config(script, "/etc/neutron/neutron.conf", neutron_agent_conf(ctx), group="neutron")
    agent = config(script, "/etc/neutron/plugins/ml2/linuxbridge_agent.ini", linuxbridge_agent(ctx.inventory, host),
                   group="neutron")
    return ([*ebtables_repair.steps(ctx, host, script), conf, agent],
            [Service(script, "neutron-linuxbridge-agent", restart_on=[conf, agent])])


def packages(ctx: Context, host: Host) -> list[Step]:
    """The compute's packages, services held. Early (after phase 06's debconf answers)
    they need only phases 01-05 (04 the numeric ids, 05 the hypervisor chosen), so
    they install from the end of phase 05 on, while phase 07 sets up the controller."""
    if not host.has_role("compute"):
        return []
    hypervisor = "nova-compute-kvm" if ctx.fact(host, "virt_type") == "kvm" else "nova-compute-qemu"
    # genisoimage: Nova writes config drives with it (without it, `--config-drive
    # true` fails on the compute: "[Errno 2] No such file or directory")
    return [Packages("02-install-nova", ["nova-compute", hypervisor, "neutron-linuxbridge-agent", "genisoimage"],
                     hold_services=True)]


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    if host.has_role("controller"):
        computes = len(inv.with_role("compute"))
        # up as Nova judges it: a heartbeat within service_down_time (60 s)
        counted = SqlScalar("SELECT COUNT(*) FROM nova.services s WHERE s.binary='nova-compute' AND s.deleted=0 "
                      "AND s.updated_at > UTC_TIMESTAMP() - INTERVAL 50 SECOND")
        mapped = SqlScalar("SELECT COUNT(*) FROM nova_api.host_mappings")
        nodes = SqlScalar("SELECT COUNT(*) FROM nova.compute_nodes WHERE deleted=0")
        at_least = lambda fact, says: check(fact, lambda n: (n or 0) >= computes, says)  # noqa: E731
        return [
            Await("06-nova-discover", at_least(counted, f"{computes} nova-compute services up"),
                  f"all {computes} nova-compute services registered and up", timeout=600),
            # a service row comes first; its hypervisor record follows on the next resource update
            Await("06-nova-discover", at_least(nodes, f"{computes} compute nodes"),
                  f"all {computes} hypervisor records (compute nodes) reported", timeout=300),
            Command("06-nova-discover", "su -s /bin/sh -c 'nova-manage cell_v2 discover_hosts' nova",
                    unless=at_least(mapped, f"{computes} host mappings"), title=f"{computes} computes mapped into cell1"),
        ]
    if not host.has_role("compute"):
        return []
    nova = config("04-nova-config", "/etc/nova/nova.conf", nova_compute_conf(ctx, host), group="nova")
    # the hypervisor package's own file wins over nova.conf: it must say the same
    compute_conf = Ini("04-nova-config", "/etc/nova/nova-compute.conf",
                       {"libvirt": {"virt_type": ctx.fact(host, "virt_type")}}, mode="0640", group="nova")
    files, services = agent_steps(ctx, host, "04-neutron-agent-config")
    return [
        *packages(ctx, host),
        nova, compute_conf, *files,
        Service("05-nova-compute-start", "nova-compute", restart_on=[nova, compute_conf]),
        *services,
    ]


PHASE = Phase(8, "openstack-compute", ("compute", "controller"), steps,
              discover={"virt_type": discover.VIRT_TYPE, **AGENT_FACTS}, early_after=5,
              early=lambda ctx, host: p06_openstack_all.after_debconf(packages(ctx, host)))
