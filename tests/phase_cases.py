"""Phase self-tests as data: what a converged host of the default inventory shows.

The fake host (tests/fakes.py) derives packages, files, units, sysctls and
accounts from the actions it was sent; every other fact a step reads is here,
written as the host would show it, not taken from the steps that read it:
- NAMED: the values of named facts (a GlusterFS volume's info, the pool, a mount);
- HOLDS: the steps whose generic guard (a command that exits 0) holds once the
  phase converged, by step key. A step missing here reads as on a bare host.
"""
from __future__ import annotations

from deploy.facts import Fact, MountType, PathOwner, PathStat, PathType, SqlScalar, Succeeds, UserGroups
from deploy.facts_gluster import (GlusterBricks, GlusterBricksOnline, GlusterGroupKeys, GlusterHealPending,
                                  GlusterPeerStates, GlusterPool, GlusterVolume)
from deploy.inventory import Host
from deploy.phases import Context, Phase
from deploy.runner import apply_host
from deploy.steps import Await, Step
from tests.fakes import FakeRemote

COMPUTES = ["compute1", "compute2", "compute3", "compute4"]
STATUS_LOCK = "/run/lock/deploy-gluster-status.lock"
NOVA_COMPUTES_UP = ("SELECT COUNT(*) FROM nova.services s WHERE s.binary='nova-compute' AND s.deleted=0 "
                    "AND s.updated_at > UTC_TIMESTAMP() - INTERVAL 50 SECOND")
VIRT_GROUP = ("performance.quick-read", "performance.io-cache", "network.remote-dio", "cluster.eager-lock",
              "features.shard", "cluster.quorum-type")


def volume(name: str, uid: int) -> dict[str, str]:
    """`gluster volume info NAME` of a started volume with the virt group and its owner set."""
    return {"Volume Name": name, "Type": "Replicate", "Status": "Started", "Number of Bricks": "1 x 4 = 4",
            **{f"Brick{i}": brick for i, brick in enumerate(bricks(name), 1)},
            **{key: "on" for key in VIRT_GROUP}, "storage.owner-uid": str(uid), "storage.owner-gid": str(uid)}


def bricks(name: str) -> tuple[str, ...]:
    """Its bricks: one per compute, in a directory of the brick filesystem named after the volume."""
    leaf = "brick" if name == "vm-instances" else f"{name}-brick"
    return tuple(f"{h}:/export/gluster/{leaf}" for h in COMPUTES)


def named(host: str) -> dict[Fact, object]:
    out: dict[Fact, object] = {}
    if host in COMPUTES:
        out[PathType("/export/gluster/brick")] = "directory"
        out[PathType("/export/gluster/cinder-volumes-brick")] = "directory"
        out[UserGroups("nova")] = frozenset({"nova", "libvirt"})
    if host == "controller":
        out[GlusterPool()] = frozenset({"localhost", *COMPUTES})
        out[GlusterPeerStates()] = ("Peer in Cluster (Connected)",) * 4
        out[GlusterGroupKeys("virt")] = VIRT_GROUP
        out[GlusterVolume("vm-instances")] = volume("vm-instances", 64060)
        out[GlusterVolume("cinder-volumes")] = volume("cinder-volumes", 64061)
        out[GlusterBricks("vm-instances")] = bricks("vm-instances")
        out[GlusterBricks("cinder-volumes")] = bricks("cinder-volumes")
        out[GlusterBricksOnline("vm-instances", STATUS_LOCK)] = 4
        out[GlusterBricksOnline("cinder-volumes", STATUS_LOCK)] = 4
        for name, leaf in (("vm-instances", "brick"), ("cinder-volumes", "cinder-volumes-brick")):
            out[GlusterHealPending(name)] = {f"compute{i}:/export/gluster/{leaf}": 0 for i in range(1, 5)}
        out[SqlScalar(NOVA_COMPUTES_UP)] = 4
        out[SqlScalar("SELECT COUNT(*) FROM nova.compute_nodes WHERE deleted=0")] = 4
        out[SqlScalar("SELECT COUNT(*) FROM nova_api.host_mappings")] = 4
    out[MountType("/var/lib/nova/instances")] = "fuse.glusterfs"
    out[PathStat("/var/lib/nova/instances")] = PathOwner("64060:64060", "755")
    return out


