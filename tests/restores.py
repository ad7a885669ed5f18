"""The restore story shared by the modules that run it on nodes without a service manager (test_backup) and on
systemd nodes (test_backup_schedule)."""

from __future__ import annotations

import base64
import json
import time

from kazoo.security import make_acl, make_digest_acl

from tests.lab_helpers import SERVER_PID, Writer, inside

APP = "/app"
LOCKED = f"{APP}/locked"  # a znode with an ACL of its own, which the read-back compares too
LOCKED_ACL = [make_digest_acl("app", "app-secret", all=True), make_acl("world", "anyone", read=True)]
ACROSS = "/writes-across-the-restore"
# What a dry run must leave as it is on a node: the data and log directories, scratch space, the server.
NODE_STATE = ("find /var/lib /tmp -path '/var/lib/zookeeper*' -printf '%p %s %T@\n' -o -path '/tmp/clusterctl*' "
              "-printf '%p\n' 2>/dev/null | sort; " + SERVER_PID)


def client(ensemble, nodes):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=ensemble.hosts(nodes), timeout=10)
    zk.start(timeout=30)
    return zk


def restore_undoes_a_deleted_subtree(ensemble, nodes, tmp_path, node_state: str = NODE_STATE) -> None:
    """zk backup under a writer, a subtree deleted (a logical disaster) and a znode written after the backup;
    a dry run and an unasked restore change nothing (``node_state``: what to compare on each node); zk restore
    --yes then brings back every znode of the backup with its data and ACL, and every acknowledged write up to
    the backup's zxid, and not what came after; what each server had is kept aside."""
    zk = client(ensemble, nodes)
    try:
        for i in range(40):
            zk.create(f"{APP}/config/key-{i}", f"value-{i}".encode(), makepath=True)
        zk.create(LOCKED, b"only its owner writes here", acl=LOCKED_ACL)
        zk.ensure_path(ACROSS)  # where a client writes all through the restore (in the backup)
    finally:
        zk.stop()
        zk.close()

    with Writer(ensemble.hosts(nodes)) as writer:
        taken = ensemble.cli("zk", "backup", "--to", str(tmp_path / "b1"))
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert f"backup: {tmp_path / 'b1'}" in taken.stdout and manifest["zxid_range"]["to"] \
        in taken.stdout and f"{manifest['znodes']} znodes" in taken.stdout, taken.stdout
    assert manifest["cluster"] and manifest["servers"] == {n: i for i, n in enumerate(nodes, 1)} and manifest["server"] in nodes
    assert manifest["zookeeper_version"].startswith("3.8.0"), manifest
    kinds = [f["kind"] for f in manifest["files"]]
    assert kinds[0] == "snapshot" and set(kinds[1:]) == {"log"}, manifest["files"]
    listed = {base64.b64decode(line.split()[0]).decode()
              for line in (tmp_path / "b1" / "znodes.txt").read_text().splitlines()}
    assert {f"{APP}/config/key-{i}" for i in range(40)} <= listed
    assert len(listed) == manifest["znodes"]
    last = int(manifest["zxid_range"]["to"], 16)

    # Which acknowledged writes the backup holds: those committed up to its last zxid.
    zk = client(ensemble, nodes)
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

    before = {n: inside(ensemble.lab, n, node_state) for n in nodes}
    dry = ensemble.cli("zk", "restore", str(tmp_path / "b1"), "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert "dry run: nothing was changed" in dry.stdout and "before-restore" in dry.stdout, dry.stdout
    unasked = ensemble.cli("zk", "restore", str(tmp_path / "b1"))  # no terminal, no --yes
    assert unasked.returncode == 2 and "--yes" in unasked.stderr + unasked.stdout, unasked.stdout + unasked.stderr
    assert {n: inside(ensemble.lab, n, node_state) for n in nodes} == before

    with Writer(ensemble.hosts(nodes), path=ACROSS) as across:
        restored = ensemble.cli("zk", "restore", str(tmp_path / "b1"), "--yes")
        after_restore = len(across.acked)
        until = time.monotonic() + 60
        while len(across.acked) < after_restore + 20 and time.monotonic() < until:
            time.sleep(0.1)
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr
    assert f"all {len(listed) - sum(p == '/zookeeper' or p.startswith('/zookeeper/') for p in listed)} znodes " \
           f"of the backup read back, with their data and ACLs" in restored.stdout, restored.stdout[-2000:]
    # A write acknowledged before the servers stopped and after the backup is undone by the restore (it is in
    # the directories set aside); one acknowledged once the restored ensemble served is kept; none in between.
    assert len(across.acked) >= after_restore + 20, f"no writes after the restore: {across.errors[-3:]}"
    # (By index, not by name: the restored parent numbers its sequential children from where the backup had it,
    # so a name acknowledged before the stop comes again after the restore, with other data.)
    stopped_at = across.errors_at[0]
    zk = client(ensemble, nodes)
    try:
        zk.sync(ACROSS)
        lost = [i for i, (path, data) in enumerate(across.acked) if not zk.exists(path) or zk.get(path)[0] != data]
    finally:
        zk.stop()
        zk.close()
    assert lost and all(across.acked_at[i] < stopped_at for i in lost), f"{len(lost)} of {len(across.acked)} lost"
    assert len(across.acked) - len(lost) >= 20
    assert all(ensemble.role(n) in ("leader", "follower") for n in nodes)

    zk = client(ensemble, nodes)
    try:
        zk.sync("/")
        assert [zk.get(f"{APP}/config/key-{i}")[0] for i in range(40)] == [f"value-{i}".encode() for i in range(40)]
        missing = [p for p, d in in_backup if not zk.exists(p) or zk.get(p)[0] != d]
        assert missing == [], f"{len(missing)} of {len(in_backup)} writes up to the backup are missing"
        assert not any(zk.exists(p) for p in after) and not zk.exists("/after-the-backup")
        zk.add_auth("digest", "app:app-secret")  # a client without ADMIN on it reads a digest ACL's id masked
        assert zk.get_acls(LOCKED)[0] == LOCKED_ACL
        zk.create("/written-after-the-restore", b"ok")  # the restored ensemble takes writes
    finally:
        zk.stop()
        zk.close()
    for node in nodes:  # what was there before is kept, not deleted
        kept = inside(ensemble.lab, node, "ls -d /var/lib/zookeeper.before-restore-*").split()
        assert len(kept) == 1, kept
        assert "version-2" in inside(ensemble.lab, node, f"ls {kept[0]}")
