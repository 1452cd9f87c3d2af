"""Named facts: each parser on what the host prints (recorded outputs), and the
runner's read: each distinct fact once, in one round trip, no secret in its text."""
from deploy.facts import (AccountIds, AccountInfo, FileInfo, FileState, Installed, MountType, PathOwner, PathStat,
                          PathType, SqlScalar, Succeeds, UnitInfo, UnitState, UserGroups, read)
from deploy.facts_gluster import GlusterBricksOnline, GlusterPeerStates, GlusterPool, GlusterVolume
from deploy.remote import Result, WithStdin, render, stdin_of
from deploy.steps import Packages

VOLUME_INFO = """
Volume Name: vm-instances
Type: Replicate
Volume ID: 5e0b3c1e-0000-4000-8000-000000000000
Status: Started
Number of Bricks: 1 x 4 = 4
Transport-type: tcp
Bricks:
Brick1: compute1:/export/gluster/brick
Options Reconfigured:
storage.owner-uid: 64060
network.remote-dio: enable
"""


def out(text: str, rc: int = 0) -> Result:
    return Result("controller", "fact", rc, text, "")


def test_parsers_read_what_the_host_prints():
    assert Installed(("a", "b", "c")).parse(out("a ii \nb rc \n")) == {"a"}
    assert FileState("/etc/x").parse(out("640 root nova\na = 1\n")) == FileInfo("640", "root", "nova", "a = 1\n")
    assert FileState("/etc/x").parse(out("", 1)) is None
    assert UnitState("u").parse(out("enabled active no 1700000000 1700000100\n")) == \
        UnitInfo("enabled", "active", False, 1700000000, 1700000100)
    assert UnitState("u").parse(out("missing inactive yes 0\n")) == UnitInfo("missing", "inactive", True, 0, 0)
    assert AccountIds("nova", "nova").parse(out("114 108:114\n")) == AccountInfo("114", "108:114")
    # the group missing, the user there: the uid:gid is not taken for a gid
    assert AccountIds("nova", "nova").parse(out(" 108:114\n")) == AccountInfo("", "108:114")
    assert MountType("/var/lib/nova/instances").parse(out("fuse.glusterfs\n")) == "fuse.glusterfs"
    assert MountType("/var/lib/nova/instances").parse(out("", 1)) == ""
    assert PathStat("/p").parse(out("64060:64060 755\n")) == PathOwner("64060:64060", "755")
    assert PathType("/dev/kvm").parse(out("character special file\n")) == "character special file"
    assert PathType("/dev/kvm").parse(out("", 1)) is None
    assert UserGroups("nova").parse(out("nova libvirt\n")) == {"nova", "libvirt"}
    assert Succeeds("true").parse(out("")) and not Succeeds("false").parse(out("", 1))
    assert SqlScalar("SELECT 1").parse(out("4\n")) == 4 and SqlScalar("SELECT 1").parse(out("", 1)) is None
    assert SqlScalar("SELECT \"x\"").command() == 'mysql --protocol=socket -uroot -NBe "SELECT \\"x\\""'


def test_gluster_parsers():
    info = GlusterVolume("vm-instances").parse(out(VOLUME_INFO))
    assert info["Status"] == "Started" and info["storage.owner-uid"] == "64060"
    assert info["Brick1"] == "compute1:/export/gluster/brick"
    assert GlusterVolume("nope").parse(out("Volume nope does not exist\n", 1)) is None
    pool = "UUID\t\t\t\t\tHostname \tState\nab12\tcompute1 \tConnected \ncd34\tlocalhost\tConnected \n"
    assert GlusterPool().parse(out(pool)) == {"compute1", "localhost"}
    status = "Number of Peers: 2\n\nHostname: compute1\nState: Peer in Cluster (Connected)\n\n" \
             "Hostname: compute2\nState: Accepted peer request (Connected)\n"
    assert GlusterPeerStates().parse(out(status)) == ("Peer in Cluster (Connected)", "Accepted peer request (Connected)")
    detail = "Brick : compute1\nOnline               : Y\nBrick : compute2\nOnline               : N\n"
    assert GlusterBricksOnline("v", "/l").parse(out(detail)) == 1