HOLDS: dict[str, list[str]] = {
    "p01": ["01-iptables-nat: firewall rules nat live"],
    "p02": ["01-iptables: firewall rules gluster live", "01-iptables: firewall rules public live"],
    "p03": [],
    "p04": ["02-volumes-mount-helper: no package owns /usr/sbin/mount.nfs"],
    "p05": ["04-libvirt-config: firewall rules migrate live", "05-libvirt-start: libvirt's plain TCP socket off",
            "05-libvirt-start: libvirt's sockets as configured: group libvirt, TLS on the management address"],
    "p06": ["05-debconf-preseed: debconf answers loaded"],
    "p07": [
        "03-mysql-start: root password as in the secrets file",
        *(f"05-{svc}-create-db: database {db} for user {user}" for svc, db, user in [
            ("keystone", "keystone", "keystone"), ("glance", "glance", "glance"),
            ("placement", "placement", "placement"), ("nova", "nova_api", "nova"), ("nova", "nova", "nova"),
            ("nova", "nova_cell0", "nova"), ("neutron", "neutron", "neutron"), ("cinder", "cinder", "cinder")]),
        # a RabbitMQ user per service, memcached's firewall and the flavors (merged from other branches)
        *(f"03-rabbitmq-start: RabbitMQ user {user} with the secrets file's password"
          for user in ("nova", "neutron", "cinder")),
        "03-rabbitmq-start: RabbitMQ user guest removed",
        "03-rabbitmq-start: RabbitMQ user openstack removed",
        "02-memcached-install: firewall rules memcached live",
        "29-flavors-create: flavors m1.tiny, m1.small, m1.medium, m1.large, m1.xlarge in Nova",
        "08-keystone-init-db: keystone-manage db_sync (for keystone as installed)",
        "08-keystone-init-db: fernet and credential keys",
        "10-keystone-start: wait for Keystone answering on http://controller:5000/v3",
        "11-keystone-create-users: admin bootstrapped with the secrets file's password",
        "11-keystone-create-users: service users, the demo project and user, services and endpoints",
        "15-glance-init-db: glance-manage db_sync (for glance-common as installed)",
        "17-glance-start: wait for Glance answering on http://controller:9292/versions",
        "20-placement-init-db: placement-manage db sync (for placement-common as installed)",
        "20-placement-start: wait for Placement answering on http://controller:8778/",
        "24-nova-init-db: nova-manage api_db sync (for nova-api as installed)",
        "24-nova-init-db: cell0 mapped, cell1 created",
        "24-nova-init-db: cell1's message queue is nova.conf's transport_url",
        "24-nova-init-db: nova-manage db sync (for nova-common as installed)",
        "25-nova-start: wait for Nova API answering on http://controller:8774/",
        "25-nova-start: wait for noVNC proxy listening on 6080",
        "26-neutron-init-db: neutron-db-manage --config-file /etc/neutron/neutron.conf --config-file "
        "/etc/neutron/plugins/ml2/ml2_conf.ini upgrade head (for neutron-common as installed)",
        "26-neutron-start: wait for Neutron answering on http://controller:9696/",
        "27-cinder-init-db: cinder-manage db sync (for cinder-common as installed)",
        "27-cinder-start: wait for Cinder answering on http://controller:8776/",
    ],
    "p08": [
        "04-neutron-agent-config: /usr/sbin/ebtables is /usr/local/sbin/ebtables-front (alternatives)",
    ],
    "p09": [
        "02-neutron-agents-start: /usr/sbin/ebtables is /usr/local/sbin/ebtables-front (alternatives)",
        "02-novnc-forward: firewall rules novnc live",
        "02-neutron-agents-start: firewall rules provider live",
        "06-dashboard-config: Apache's default sites disabled",
        "06-dashboard-config: mod_ssl, mod_rewrite and site deploy-dashboard enabled",
        "07-dashboard-start: firewall rules dashboard live",
        "07-dashboard-start: wait for dashboard login page answering at https://198.51.100.1/horizon/auth/login/",
        "03-nova-network-create: wait for the DHCP, L3, metadata and linuxbridge agents on compute1 alive",
        "04-nova-secgroup-add: networks vm and public, router gateway-router, ICMP and SSH allowed",
        "04-nova-secgroup-add: wait for router gateway-router's ports and vm's DHCP port wired by the agents on "
        "compute1",
    ],
}


def converged(phase: str, host: str, steps: list[Step]) -> dict[Fact, object]:
    """The facts a converged `host` shows for `steps` that the fake host does not derive itself."""
    table = named(host)
    holds = set(HOLDS[phase])
    for step in steps:
        if step.key in holds:
            table.update({f: True for f in step.facts() if isinstance(f, Succeeds)})
    return table


def converge(phase: Phase, ctx: Context, host: Host, remote: FakeRemote | None = None) -> FakeRemote:
    """A fake host taken from bare to converged: the phase applied once (the
    daemons it awaits come up as awaited), then it shows the converged facts."""
    steps = phase.steps(ctx, host)
    after = converged(phase.id, host.name, steps)
    awaited = {f for s in steps if isinstance(s, Await) for f in s.facts()}
    unknown = [s.key for s in steps if isinstance(s, Await) and not all(f in after for f in s.facts())]
    assert not unknown, f"{phase.id} on {host.name}: tests/phase_cases.py says nothing of {unknown}"
    remote = remote or FakeRemote(host)
    remote.state.table = {f: v for f, v in after.items() if f in awaited}
    first = apply_host(remote, steps)
    assert first.error is None, f"{host.name}: {first.error}"
    remote.state.table = dict(after)
    return remote
