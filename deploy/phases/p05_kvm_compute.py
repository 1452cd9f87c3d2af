"""05-kvm-compute: the hypervisor on every compute host.

The report's 01-kvm-install ... 05-libvirt-start. Its test for hardware
virtualization (vmx/svm in /proc/cpuinfo) chooses KVM or QEMU emulation; the
choice is written to /etc/deploy/hypervisor for operators and later checks.

Live migration goes between the computes' libvirt daemons, as in the report,
but over mutual TLS instead of the report's unauthenticated TCP: each compute
has a certificate of the suite's own authority (deploy/pki.py) naming its
name and management address, libvirt admits only clients whose certificate
that authority signed for one of the inventory's computes, and QEMU's
migration stream (guest memory) is TLS too, with the same certificates. The
TLS socket is bound to the management address and reachable only from the
other computes (a firewall rule set); libvirt's plain TCP socket is off.
Migration data uses its own port range, apart from GlusterFS's.
"""
from __future__ import annotations

import shlex

from .. import discover
from ..firewall import NEW_ONLY, Chain, RuleSet, firewall_steps
from ..inventory import Host, Inventory
from ..facts import in_group, is_path
from ..steps import Command, File, Ini, Packages, Service, Step
from . import Context, Phase

PACKAGES = ["qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "ovmf"]
LIBVIRT_TCP_PORT = "16509"            # plain TCP: off (checked refused)
LIBVIRT_TLS_PORT = "16514"
MIGRATION_PORTS = (61000, 61063)     # above GlusterFS's brick range 49152-60999
SOCKETS = "libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket libvirtd-tls.socket"

# Where libvirt (as daemon and as migration client) and QEMU look for them by default.
CA_FILE = "/etc/pki/CA/cacert.pem"
LIBVIRT_PKI = {"/etc/pki/libvirt/servercert.pem": "cert", "/etc/pki/libvirt/private/serverkey.pem": "key",
               "/etc/pki/libvirt/clientcert.pem": "cert", "/etc/pki/libvirt/private/clientkey.pem": "key"}
QEMU_PKI_DIR = "/etc/pki/qemu"
QEMU_PKI = {"ca-cert.pem": "ca", "server-cert.pem": "cert", "server-key.pem": "key",
            "client-cert.pem": "cert", "client-key.pem": "key"}


def libvirtd_conf(inv: Inventory) -> dict:
    return {"": {
        "auth_tcp": None,                # the plain TCP socket is off; no setting for it
        "auth_tls": '"none"',            # the client certificate is the authentication
        # only the inventory's computes, by their certificates' subjects
        "tls_allowed_dn_list": "[" + ", ".join(f'"CN={h.name}"' for h in inv.with_role("compute")) + "]",
        "auth_unix_rw": '"none"',        # the socket itself admits only root and group libvirt (below)
        "log_outputs": '"3:journald"',
    }}


def qemu_conf(container: bool) -> dict:
    settings = {
        "migration_port_min": MIGRATION_PORTS[0],
        "migration_port_max": MIGRATION_PORTS[1],
        # guest memory crosses the management network in TLS, verified both ways
        "migrate_tls_x509_cert_dir": f'"{QEMU_PKI_DIR}"',
        "migrate_tls_x509_verify": 1,
        "migrate_tls_force": 1,
    }
    if container:
        # Inside a container the cgroup tree is read-only: libvirt must not try
        # to create its own v1 controllers (lab-notes: "Failed to create v1
        # controller cpu ... Read-only file system").
        settings["cgroup_controllers"] = "[ ]"
    return {"": settings}


def migration_rules(inv: Inventory, host: Host) -> RuleSet:
    ports = f"{LIBVIRT_TLS_PORT},{MIGRATION_PORTS[0]}:{MIGRATION_PORTS[1]}"
    rules = [["-s", h.address, "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "ACCEPT"]
             for h in inv.with_role("compute") if h.name != host.name]
    rules.append(["-p", "tcp", "-m", "multiport", "--dports", ports, *NEW_ONLY, "-j", "DROP"])  # replies pass
    return RuleSet("migrate", [Chain("filter", "INPUT", rules)])


def certificate_files(ctx: Context, host: Host) -> list[Step]:
    """The compute's certificate (server and client: it is both in a migration)
    and its key, where libvirt and QEMU read them; the authority's certificate."""
    issued = ctx.pki.issue(host.name, [host.name, host.address], "both")
    ca = ctx.pki.ca_pem()
    content = {"ca": ca, "cert": issued.cert, "key": issued.key}
    steps: list[Step] = [File("04-libvirt-config", CA_FILE, ca, title=f"{CA_FILE}: the suite's authority")]
    for path, kind in LIBVIRT_PKI.items():
        steps.append(File("04-libvirt-config", path, content[kind], mode="0600" if kind == "key" else "0644",
                          title=f"{path}: {host.name}'s {'key' if kind == 'key' else 'certificate'}"))
    # QEMU runs as libvirt-qemu and opens these itself
    for name, kind in QEMU_PKI.items():
        path = f"{QEMU_PKI_DIR}/{name}"
        steps.append(File("04-libvirt-config", path, content[kind], mode="0640", group="libvirt-qemu",
                          title=f"{path}: for QEMU's migration stream"))
    return steps


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
    certificates = certificate_files(ctx, host)
    conf = Ini("04-libvirt-config", "/etc/libvirt/libvirtd.conf", libvirtd_conf(inv))
    qemu = Ini("04-libvirt-config", "/etc/libvirt/qemu.conf", qemu_conf(container), mode="0600")
    default = File("04-libvirt-config", "/etc/default/libvirtd",
                   '# Written by the deploy suite: libvirtd stays up (no idle --timeout),\n'
                   '# so its TLS socket is served without a round of socket activation.\nLIBVIRTD_ARGS=""\n')
    listen = File("04-libvirt-config", "/etc/systemd/system/libvirtd-tls.socket.d/listen.conf",
                  # FreeBind: bound at boot even before the network has put the address in place
                  f"[Socket]\nListenStream=\nListenStream={host.address}:{LIBVIRT_TLS_PORT}\nFreeBind=yes\n",
                  title="libvirt TLS socket on the management address only")
    # Debian's socket is world-writable and leaves the rest to polkit, which has no
    # agent here: nova-compute (group libvirt) would be refused. Admit the group only.
    socket_mode = File("04-libvirt-config", "/etc/systemd/system/libvirtd.socket.d/group.conf",
                       "[Socket]\nSocketMode=0660\nSocketGroup=libvirt\n", title="libvirt socket for group libvirt")
    result += [*certificates, conf, qemu, default, listen, socket_mode,
               Command("04-libvirt-config", "usermod -aG libvirt nova", unless=in_group("nova", "libvirt"),
                       title="nova in group libvirt")]
    result += [
        # the report's plain TCP socket, on in hosts this suite deployed before TLS
        Command("05-libvirt-start", "systemctl disable --now libvirtd-tcp.socket && "
                "rm -rf /etc/systemd/system/libvirtd-tcp.socket.d && systemctl daemon-reload",
                unless="! systemctl -q is-enabled libvirtd-tcp.socket && ! systemctl -q is-active libvirtd-tcp.socket"
                       " && ! test -e /etc/systemd/system/libvirtd-tcp.socket.d",
                title="libvirt's plain TCP socket off"),
        Service("05-libvirt-start", "libvirtd-tls.socket", running=None),   # enabled; started below
        Service("05-libvirt-start", "libvirtd.service", restart_on=[conf, qemu, default, listen, *certificates]),
        # A socket unit cannot be (re)started under its running service: stop the
        # service and all its sockets at once (a client connecting in between would
        # start the service again by activation), start the sockets, then the service.
        # Done until what listens is as configured: the group's mode on the local
        # socket, the TLS socket bound to the management address.
        Command("05-libvirt-start", f"systemctl daemon-reload && systemctl stop libvirtd.service {SOCKETS} && "
                f"systemctl start {SOCKETS} && systemctl start libvirtd.service",
                unless="test \"$(stat -c '%a %G' /run/libvirt/libvirt-sock)\" = '660 libvirt' && "
                       f"ss -Hltn 'sport = :{LIBVIRT_TLS_PORT}' | awk '{{print $4}}' | "
                       f"grep -qxF {shlex.quote(f'{host.address}:{LIBVIRT_TLS_PORT}')}",
                title="libvirt's sockets as configured: group libvirt, TLS on the management address"),
    ]
    return result


PHASE = Phase(5, "kvm-compute", ("compute",), steps,
              discover={"virt_type": discover.VIRT_TYPE, "container": discover.CONTAINER})
