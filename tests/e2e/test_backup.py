"""zk backup and zk restore on a three-server lab: a backup taken under a writer and proven by ZooKeeper's own
classes; a subtree deleted (a logical disaster) and brought back by zk restore, with every znode of the backup
and every acknowledged write up to the backup's zxid there again; dry runs of both change nothing anywhere."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.ensembles import bootstrapped_three
from tests.lab_helpers import SERVER_PID, Writer, inside

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3"]
SERVERS = {"node1": 1, "node2": 2, "node3": 3}
APP = "/app"
# What a dry run must leave as it is on a node: the data and log directories, scratch space, the server.
NODE_STATE = ("find /var/lib /tmp -path '/var/lib/zookeeper*' -printf '%p %s %T@\n' -o -path '/tmp/clusterctl*' "
              "-printf '%p\n' 2>/dev/null | sort; " + SERVER_PID)


@pytest.fixture(scope="module")
def ensemble(artifacts):
    with bootstrapped_three(artifacts, "tbk", "10.231.126.0/24") as ensemble:
        yield ensemble


def client(ensemble):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=ensemble.hosts(NODES), timeout=10)
    zk.start(timeout=30)
    return zk


def nodes_state(ensemble) -> dict[str, str]:
    return {n: inside(ensemble.lab, n, NODE_STATE) for n in NODES}


def test_a_dry_run_backup_names_a_follower_and_the_files_and_changes_nothing(ensemble, tmp_path):
    before = nodes_state(ensemble)
    dry = ensemble.cli("zk", "backup", "--to", str(tmp_path / "b"), "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert "dry run: nothing was changed" in dry.stdout and "snapshot." in dry.stdout, dry.stdout
    source = next(n for n in NODES if f"from {n} (" in dry.stdout)
    assert ensemble.role(source) == "follower", dry.stdout
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
    assert nodes_state(ensemble) == before


def test_scheduled_backups_are_refused_on_nodes_without_systemd(ensemble):
    before = nodes_state(ensemble)
    refused = ensemble.cli("zk", "backup", "--schedule", "daily", "--keep", "3", "--on", "node2")
    assert refused.returncode == 2 and "node2: no systemd runs there" in refused.stderr, \
        refused.stdout[-2000:] + refused.stderr
    assert "Traceback" not in refused.stderr
    assert nodes_state(ensemble) == before
    assert all(inside(ensemble.lab, n, "ls /etc/systemd/system/clusterctl-backup-* /usr/local/lib/clusterctl "
                                       "2>/dev/null || true") == "" for n in NODES)


def test_restore_brings_back_a_deleted_subtree_and_every_write_up_to_the_backup(ensemble, tmp_path):
    zk = client(ensemble)
    try:
        for i in range(40):
            zk.create(f"{APP}/config/key-{i}", f"value-{i}".encode(), makepath=True)
    finally:
        zk.stop()
        zk.close()

    with Writer(ensemble.hosts(NODES)) as writer:
        taken = ensemble.cli("zk", "backup", "--to", str(tmp_path / "b1"))
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert f"backup: {tmp_path / 'b1'}" in taken.stdout and manifest["zxid_range"]["to"] \
        in taken.stdout and f"{manifest['znodes']} znodes" in taken.stdout, taken.stdout
    assert manifest["cluster"] and manifest["servers"] == SERVERS and manifest["server"] in NODES
    assert manifest["zookeeper_version"].startswith("3.8.0"), manifest
    kinds = [f["kind"] for f in manifest["files"]]
    assert kinds[0] == "snapshot" and set(kinds[1:]) == {"log"}, manifest["files"]
    listed = {base64.b64decode(line.split()[0]).decode()
              for line in (tmp_path / "b1" / "znodes.txt").read_text().splitlines()}
    assert {f"{APP}/config/key-{i}" for i in range(40)} <= listed
    assert len(listed) == manifest["znodes"]
    last = int(manifest["zxid_range"]["to"], 16)

    # Which acknowledged writes the backup holds: those committed up to its last zxid.
    zk = client(ensemble)
    try:
        czxid = {path: zk.exists(path).czxid for path, _ in writer.acked}
        in_backup = [(p, d) for p, d in writer.acked if czxid[p] <= last]
        after = [p for p, _ in writer.acked if czxid[p] > last]
        assert in_backup and {p for p, _ in in_backup} <= listed
        zk.delete(APP, recursive=True)  # the disaster
        zk.create("/after-the-backup", b"lost by the restore")
    finally:
        zk.stop()
        zk.close()

    before = nodes_state(ensemble)
    dry = ensemble.cli("zk", "restore", str(tmp_path / "b1"), "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert "dry run: nothing was changed" in dry.stdout and "before-restore" in dry.stdout, dry.stdout
    unasked = ensemble.cli("zk", "restore", str(tmp_path / "b1"))  # no terminal, no --yes
    assert unasked.returncode == 2 and "--yes" in unasked.stderr + unasked.stdout, unasked.stdout + unasked.stderr
    assert nodes_state(ensemble) == before

    restored = ensemble.cli("zk", "restore", str(tmp_path / "b1"), "--yes")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr
    assert f"all {len(listed) - sum(p == '/zookeeper' or p.startswith('/zookeeper/') for p in listed)} znodes" \
        in restored.stdout, restored.stdout[-2000:]
    assert all(ensemble.role(n) in ("leader", "follower") for n in NODES)

    zk = client(ensemble)
    try:
        zk.sync("/")
        assert [zk.get(f"{APP}/config/key-{i}")[0] for i in range(40)] == [f"value-{i}".encode() for i in range(40)]
        missing = [p for p, d in in_backup if not zk.exists(p) or zk.get(p)[0] != d]
        assert missing == [], f"{len(missing)} of {len(in_backup)} writes up to the backup are missing"
        assert not any(zk.exists(p) for p in after) and not zk.exists("/after-the-backup")
        zk.create("/written-after-the-restore", b"ok")  # the restored ensemble takes writes
    finally:
        zk.stop()
        zk.close()
    for node in NODES:  # what was there before is kept, not deleted
        kept = inside(ensemble.lab, node, "ls -d /var/lib/zookeeper.before-restore-*").split()
        assert len(kept) == 1, kept
        assert "version-2" in inside(ensemble.lab, node, f"ls {kept[0]}")
