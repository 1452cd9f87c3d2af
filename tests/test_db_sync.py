"""A schema sync killed halfway is redone by the next run, on empty databases if it
was the first one: its shell logic run in a local shell against fake mysql, su and
dpkg-query (the marker folder moved under a temp folder)."""
from __future__ import annotations

import os
import subprocess

import pytest

from deploy.services.shared import db_sync


@pytest.fixture
def controller(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {
        "mysql": 'echo "mysql $*" >> "$T/log"; case "$*" in *COUNT*) cat "$T/tables";; esac',
        "su": 'echo "su $*" >> "$T/log"; exit "$(cat "$T/sync_rc")"',
        "dpkg-query": 'cat "$T/version"',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "version").write_text("26.2.2")

    def run(tables: int, sync_rc: int) -> int:
        (tmp_path / "tables").write_text(f"{tables}\n")
        (tmp_path / "sync_rc").write_text(str(sync_rc))
        (tmp_path / "log").write_text("")
        step = db_sync("24-nova-init-db", "nova-common", "nova-manage db sync", "nova", ("nova", "nova_cell0"))
        text = step.command.replace("/var/lib/deploy", str(tmp_path / "deploy"))
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "T": str(tmp_path)}
        return subprocess.run(["sh", "-c", text], env=env, timeout=30).returncode

    return run, tmp_path


def test_a_first_sync_killed_halfway_starts_again_on_empty_databases(controller):
    run, t = controller
    assert run(tables=0, sync_rc=137) != 0                         # the first sync dies
    assert (t / "deploy" / "db-sync-nova-common.first-sync").exists()
    assert not (t / "deploy" / "db-sync-nova-common").exists()
    assert "DROP" not in (t / "log").read_text()
    assert run(tables=41, sync_rc=0) == 0                          # half a schema left behind
    log = (t / "log").read_text()
    assert "DROP DATABASE IF EXISTS nova; CREATE DATABASE nova; DROP DATABASE IF EXISTS nova_cell0;" in log
    assert log.index("DROP") < log.index("su -s")                  # emptied before the sync runs again
    assert (t / "deploy" / "db-sync-nova-common").read_text() == "26.2.2"
    assert not (t / "deploy" / "db-sync-nova-common.first-sync").exists()


def test_a_later_sync_never_empties_a_database(controller):
    run, t = controller
    (t / "deploy").mkdir()
    (t / "deploy" / "db-sync-nova-common").write_text("26.2.1")    # synced once, the package moved on
    assert run(tables=120, sync_rc=1) != 0
    assert run(tables=120, sync_rc=0) == 0
    assert "DROP" not in (t / "log").read_text()
    assert not (t / "deploy" / "db-sync-nova-common.first-sync").exists()


def test_a_database_that_held_tables_before_is_no_first_sync(controller):
    run, t = controller
    assert run(tables=7, sync_rc=1) != 0          # no marker, but tables of someone else's: never dropped
    assert not (t / "deploy" / "db-sync-nova-common.first-sync").exists()
    assert run(tables=7, sync_rc=0) == 0
    assert "DROP" not in (t / "log").read_text()
