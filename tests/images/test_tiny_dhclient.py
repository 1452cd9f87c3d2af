"""tiny's `dhclient` (images/guest/tiny/sbin/dhclient), the command lines
written for ISC's dhclient mapped onto busybox udhcpc: run here under /bin/sh
against a fake udhcpc that records its arguments and the signals it gets. No
image, no QEMU."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from deploy.waits import wait_for

DHCLIENT = Path(__file__).resolve().parents[2] / "images" / "guest" / "tiny" / "sbin" / "dhclient"
# A udhcpc that logs its arguments, then (as udhcpc does once it has a lease) leaves a
# process in the background that writes the -p pid file and logs the signals it gets.
FAKE_UDHCPC = r"""#!/bin/sh
echo "udhcpc $*" >> "$LOG"
for a in "$@"; do [ "$prev" = -p ] && pidfile=$a; prev=$a; done
sh -c 'trap "echo USR1 >> \"$LOG\"" USR1; trap "echo USR2 >> \"$LOG\"" USR2
       trap "echo TERM >> \"$LOG\"; exit 0" TERM
       echo $$ > "$0.new" && mv "$0.new" "$0"; while :; do sleep 0.1; done' "$pidfile" </dev/null >/dev/null 2>&1 &
while [ ! -s "$pidfile" ]; do sleep 0.01; done  # as udhcpc: the pid file is there when it has gone to the background
"""


@pytest.fixture
def guest(tmp_path):
    """Run dhclient with the fake udhcpc, a silent `ip` and `hostname`; kill what is left after."""
    bin_dir, run_dir, log = tmp_path / "bin", tmp_path / "run", tmp_path / "log"
    bin_dir.mkdir()
    run_dir.mkdir()
    log.touch()
    for name, text in (("udhcpc", FAKE_UDHCPC), ("ip", "#!/bin/sh\n"), ("hostname", "#!/bin/sh\necho tiny1\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DHCLIENT_RUN_DIR": str(run_dir), "LOG": str(log)}

    def dhclient(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", str(DHCLIENT), *args], env=env, capture_output=True, text=True, timeout=30)

    dhclient.log, dhclient.run_dir = log, run_dir
    yield dhclient
    for pidfile in run_dir.glob("udhcpc.*.pid"):
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass


def logged(guest) -> list[str]:
    return guest.log.read_text().splitlines()


def test_a_lease_starts_udhcpc_with_the_boot_options(guest):
    run = guest("-4", "-v", "-pf", "/run/dhclient.pid", "eth0")
    assert run.returncode == 0, run.stderr
    pidfile = guest.run_dir / "udhcpc.eth0.pid"
    assert logged(guest) == [f"udhcpc -i eth0 -b -S -t 5 -T 2 -A 10 -O mtu -O staticroutes -x hostname:tiny1 "
                             f"-s /usr/share/udhcpc/default.script -p {pidfile}"]
    assert pidfile.exists()


def test_once_gives_up_instead_of_going_to_the_background(guest):
    assert guest("-1", "eth1").returncode == 0
    assert logged(guest)[0].startswith("udhcpc -i eth1 -n -S ")


def test_a_running_client_is_asked_to_renew_then_released_and_stopped(guest):
    guest("eth0")
    pidfile = guest.run_dir / "udhcpc.eth0.pid"
    assert guest("eth0").returncode == 0
    wait_for(lambda: "USR1" in logged(guest), 10, "the renew signal (USR1)")
    assert sum(line.startswith("udhcpc") for line in logged(guest)) == 1  # not a second client
    assert guest("-r", "eth0").returncode == 0
    wait_for(lambda: "TERM" in logged(guest), 10, "udhcpc stopped (TERM)")
    assert logged(guest)[-2:] == ["USR2", "TERM"]  # the lease released, then the client ended
    assert not pidfile.exists()
    assert guest("-r", "eth0").returncode == 0  # nothing running: nothing to release


def test_ipv6_and_unknown_options_are_refused_in_one_line(guest):
    run = guest("-6", "eth0")
    assert (run.returncode, run.stderr) == (2, "dhclient: -6: tiny's dhclient (busybox udhcpc) is IPv4 only\n")
    run = guest("--timeout", "eth0")
    assert (run.returncode, run.stderr.strip()) == (2, "dhclient: unsupported option --timeout "
                                                       "(tiny's dhclient is busybox udhcpc)")
    assert logged(guest) == []
