"""zk backup --schedule on a three-server lab with systemd: a dry run changes nothing; the timer and service go to
a follower; the service, started by hand under a writer, takes backups on the node with the same manifest as zk
backup (checked on the controller like one of its own), keeping the newest N; zk status shows their age;
--schedule off removes the timer and the service and leaves the backups. Then that node's backup, copied here, is
restored --into a fresh one-server ensemble (another cluster) on the lab's fourth node, every znode read back. Last, the
restore's own story on these systemd nodes (tests/restores.py): a deleted subtree brought back by zk restore."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from tests.ensembles import Ensemble, bootstrapped_three, runbook_for
from tests.lab_helpers import Writer, inside
from tests.restores import restore_undoes_a_deleted_subtree

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3"]
SERVERS = {"node1": 1, "node2": 2, "node3": 3}
UNIT_FILES = "ls /etc/systemd/system/ | grep clusterctl-backup || true"
TAKEN: dict = {}  # the node's backup, copied here, and the acknowledged writes it holds


@pytest.fixture(scope="module")
def ensemble(artifacts):
    with bootstrapped_three(artifacts, "tbs", "10.231.132.0/24", spare=1, init="systemd") as ensemble:
        yield ensemble


def cluster(ensemble) -> str:
    import tomllib
    return tomllib.loads(ensemble.path.read_text())["cluster"]["name"]


def node_backups(ensemble, node: str) -> list[str]:
    root = f"/var/backups/zookeeper/{cluster(ensemble)}"
    return inside(ensemble.lab, node, f"ls {root} 2>/dev/null || true").split()


def fetch_backup(ensemble, node: str, name: str, into):
    """The node's backup directory, copied here as it is."""
    packed = inside(ensemble.lab, node, f"tar -C /var/backups/zookeeper/{cluster(ensemble)}/{name} -cf - . | base64 -w0")
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(packed))) as tar:
        tar.extractall(into)
    return into


def test_a_dry_run_names_a_follower_and_changes_nothing(ensemble):
    before = {n: inside(ensemble.lab, n, UNIT_FILES) for n in NODES}
    dry = ensemble.cli("zk", "backup", "--schedule", "daily", "--keep", "2", "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert "dry run: nothing was changed" in dry.stdout and "clusterctl-backup-" in dry.stdout, dry.stdout
    assert {n: inside(ensemble.lab, n, UNIT_FILES) for n in NODES} == before


def test_bad_arguments_are_refused_before_any_host_is_touched(ensemble):
    for words, says in ((["--schedule", "daily"], "--keep"), (["--keep", "2"], "--schedule"),
                        (["--schedule", "daily", "--keep", "2", "--on", "nosuch"], "nosuch")):
        refused = ensemble.cli("zk", "backup", *words)
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, \
            refused.stdout + refused.stderr
    assert all(inside(ensemble.lab, n, UNIT_FILES) == "" for n in NODES)


def test_scheduled_backups_are_taken_on_the_node_checked_kept_and_removed(ensemble, tmp_path):
    on = ensemble.cli("zk", "backup", "--schedule", "daily", "--keep", "2")
    assert on.returncode == 0, on.stdout[-3000:] + on.stderr
    node = next(n for n in NODES if f"daily on {n}" in on.stdout)
    assert ensemble.role(node) == "follower", on.stdout
    base = f"clusterctl-backup-{cluster(ensemble)}"
    assert inside(ensemble.lab, node, UNIT_FILES).split() == [f"{base}.service", f"{base}.timer"]
    assert inside(ensemble.lab, node, f"systemctl is-enabled {base}.timer; systemctl is-active {base}.timer").split() \
        == ["enabled", "active"]
    assert all(inside(ensemble.lab, n, UNIT_FILES) == "" for n in NODES if n != node)
    again = ensemble.cli("zk", "backup", "--schedule", "daily", "--keep", "2")
    assert again.returncode == 0 and f"daily on {node}" in again.stdout and "already so" in again.stdout, again.stdout[-2000:]

    with Writer(ensemble.hosts(NODES)) as writer:
        acked_before = []
        for _ in range(3):  # one more than it keeps
            acked_before.append(list(writer.acked))
            inside(ensemble.lab, node, f"systemctl start {base}.service; sleep 1")
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    kept = node_backups(ensemble, node)
    assert len(kept) == 2 and not any(k.endswith(".partial") for k in kept), kept

    # The newest one is a backup like zk backup's: its files match its manifest, ZooKeeper loaded it.
    from clusterctl.zk import backup as zkb
    copy = fetch_backup(ensemble, node, kept[-1], tmp_path / "b")
    manifest = zkb.load_backup(copy)
    assert manifest.cluster == cluster(ensemble) and manifest.server == node and manifest.servers == SERVERS
    assert manifest.zookeeper_version.startswith("3.8.0") and manifest.znodes > 0
    listed = zkb.read_listing(copy / zkb.LISTING)
    # systemctl start returns when the oneshot backup is done, so the newest backup began a whole backup and a
    # second after the second one did: every write acknowledged before that had reached the node by then.
    assert acked_before[1] and [path for path, _ in acked_before[1] if path not in listed] == []
    last = int(manifest.last_zxid, 16)
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=ensemble.hosts(NODES), timeout=10)
    zk.start(timeout=30)
    try:
        held = [(p, d) for p, d in writer.acked if zk.exists(p).czxid <= last]
    finally:
        zk.stop()
        zk.close()
    assert held and all(p in listed for p, _ in held), f"{sum(p not in listed for p, _ in held)} of {len(held)} missing"
    TAKEN.update(copy=copy, held=held)  # restored into a fresh ensemble by the next test

    status = ensemble.cli("zk", "status")
    assert f"on {node} (daily, newest 2 kept) " in status.stdout and "min ago" in status.stdout, status.stdout
    as_json = json.loads(ensemble.cli("zk", "status", "--json").stdout)
    assert as_json["backups"]["scheduled"]["host"] == node
    assert as_json["backups"]["scheduled"]["newest_age_hours"] < 1

    off = ensemble.cli("zk", "backup", "--schedule", "off")
    assert off.returncode == 0 and "scheduled backups: off" in off.stdout, off.stdout[-2000:] + off.stderr
    assert all(inside(ensemble.lab, n, UNIT_FILES) == "" for n in NODES)
    assert inside(ensemble.lab, node, f"systemctl is-active {base}.timer", check=False).strip() == "inactive"
    assert node_backups(ensemble, node) == kept  # the backups stay
    status = ensemble.cli("zk", "status")
    assert f"on {node}" not in status.stdout, status.stdout


