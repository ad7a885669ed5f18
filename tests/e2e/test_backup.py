"""zk backup and zk restore on a three-server lab: a backup taken under a writer and proven by ZooKeeper's own
classes; a subtree deleted (a logical disaster) and brought back by zk restore, with every znode of the backup
and ACL, and every acknowledged write up to the backup's zxid there again, a client writing all through the
restore; dry runs of both change nothing anywhere (the restore's story is tests/restores.py, which
test_backup_schedule runs on systemd nodes)."""

from __future__ import annotations

import pytest

from tests.ensembles import bootstrapped_three
from tests.lab_helpers import inside
from tests.restores import NODE_STATE, restore_undoes_a_deleted_subtree

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3"]


@pytest.fixture(scope="module")
def ensemble(artifacts):
    with bootstrapped_three(artifacts, "tbk", "10.231.126.0/24") as ensemble:
        yield ensemble


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
    restore_undoes_a_deleted_subtree(ensemble, NODES, tmp_path)
