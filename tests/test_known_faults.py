"""Known faults recognised in recorded log excerpts, each named with its fix."""
import pytest

from deploy.diagnostics import scrub
from deploy.known_faults import recognise
from deploy.secrets import MASK

RECORDED = {
    "database not reachable": "ERROR oslo_db.sqlalchemy.engines [-] Database server has gone away: "
        "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on 'controller' ([Errno 111] "
        "Connection refused)\")",
    "wrong database password": "sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (1045, "
        "\"Access denied for user 'glance'@'192.168.0.5' (using password: YES)\")",
    "config not readable by the service": "  File \"/usr/lib/python3/dist-packages/oslo_db/sqlalchemy/"
        "enginefacade.py\", line 527, in _setup_for_connection\n    raise exception.CantStartEngineError(\n"
        "oslo_db.exception.CantStartEngineError: No sql_connection parameter is established",
    "wrong message-queue password": "ERROR oslo.messaging._drivers.impl_rabbit [-] Connection failed: "
        "ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN.",
    "service user rejected by Keystone": "keystonemiddleware.auth_token [-] Identity response: "
        "{\"error\":{\"code\":401,\"title\":\"Unauthorized\",\"message\":\"The request you have made requires "
        "authentication.\"}}",
    "stale lock": "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)",
    "permissions on the instances share": "libvirt.libvirtError: Cannot access storage file "
        "'/var/lib/nova/instances/x/disk': Permission denied: '/var/lib/nova/instances/x/disk'",
    "hypervisor type the CPU cannot do": "libvirt.libvirtError: internal error: process exited while connecting "
        "to monitor: Could not access KVM kernel module: No such file or directory",
    "GlusterFS brick offline": "Status of volume: vm-instances\nGluster process                             TCP Port  "
        "RDMA Port  Online  Pid\n----\nBrick compute3:/export/gluster/brick        N/A       N/A        N       N/A\n",
    "clock skew": "keystone.exception.ValidationError: Token was not yet valid (issued in the future)",
    "ebtables cannot delete the agent's ARP-protection rules": "ERROR neutron.agent.linux.utils [-] Exit code: 4; "
        "Cmd: ['ebtables', '-t', 'nat', '--concurrent', '-D', 'neutronMAC-tap1f2e3d4c-5b', '-i', 'tap1f2e3d4c-5b', "
        "'--among-src', 'fa:16:3e:1:2:3', '-j', 'RETURN']; Stdin: ; Stdout: ; Stderr: ebtables v1.8.9 "
        "(nf_tables):  RULE_DELETE failed (Invalid argument): rule in chain neutronMAC-tap1f2e3d4c-5b",
    "metadata service unreachable from the guest": "[   12.1] cloud-init: url_helper.py[WARNING]: Calling "
        "'http://169.254.169.254/2009-04-04/meta-data/instance-id' failed [0/120s]: request error",
}


@pytest.mark.parametrize("name", RECORDED, ids=list(RECORDED))
def test_recorded_log_is_recognised(name):
    found = recognise(RECORDED[name])
    assert any(f.startswith(name + ":") for f in found), found


def test_brick_offline_names_the_brick():
    (message,) = [f for f in recognise(RECORDED["GlusterFS brick offline"]) if f.startswith("GlusterFS")]
    assert "compute3:/export/gluster/brick" in message and "volume start" in message


def test_wrong_password_names_the_user():
    assert "database user glance" in recognise(RECORDED["wrong database password"])[0]


def test_healthy_log_is_not_a_fault():
    assert recognise("INFO nova.compute.manager [-] Instance spawned successfully.") == []


def test_scrub_masks_password_lines_and_urls():
    text = "[database]\nconnection = mysql+pymysql://nova:hunter2@controller/nova\npassword = s3cret\nname = x\n"
    out = scrub(text)
    assert "hunter2" not in out and "s3cret" not in out and f"password = {MASK}" in out and "name = x" in out