def test_a_scheduled_backup_restores_into_a_fresh_ensemble_of_another_cluster(ensemble, artifacts):
    assert "copy" in TAKEN, "needs the node's backup the test before copied here"
    copy, held = TAKEN["copy"], TAKEN["held"]
    text = ensemble.lab.inventory_path.read_text().split("\n[jdk]")[0]
    name = cluster(ensemble)
    fresh = Ensemble(ensemble.lab, text.replace(f'name = "{name}"', f'name = "{name}-fresh"', 1)
                     + runbook_for(artifacts, ["node4"]).split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n")
    fresh.path = ensemble.lab.inventory_path.parent / "fresh.toml"
    fresh.inventory({"node4": 1})
    boot = fresh.cli("bootstrap")
    assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr

    refused = fresh.cli("zk", "restore", str(copy), "--yes")  # -i fresh.toml, without --into
    assert refused.returncode == 2 and "--into" in refused.stderr, refused.stdout[-2000:] + refused.stderr
    restored = ensemble.cli("zk", "restore", str(copy), "--into", str(fresh.path), "--yes")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr
    assert "znodes of the backup read back" in restored.stdout, restored.stdout[-2000:]
    assert fresh.role("node4") in ("standalone", "leader"), fresh.srvr("node4")
    assert all(ensemble.role(n) in ("leader", "follower") for n in NODES)  # the source is left as it was

    from kazoo.client import KazooClient
    target = KazooClient(hosts=fresh.hosts(["node4"]), timeout=10)
    target.start(timeout=30)
    try:
        target.sync("/")
        missing = [p for p, d in held if not target.exists(p) or target.get(p)[0] != d]
        assert missing == [], f"{len(missing)} of {len(held)} writes up to the backup are missing"
        config = target.get("/zookeeper/config")[0].decode()
        assert "server.1=" in config and "server.2=" not in config, config  # its own membership, not the backup's
        target.create("/written-after-the-restore", b"ok")
    finally:
        target.stop()
        target.close()


def test_restore_brings_back_a_deleted_subtree_on_systemd_nodes(ensemble, tmp_path):
    restore_undoes_a_deleted_subtree(ensemble, NODES, tmp_path)
