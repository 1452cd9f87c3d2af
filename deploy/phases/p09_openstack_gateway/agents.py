"""02-neutron-agents-start: DHCP, metadata and L3 agents on the gateway (the
report's nova-network with its dnsmasq and NAT), and the public noVNC port."""
from __future__ import annotations

from ...firewall import Chain, RuleSet, firewall_steps
from ...inventory import Host, Inventory
from ...steps import Packages, Service, Step
from .. import Context
from ...services.shared import config, controller_name
from ..p08_openstack_compute import agent_steps

SCRIPT = "02-neutron-agents-start"
PACKAGES = ["neutron-dhcp-agent", "neutron-l3-agent", "neutron-metadata-agent"]
NOVNC_PORT = 6080


def agent_files(ctx: Context) -> dict[str, tuple[str, dict]]:
    """service -> (its ini file, its settings)."""
    lb = {"interface_driver": "linuxbridge"}
    return {
        "neutron-dhcp-agent": ("/etc/neutron/dhcp_agent.ini", {"DEFAULT": {
            **lb, "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
            # the DHCP namespace answers 169.254.169.254 too: guests get their
            # keys even on a network without a router
            "enable_isolated_metadata": True, "force_metadata": True}}),
        "neutron-l3-agent": ("/etc/neutron/l3_agent.ini", {"DEFAULT": lb}),
        "neutron-metadata-agent": ("/etc/neutron/metadata_agent.ini", {"DEFAULT": {
            "nova_metadata_host": controller_name(ctx.inventory), "nova_metadata_port": 8775,
            "metadata_proxy_shared_secret": ctx.secrets.get("metadata_proxy"), "metadata_workers": 1}}),
    }


def novnc_rules(inv: Inventory, host: Host) -> RuleSet:
    """The report ran the noVNC proxy on the gateway for the public network; here
    the gateway forwards its public port to the controller's proxy."""
    ctl = inv.controller.address
    port = str(NOVNC_PORT)
    return RuleSet("novnc", [
        # published on the public interface only (not through Neutron's provider bridge)
        Chain("nat", "PREROUTING", [["-i", host.public_interface, "-d", host.public_address, "-p", "tcp",
                                     "--dport", port, "-j", "DNAT", "--to-destination", f"{ctl}:{port}"]]),
        # the controller answers the gateway, whatever its own default route
        Chain("nat", "POSTROUTING", [["-d", ctl, "-p", "tcp", "--dport", port, "-m", "conntrack",
                                      "--ctstate", "DNAT", "-j", "MASQUERADE"]]),
        Chain("filter", "FORWARD", [["-i", host.public_interface, "-d", ctl, "-p", "tcp", "--dport", port, "-m", "conntrack",
                                     "--ctstate", "DNAT", "-j", "ACCEPT"]]),
    ])


def packages() -> Packages:
    return Packages(SCRIPT, PACKAGES, hold_services=True)


def steps(ctx: Context, host: Host) -> list[Step]:
    files, linuxbridge = agent_steps(ctx, host, SCRIPT)
    result: list[Step] = [packages(), *files]
    services: list[Step] = []
    for service, (path, settings) in agent_files(ctx).items():
        ini = config(SCRIPT, path, settings, group="neutron")
        result.append(ini)
        services.append(Service(SCRIPT, service, restart_on=[*files, ini]))
    result += linuxbridge + services + firewall_steps("02-novnc-forward", novnc_rules(ctx.inventory, host))
    if host.interfaces.get("provider"):
        result += firewall_steps(SCRIPT, provider_rules(host))
    return result


def provider_rules(host: Host) -> RuleSet:
    """The provider NIC is Neutron's: its bridge carries routers' and guests'
    frames, and nothing that enters it is for the host itself (a neighbour can
    address the bridge's MAC directly, whatever ARP says)."""
    return RuleSet("provider", [Chain("filter", "INPUT", [
        ["-m", "physdev", "--physdev-in", host.interfaces["provider"], "-j", "DROP"]])])
