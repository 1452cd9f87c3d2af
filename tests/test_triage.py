"""First aid on a failure: stopped units and known faults, named per host and source."""
from deploy.diagnostics import known_faults_in
from deploy.triage import faults_in, split_sources, stopped_units

# What PROBE printed on a controller whose MariaDB was stopped and whose Glance
# config carries a wrong database password (lines as the services log them).
RECORDED = """\
=== unit mariadb
mariadb is inactive (the deploy starts it)
=== journal
=== /var/log/glance/glance-api.log
2026-11-25 11:20:01.123 2301 ERROR oslo_db.sqlalchemy.engines [-] Database connection was found disconnected; \
reconnecting: oslo_db.exception.DBConnectionError: (pymysql.err.OperationalError) (1045, "Access denied for user \
'glance'@'192.168.0.5' (using password: YES)")
=== /var/log/nova/nova-conductor.log
2026-11-25 11:20:03.001 1800 ERROR oslo_db.sqlalchemy.engines (pymysql.err.OperationalError) (2003, "Can't connect \
to MySQL server on 'controller' ([Errno 111] Connection refused)")
"""


def test_sources_are_split_on_their_marks():
    sources = split_sources(RECORDED)
    assert list(sources) == ["unit mariadb", "journal", "/var/log/glance/glance-api.log",
                             "/var/log/nova/nova-conductor.log"]
    assert sources["journal"] == ""


def test_a_stopped_unit_is_named_with_its_host_and_fix():
    [line] = stopped_units("controller", RECORDED)
    assert line.startswith("controller: mariadb is inactive (the deploy starts it)")
    assert "`systemctl start mariadb` on controller" in line


def test_each_known_fault_names_the_host_and_the_log_it_was_seen_in():
    lines = faults_in("controller", RECORDED)
    assert any(l.startswith("controller (/var/log/glance/glance-api.log): wrong database password: "
                            "the password of database user glance") for l in lines), lines
    assert any(l.startswith("controller (/var/log/nova/nova-conductor.log): database not reachable: "
                            "MariaDB on the controller is down") for l in lines), lines


def test_nothing_recognised_in_a_quiet_host():
    assert faults_in("compute2", "=== journal\n=== /var/log/nova/nova-compute.log\n") == []
    assert stopped_units("compute2", "=== journal\n") == []


def test_collected_evidence_names_the_host_folder_and_file(tmp_path):
    (tmp_path / "compute2").mkdir()
    (tmp_path / "compute2" / "gluster.txt").write_text(
        "Status of volume: vm-instances\nGluster process                             TCP Port  RDMA Port  Online  Pid\n"
        "Brick compute2:/srv/gluster/vm-instances/brick N/A       N/A        N       N/A\n")
    (tmp_path / "controller").mkdir()
    (tmp_path / "controller" / "listening.txt").write_text("nothing of note\n")
    [line] = known_faults_in(tmp_path)
    assert line.startswith("compute2 (gluster.txt): GlusterFS brick offline: the brick "
                           "compute2:/srv/gluster/vm-instances/brick is not running")


def test_the_probe_is_valid_shell_with_odd_unit_names():
    import subprocess
    from deploy.triage import probe

    text = probe(["mariadb", "libvirtd-tcp.socket", "it's"], since=1764069000.7)
    assert subprocess.run(["bash", "-n", "-c", text]).returncode == 0
    assert "--since @1764069000 " in text
