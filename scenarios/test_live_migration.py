"""Live migration across the GlusterFS share, the reason the report built it:
a guest that keeps counting and answering pings moves to another compute and
back, with no block migration, and loses nothing."""
import subprocess
import time

import pytest

from checks.tools import ensure_tools
from deploy.migration import live_migrate
from deploy.waits import WaitFailed, wait_for
from scenarios.cloud import GuestCommandFailed, GuestError
from scenarios.test_volumes import attach, wait_volume

pytestmark = pytest.mark.scenario

# A counter the guest keeps writing, one line per tick, to a file on `dir`;
# setsid: it outlives the SSH session that starts it
COUNTER = ("setsid sh -c 'echo $$ > /tmp/counter.pid; i=0; while :; do i=$((i+1)); echo $i >> {dir}/counter; sleep 0.2; done' "
           ">/dev/null 2>&1 </dev/null &")


@pytest.fixture(autouse=True)
def two_computes(inventory):
    computes = inventory.with_role("compute")
    if len(computes) < 2:
        pytest.skip(f"live migration needs two compute hosts; the inventory has {len(computes)}")
    ensure_tools({"/usr/bin/ping": "iputils-ping"})


class Pinger:
    """ping from this machine, every 0.2 s, remembering when each reply came."""

    def __init__(self, address: str):
        self.proc = subprocess.Popen(["ping", "-D", "-n", "-i", "0.2", "-W", "1", address],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> list[float]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [float(line[1:line.index("]")]) for line in out.splitlines()
                if line.startswith("[") and "bytes from" in line]


def longest_gap(replies: list[float], start: float, end: float) -> float:
    """The longest time without a reply between start and end (epoch seconds)."""
    marks = [start] + [t for t in replies if start <= t <= end] + [end]
    return round(max(b - a for a, b in zip(marks, marks[1:])), 2)


def counter_lines(guest, directory: str) -> list[int]:
    return [int(x) for x in guest.run_as_root(f"cat {directory}/counter").split()]


def migrate(cloud, guest, timing, label: str, to: str | None = None) -> tuple[float, str]:
    """Live-migrate with the library's waiter (deploy.migration.live_migrate,
    the one `python -m deploy drain` uses); returns (seconds, new host) once
    this migration completed and the guest is ACTIVE, idle, on another host.
    A failed migration or a server in ERROR ends the wait at once."""
    source = guest.host
    try:
        seconds, now_on = live_migrate(cloud.nova, guest.server, to)
    except WaitFailed as e:
        raise GuestError(f"{e}; see nova-compute's log on {source}") from None
    guest.refresh()
    timing(f"live migration {label}", seconds)
    return seconds, now_on


@pytest.mark.parametrize("with_volume", [False, True], ids=["idle", "with-volume"])
def test_live_migration_keeps_the_guest_running(with_volume, boot, cloud, cleanup, inventory, timing):
    """Boot a tiny guest (with an attached volume in one case) that keeps
    writing a counter to its disk and answering pings; live-migrate it; the
    host changed, the migration completed, pings went on (longest gap
    reported), the counter went on without a lost or repeated tick; migrate
    it back the same way."""
    image = inventory.images[0].name
    guest = boot(image)
    directory = "/tmp"
    if with_volume:
        volume = cloud.cinder.volumes.create(1, name="scenario-migration-volume")
        cleanup.add(f"volume {volume.id}", lambda: cloud.cinder.volumes.delete(volume.id))
        wait_volume(cloud, volume, "available")
        disk = attach(cloud, guest, volume, timing)
        cleanup.add(f"detach {volume.id}", lambda: (cloud.nova.volumes.delete_server_volume(guest.server.id, volume.id),
                                                    wait_volume(cloud, volume, "available")))
        directory = "/mnt/v"
        guest.run_as_root(f"mkfs.ext4 -q -F /dev/{disk} && mkdir -p {directory} && mount /dev/{disk} {directory}")
        # the guest unmounts before the volume is detached at cleanup
        cleanup.add(f"unmount {directory} in {guest.server.name}", lambda: guest.run_as_root(
            f"kill $(cat /tmp/counter.pid) 2>/dev/null; umount {directory} || true"))
    guest.run_as_root(COUNTER.format(dir=directory))
    # the counter's file may not exist yet on the first look
    wait_for(lambda: len(counter_lines(guest, directory)) >= 5, 60, f"{guest.server.name} counting",
             transient=(GuestCommandFailed,))

    origin = guest.host
    for label, to in ((f"{origin} away", None), ("back", origin)):
        pinger = Pinger(guest.floating_ip)
        wait_for(lambda: subprocess.run(["ping", "-c1", "-W1", guest.floating_ip],
                                        capture_output=True).returncode == 0, 60, f"{guest.floating_ip} answering ping")
        start = time.time()
        seconds, now_on = migrate(cloud, guest, timing, label, to)
        end = time.time() + 3  # replies just after the switch count too
        wait_for(lambda: time.time() >= end, 10, "three seconds of pings after the migration", interval=0.5)
        replies = pinger.stop()
        gap = longest_gap(replies, start, end)
        timing(f"longest ping gap {label}", gap)
        assert any(t > start + seconds for t in replies), f"no ping reply from {guest.floating_ip} after the migration"
        assert gap < 20, f"{guest.server.name} unreachable for {gap}s during the migration to {now_on}"
        if to:
            assert now_on == to, f"{guest.server.name} went to {now_on}, asked for {to}"
        ticks = counter_lines(guest, directory)
        assert ticks == list(range(1, len(ticks) + 1)), \
            f"counter lost or repeated ticks across the migration: {[t for t in ticks if t != ticks.index(t) + 1][:5]}"
        wait_for(lambda: len(counter_lines(guest, directory)) > len(ticks), 30,
                 f"{guest.server.name}'s counter going on after the migration (it stopped at {len(ticks)})")
    assert guest.host == origin
