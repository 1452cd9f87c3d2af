"""The verdicts the behavioural checks reach from what hosts and APIs answer
(checks/readings.py), each shown to fail on the broken case: traffic through a
NAT on the wrong interface, a 404 from a wrong endpoint path, a skewed clock
(and a slow round trip that must not fail a good one), chronyd stopped where
it could run, a guest on the wrong hypervisor, a volume without its replicas,
a disabled service."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from checks.openstack import unhealthy_services
from checks.readings import (can_set_clock, chrony_problem, clock_skew_bound, config_files, domain_type,
                             effective_virt_type, host_domain_type, nat_source_problem, replica_layout_problems,
                             version_document_problem, version_url)

GW = dict(client="compute2", client_address="192.168.0.2", gateway="compute1", gateway_public="198.51.100.1")


def test_nat_source_is_the_gateway_public_address():
    assert nat_source_problem("198.51.100.1", **GW) is None


def test_nat_without_masquerade_is_named():
    problem = nat_source_problem("192.168.0.2", **GW)
    assert problem.startswith("NAT on the gateway compute1: the connection from compute2 arrived from compute2's "
                              "own address 192.168.0.2")


def test_nat_from_another_source_or_no_connection_is_named():
    assert "arrived from 198.51.100.7, not the gateway's public address 198.51.100.1" in \
        nat_source_problem("198.51.100.7", **GW)
    assert nat_source_problem(None, **GW, failure="198.51.100.254:4242: exit 124") == \
        "NAT on the gateway compute1: compute2 could not connect to the listener on the public network " \
        "(198.51.100.254:4242: exit 124)"


@pytest.mark.parametrize("status, body", [
    (200, '{"version": {"id": "v3.14", "status": "stable"}}'),                 # Keystone /v3
    (300, '{"versions": [{"id": "v2.9", "status": "CURRENT"}]}'),               # Glance /
    (200, '{"versions": [{"id": "v1.0", "max_version": "1.39"}]}'),             # Placement /
])
def test_version_documents_pass(status, body):
    assert version_document_problem(status, body) is None


@pytest.mark.parametrize("status, body, named", [
    (404, '{"error": {"code": 404}}', "HTTP 404, not a version document"),      # a wrong path
    (401, "", "HTTP 401"),
    (200, "<html>It works</html>", "HTTP 200 but not JSON"),                    # some other web server
    (200, '{"networks": []}', "JSON without 'version' or 'versions' (['networks'])"),
])
def test_anything_else_is_not_a_version_document(status, body, named):
    assert named in version_document_problem(status, body)


def test_version_url_drops_the_project_part():
    assert version_url("http://controller:8776/v3/%(project_id)s") == "http://controller:8776/v3"
    assert version_url("http://controller:8774/v2.1") == "http://controller:8774/v2.1"


def test_clock_skew_bound():
    assert clock_skew_bound(100.0, 100.05, 100.1) == 0.0          # inside the round trip
    assert clock_skew_bound(100.0, 101.6, 100.1) == pytest.approx(1.5)  # 1.5 s ahead: fails a 1 s allowance
    assert clock_skew_bound(100.0, 98.0, 100.1) == pytest.approx(2.0)   # 2 s behind
    # SSH took 5 s: the old allowance (1 - 5/2) went negative and failed a good clock
    assert clock_skew_bound(100.0, 102.5, 105.0) == 0.0


def test_cap_sys_time_in_the_bounding_set():
    assert can_set_clock("Name:\tsystemd\nCapBnd:\t000001ffffffffff\n")
    assert not can_set_clock("CapBnd:\t000001fffdffffff\n")  # bit 25 dropped (--drop-capability=CAP_SYS_TIME)
    assert not can_set_clock("Name:\tsystemd\n")


SOURCES = "^,*,ntp1.example.org,2,6,377,12,0.000011,0.000012,0.001\n^,+,ntp2.example.org,2,6,377,13,0.1,0.1,0.1\n"
TRACKING = "C0A80001,192.0.2.1,3,1764583200.0,0.000001,0.0,0.0,1.0,0.0,0.0,0.01,0.01,64.0,Normal\n"


def test_chrony_synchronised_to_an_inventory_server():
    assert chrony_problem("controller", True, SOURCES, TRACKING, ("ntp1.example.org",)) is None
    assert chrony_problem("controller", True, SOURCES, TRACKING, ()) is None


def test_chrony_stopped_is_named_with_the_fix():
    problem = chrony_problem("controller", False, "", "", ("ntp1.example.org",))
    assert problem.startswith("controller: chronyd is not running, though the host can set its clock")
    assert "`systemctl start chrony` on controller" in problem


def test_chrony_unsynchronised_or_on_another_source_is_named():
    unsynced = TRACKING.replace("Normal", "Not synchronised")
    assert "not synchronised (leap status Not synchronised" in chrony_problem("c", True, SOURCES, unsynced, ())
    assert "not synchronised" in chrony_problem("c", True, SOURCES.replace(",*,", ",?,"), TRACKING, ())
    assert "synchronised to ntp1.example.org, not to one of the inventory's servers ['ntp.lab']" in \
        chrony_problem("c", True, SOURCES, TRACKING, ("ntp.lab",))


def test_domain_type_and_what_the_host_can_do():
    assert domain_type("<domain type='qemu' id='3'><name>instance-00000001</name></domain>") == "qemu"
    assert host_domain_type(4, True) == "kvm"
    assert host_domain_type(0, True) == "qemu"   # /dev/kvm without vmx/svm (these machines): KVM hangs
    assert host_domain_type(4, False) == "qemu"


def test_effective_virt_type_follows_oslo_file_order():
    cmdline = ["/usr/bin/python3", "/usr/bin/nova-compute", "--config-file=/etc/nova/nova.conf",
               "--config-file", "/etc/nova/nova-compute.conf", "--config-dir=/etc/nova/nova.conf.d"]
    files = config_files(cmdline, lambda d: [f"{d}/10-z.conf", f"{d}/01-a.conf"])
    assert files == ["/etc/nova/nova.conf", "/etc/nova/nova-compute.conf", "/etc/nova/nova.conf.d/01-a.conf",
                     "/etc/nova/nova.conf.d/10-z.conf"]
    assert config_files(["/usr/bin/nova-compute"]) == ["/etc/nova/nova.conf"]
    nova_conf = "[DEFAULT]\nmy_ip = 1\n[libvirt]\nvirt_type = kvm\n"
    compute_conf = "[libvirt]\nvirt_type=qemu\n"          # nova-compute-qemu's file wins over nova.conf
    assert effective_virt_type([("/etc/nova/nova.conf", nova_conf), ("/etc/nova/nova-compute.conf", compute_conf)]) \
        == ("qemu", "/etc/nova/nova-compute.conf")
    assert effective_virt_type([("/etc/nova/nova.conf", "[DEFAULT]\n")]) == ("kvm", "nova's default")


VOLUME_INFO = """
Volume Name: vm-instances
Type: Replicate
Volume ID: 3d0c2a5e-8f4b-4a8e-9d55-1f0d3c2b9a11
Status: Started
Snapshot Count: 0
Number of Bricks: 1 x 4 = 4
Transport-type: tcp
Bricks:
Brick1: compute1:/export/gluster/brick
Brick2: compute2:/export/gluster/brick
Brick3: compute3:/export/gluster/brick
Brick4: compute4:/export/gluster/brick
Options Reconfigured:
storage.owner-gid: 64060
storage.owner-uid: 64060
features.shard: on
cluster.quorum-type: auto
performance.client-io-threads: on
"""
COMPUTES = ["compute1", "compute2", "compute3", "compute4"]


def test_replica_layout_as_deployed():
    assert replica_layout_problems(VOLUME_INFO, "vm-instances", COMPUTES, "/export/gluster", 4, 64060) == []


def test_replica_layout_problems_are_named():
    two_copies_on_one = VOLUME_INFO.replace("Brick4: compute4:", "Brick4: compute3:")
    assert "vm-instances: bricks on ['compute1', 'compute2', 'compute3', 'compute3'], expected one on each of" in \
        "; ".join(replica_layout_problems(two_copies_on_one, "vm-instances", COMPUTES, "/export/gluster", 4, 64060))
    distributed = VOLUME_INFO.replace("Type: Replicate", "Type: Distribute").replace("1 x 4 = 4", "4")
    wrong = replica_layout_problems(distributed, "vm-instances", COMPUTES, "/export/gluster", 4, 64060)
    assert wrong[:2] == ["vm-instances: type Distribute, not replicated", "vm-instances: bricks 4, expected 1 x 4 = 4"]
    stopped = VOLUME_INFO.replace("Status: Started", "Status: Stopped").replace("features.shard: on\n", "")
    assert replica_layout_problems(stopped, "cinder-volumes", COMPUTES, "/export/gluster", 4, 64061) == [
        "cinder-volumes: not started",
        "cinder-volumes: the virt option group is not applied (features.shard is not on)",
        "cinder-volumes: its root is not owned by uid 64061"]
    pairs = VOLUME_INFO.replace("1 x 4 = 4", "2 x 2 = 4").replace("Brick2: compute2:", "Brick2: compute1:")
    assert "replica set 1 has two copies on one host: ['compute1', 'compute1']" in \
        "; ".join(replica_layout_problems(pairs, "v", COMPUTES, "/export/gluster", 2, 64060))


def test_services_up_and_enabled():
    rows = [SimpleNamespace(binary="nova-scheduler", host="controller", state="up", status="enabled"),
            SimpleNamespace(binary="nova-compute", host="compute2", state="up", status="disabled"),
            SimpleNamespace(binary="nova-compute", host="compute3", state="down", status="enabled")]
    assert unhealthy_services(rows) == ["nova-compute on compute2 (up, disabled)",
                                        "nova-compute on compute3 (down, enabled)"]
    assert unhealthy_services(rows[:1]) == []
