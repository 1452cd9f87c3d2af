"""05-kvm-compute: the hypervisor on every compute host.

The report's 01-kvm-install ... 05-libvirt-start. Its test for hardware
virtualization (vmx/svm in /proc/cpuinfo) chooses KVM or QEMU emulation; the
choice is written to /etc/deploy/hypervisor for operators and later checks.

Live migration goes over libvirt's TCP socket, as in the report, but bound to
the host's management address and reachable only from the other compute
hosts (a firewall rule set), instead of unauthenticated TCP open to every
network. Migration data uses its own port range, apart from GlusterFS's.
"""
from __future__ import annotations

from .. import discover
from ..firewall import NEW_ONLY, Chain, RuleSet, firewall_steps
from ..inventory import Host, Inventory
from ..facts import in_group, is_path
from ..steps import Command, File, Ini, Packages, Service, Step
from . import Context, Phase

PACKAGES = ["qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "ovmf"]
LIBVIRT_TCP_PORT = "16509"
MIGRATION_PORTS = (61000, 61063)     # above GlusterFS's brick range 49152-60999

LIBVIRTD_CONF = {"": {
    "auth_tcp": '"none"',            # restricted by listen address and firewall (see module doc)
    "auth_unix_rw": '"none"',        # the socket itself admits only root and group libvirt (below)
    "log_outputs": '"3:journald"',
}}


def qemu_conf(container: bool) -> dict:
    settings = {
        "migration_port_min": MIGRATION_PORTS[0],
        "migration_port_max": MIGRATION_PORTS[1],
    }
    if container:
        # Inside a container the cgroup tree is read-only: libvirt must not try
        # to create its own v1 controllers (lab-notes: "Failed to create v1
        # controller cpu ... Read-only file system").
        settings["cgroup_controllers"] = "[ ]"
    return {"": settings}


def migration_rules(inv: Inventory, host: Host) -> RuleSet:
    ports = f"{LIBVIRT_TCP_PORT},{MIGRATION_PORTS[0]}:{MIGRATION_PORTS[1]}"
    rules = [["-s", h.address, "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "ACCEPT"]
             for h in inv.with_role("compute") if h.name != host.name]
    rules.append(["-p", "tcp", "-m", "multiport", "--dports", ports, *NEW_ONLY, "-j", "DROP"])  # replies pass
    return RuleSet("migrate", [Chain("filter", "INPUT", rules)])


def steps(ctx: Context, host: Host) -> list[Step]:
    if not host.has_role("compute"):
        return []
    inv = ctx.inventory
    virt_type = ctx.fact(host, "virt_type")
    container = ctx.fact(host, "container") not in ("none", "")
    result: list[Step] = [File("02-kvm-modprobe", "/etc/deploy/hypervisor", f"virt_type={virt_type}\n")]
    if virt_type == "kvm" and not container:
        result.append(Command("02-kvm-modprobe", "modprobe kvm_intel 2>/dev/null || modprobe kvm_amd",
                              unless=is_path("/dev/kvm", "character special file"), title="KVM module loaded"))
    result.append(Packages("03-libvirt-install", PACKAGES, hold_services=True))
    if virt_type == "kvm":
        result.append(Command("03-libvirt-install", "usermod -aG kvm libvirt-qemu",
                              unless=in_group("libvirt-qemu", "kvm"), title="guests may open /dev/kvm"))
    result += firewall_steps("04-libvirt-config", migration_rules(inv, host))
    conf = Ini("04-libvirt-config", "/etc/libvirt/libvirtd.conf", LIBVIRTD_CONF)
    qemu = Ini("04-libvirt-config", "/etc/libvirt/qemu.conf", qemu_conf(container), mode="0600")
    default = File("04-libvirt-config", "/etc/default/libvirtd",
                   '# Written by the deploy suite: libvirtd stays up (no idle --timeout),\n'
                   '# so its TCP socket is served without a round of socket activation.\nLIBVIRTD_ARGS=""\n')
    listen = File("04-libvirt-config", "/etc/systemd/system/libvirtd-tcp.socket.d/listen.conf",
                  f"[Socket]\nListenStream=\nListenStream={host.address}:{LIBVIRT_TCP_PORT}\n",
                  title="libvirt TCP socket on the management address only")
    # Debian's socket is world-writable and leaves the rest to polkit, which has no
    # agent here: nova-compute (group libvirt) would be refused. Admit the group only.
    socket_mode = File("04-libvirt-config", "/etc/systemd/system/libvirtd.socket.d/group.conf",
                       "[Socket]\nSocketMode=0660\nSocketGroup=libvirt\n", title="libvirt socket for group libvirt")
    result += [conf, qemu, default, listen, socket_mode,
               Command("04-libvirt-config", "usermod -aG libvirt nova", unless=in_group("nova", "libvirt"),
                       title="nova in group libvirt")]
    result += [
        Service("05-libvirt-start", "libvirtd-tcp.socket", restart_on=[listen]),
        Service("05-libvirt-start", "libvirtd.service", restart_on=[conf, qemu, default, listen]),
        # A socket unit cannot be restarted under its running service: stop, restart, start.
        Command("05-libvirt-start", "systemctl daemon-reload && systemctl stop libvirtd.service && "
                "systemctl restart libvirtd.socket && systemctl start libvirtd.service",
                unless="test \"$(stat -c '%a %G' /run/libvirt/libvirt-sock)\" = '660 libvirt'",
                title="libvirt socket mode applied"),
    ]
    return result


PHASE = Phase(5, "kvm-compute", ("compute",), steps,
              discover={"virt_type": discover.VIRT_TYPE, "container": discover.CONTAINER})