def test_a_fact_is_its_arguments():
    assert Installed(("a",)) == Installed(("a",)) and hash(UnitState("u", ("/f",))) == hash(UnitState("u", ("/f",)))
    assert UnitState("u") != UnitState("u", ("/f",))


class Batch:
    """A remote that records the commands of each batched read."""
    def __init__(self):
        self.batches = []

    def run_many(self, commands, timeout=300):
        self.batches.append(list(commands))
        return [Result("h", render(c), 0, "", "") for c in commands]


def test_each_distinct_fact_is_asked_once_in_one_round_trip():
    remote = Batch()
    steps = [Packages("a", ["crudini"]), Packages("b", ["crudini"]), Packages("c", ["iptables"])]
    values = read(remote, (f for s in steps for f in s.facts()))
    assert len(remote.batches) == 1
    texts = remote.batches[0]
    assert len(texts) == len(set(texts)) == 3      # crudini's listing and dpkg's interrupted state once each
    assert set(values) == {f for s in steps for f in s.facts()}


def test_a_facts_secret_travels_beside_its_text():
    remote = Batch()
    fact = Succeeds(WithStdin("IFS= read -r pw && check \"$pw\"", "s3cret-s3cret-s3cret"))
    read(remote, [fact])
    (sent,) = remote.batches[0]
    assert "s3cret" not in render(sent) and stdin_of(sent) == b"s3cret-s3cret-s3cret"
    assert "s3cret" not in str(fact)


def test_an_await_on_a_named_fact_polls_until_the_value_holds(default_inventory):
    from deploy.facts import check
    from deploy.runner import apply_host
    from deploy.steps import Await
    from tests.fakes import FakeRemote

    states = GlusterPeerStates()
    joined = check(states, lambda got: got.count("Peer in Cluster (Connected)") == 2, "2 peers joined")

    class Joining(FakeRemote):
        """Peers that finish their handshake while the runner waits."""
        def read_facts(self, facts):
            if self.round_trips >= 2:
                self.state.table[states] = ("Peer in Cluster (Connected)",) * 2
            return super().read_facts(facts)

    remote = Joining(default_inventory.host("controller"))
    remote.state.table[states] = ("Peer in Cluster (Connected)", "Accepted peer request (Connected)")
    result = apply_host(remote, [Await("01-glusterfs-probe", joined, "2 peers joined", timeout=10)])
    assert result.error is None and result.steps[0].changed
    assert remote.round_trips >= 3          # the batched read, then polls until the handshake ended


HEAL_INFO = """Brick compute1:/export/gluster/vm-instances
Status: Connected
Number of entries: 0

Brick compute5:/export/gluster/vm-instances
Status: Transport endpoint is not connected
Number of entries: -

Brick compute2:/export/gluster/vm-instances
/4b1c7e0a-7b0e-4b47-9d7e-3b0f5e1f2c11/disk
/4b1c7e0a-7b0e-4b47-9d7e-3b0f5e1f2c11
Status: Connected
Number of entries: 2
"""


def test_heal_pending_counts_each_brick_and_an_unreachable_one_as_unknown():
    from deploy.facts_gluster import GlusterHealPending
    fact = GlusterHealPending("vm-instances")
    assert fact.parse(Result("c", "", 0, HEAL_INFO, "", 0.1)) == {
        "compute1:/export/gluster/vm-instances": 0, "compute5:/export/gluster/vm-instances": -1,
        "compute2:/export/gluster/vm-instances": 2}
    assert fact.parse(Result("c", "", 1, "", "Volume vm-instances does not exist", 0.1)) == {}
