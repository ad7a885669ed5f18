"""The pure parts of zk backup and zk restore: which server, which files, the manifest and its checks."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest

from clusterctl.errors import BackupInvalid, NoQuorum, Refused
from clusterctl.zk import backup as zkb
from clusterctl.zk.status import EnsembleStatus, ServerStatus


def files(*specs: str) -> list[zkb.DataFile]:
    out = []
    for spec in specs:
        kind, _, rest = spec.partition(".")
        partial = rest.endswith("!")
        out.append(zkb.DataFile(kind, spec.rstrip("!"), 100, complete=not partial))
    return out


def names(selection: zkb.Selection) -> list[str]:
    return [f.name for f in selection.files]


def test_the_newest_snapshot_the_log_holding_it_and_every_later_log_are_needed():
    listing = files("snapshot.100", "snapshot.300", "log.1", "log.200", "log.2f0", "log.400", "log.500")
    assert names(zkb.needed_files(listing)) == ["snapshot.300", "log.2f0", "log.400", "log.500"]


def test_a_log_starting_at_the_snapshots_zxid_is_the_one_that_holds_it():
    listing = files("snapshot.300", "log.200", "log.300", "log.400")
    assert names(zkb.needed_files(listing)) == ["snapshot.300", "log.300", "log.400"]


def test_zxids_compare_as_numbers_not_as_text():
    listing = files("snapshot.9", "snapshot.10", "log.8", "log.f", "log.11")
    assert names(zkb.needed_files(listing)) == ["snapshot.10", "log.f", "log.11"]


def test_a_snapshot_still_being_written_is_passed_over_for_the_one_before():
    listing = files("snapshot.100", "snapshot.300!", "log.50", "log.200", "log.400")
    assert names(zkb.needed_files(listing)) == ["snapshot.100", "log.50", "log.200", "log.400"]


def test_without_a_log_before_the_snapshot_every_log_is_kept():
    assert names(zkb.needed_files(files("snapshot.300", "log.400", "log.500"))) == \
        ["snapshot.300", "log.400", "log.500"]


def test_no_complete_snapshot_is_nothing_to_back_up():
    with pytest.raises(BackupInvalid):
        zkb.needed_files(files("snapshot.5!", "log.1"))


def test_the_listing_keeps_zookeepers_plain_names_only():
    text = ("snapshot snapshot.1a 500 complete\nsnapshot snapshot.2b 10 partial\nlog log.1 67108880\n"
            "snapshot snapshot.3.gz 10 complete\nlog log.zz 5\nsomething else\n")
    assert zkb.parse_listing(text) == [zkb.DataFile("snapshot", "snapshot.1a", 500, True),
                                       zkb.DataFile("snapshot", "snapshot.2b", 10, False),
                                       zkb.DataFile("log", "log.1", 67108880, True)]


def server(host, role, zxid=0x100000010, observer=False):
    return ServerStatus(host=host, id=int(host[-1]), observer=observer, role=role, zxid=zxid)


def test_an_observer_is_preferred_then_the_follower_closest_to_the_leader():
    status = EnsembleStatus([server("n1", "leader", 0x100000020), server("n2", "follower", 0x100000010),
                             server("n3", "follower", 0x100000020), server("n4", "observer", 0x10000001f, True)])
    assert zkb.choose_source(status).host == "n4"
    assert zkb.choose_source(status, {"n1", "n2", "n3"}).host == "n3"


def test_the_leader_only_when_no_other_server_serves():
    status = EnsembleStatus([server("n1", "leader"), server("n2", "follower"), server("n3", "down")])
    assert zkb.choose_source(status, {"n1", "n3"}).host == "n1"
    with pytest.raises(Refused):
        zkb.choose_source(status, {"n3"})


def test_no_backup_without_a_quorum():
    status = EnsembleStatus([server("n1", "looking"), server("n2", "follower"), server("n3", "down")])
    with pytest.raises(NoQuorum):
        zkb.choose_source(status)


def manifest(tmp_path) -> zkb.Manifest:
    (tmp_path / "version-2").mkdir()
    entries = []
    for name, data in (("snapshot.10", b"snap"), ("log.5", b"log-bytes")):
        (tmp_path / "version-2" / name).write_bytes(data)
        entries.append(zkb.FileEntry(name.split(".")[0], name, len(data), hashlib.sha256(data).hexdigest()))
    listing = b"Lw== aa\n"
    (tmp_path / zkb.LISTING).write_bytes(listing)
    m = zkb.Manifest(cluster="lab", server="n2", servers={"n1": 1, "n2": 2, "n3": 3}, zookeeper_version="3.8.0",
                     taken_at="2024-01-01T00:00:00+00:00", snapshot_zxid="0x10", last_zxid="0x2a", znodes=1,
                     files=entries, listing=zkb.FileEntry("listing", zkb.LISTING, len(listing),
                                                          hashlib.sha256(listing).hexdigest()))
    (tmp_path / zkb.MANIFEST).write_text(m.to_json())
    return m


def test_a_manifest_reads_back_as_written_and_an_intact_backup_loads(tmp_path):
    m = manifest(tmp_path)
    assert zkb.Manifest.from_json(m.to_json()) == m
    assert zkb.load_backup(tmp_path) == m
    assert '"zxid_range": {\n    "from": "0x10",\n    "to": "0x2a"\n  }' in m.to_json()
    assert m.size == 4 + 9


def test_a_changed_or_missing_file_makes_the_backup_invalid(tmp_path):
    manifest(tmp_path)
    (tmp_path / "version-2" / "log.5").write_bytes(b"log-byteZ")
    with pytest.raises(BackupInvalid, match="log.5: sha256 differs"):
        zkb.load_backup(tmp_path)
    (tmp_path / "version-2" / "log.5").unlink()
    with pytest.raises(BackupInvalid, match="log.5: missing"):
        zkb.load_backup(tmp_path)


def test_a_directory_without_a_manifest_is_no_backup(tmp_path):
    with pytest.raises(BackupInvalid, match="no manifest.json"):
        zkb.load_backup(tmp_path)
    (tmp_path / zkb.MANIFEST).write_text('{"format": 1}')
    with pytest.raises(BackupInvalid, match="not a clusterctl backup manifest"):
        zkb.load_backup(tmp_path)


def b64(path: str) -> str:
    return base64.b64encode(path.encode()).decode()


OPEN, ONE_HOST = "31:world:anyone\n", "1:ip:10.0.0.1\n"


def test_the_loaders_output_becomes_the_listing_and_its_summary(tmp_path):
    out = io.StringIO()
    loaded = zkb.split_load_output([f"node {b64('/')} e3 {b64(OPEN)}\n", f"node {b64('/a b')} 12 {b64(ONE_HOST)}\n",
                                    "zxid 0x10000002a\n", "count 2\n", "log4j:WARN noise\n"], out)
    assert loaded == zkb.Loaded(0x10000002a, 2)
    (tmp_path / "l").write_text(out.getvalue() + f"{b64('/zookeeper/config')} 99 {b64(OPEN)}\n")
    assert zkb.read_listing(tmp_path / "l") == {"/": zkb.Listed("e3", OPEN), "/a b": zkb.Listed("12", ONE_HOST)}


def test_a_listing_from_before_acls_were_listed_still_reads_and_compares_data_alone(tmp_path):
    (tmp_path / "l").write_text(f"{b64('/a')} e3\n")
    assert zkb.read_listing(tmp_path / "l") == {"/a": zkb.Listed("e3")}
    assert zkb.compare({"/a": zkb.Listed("e3")}, {"/a": zkb.Listed("e3", OPEN)}) == []


def test_an_acl_is_listed_as_one_line_per_entry_whatever_its_id_holds():
    assert zkb.acl_text([(31, "world", "anyone"), (1, "x509", "CN=a b, O=c")]) == \
        "31:world:anyone\n1:x509:CN=a b, O=c\n"


def test_a_load_that_did_not_finish_is_no_proof():
    with pytest.raises(BackupInvalid):
        zkb.split_load_output([f"node {b64('/')} e3\n"], io.StringIO())


def test_compare_names_each_znode_missing_or_with_other_data_or_another_acl():
    listed = {p: zkb.Listed(d, OPEN) for p, d in (("/a", "1"), ("/b", "2"), ("/c", "3"), ("/d", "4"))}
    read = {"/a": zkb.Listed("1", OPEN), "/b": zkb.Listed("x", OPEN), "/c": None, "/d": zkb.Listed("4", "1:ip:10.0.0.1\n")}
    assert zkb.compare(listed, read) == \
        ["/b: other data", "/c: missing", "/d: other ACL (1:ip:10.0.0.1 instead of 31:world:anyone)"]


def test_without_the_super_user_a_digest_acl_is_compared_as_zookeeper_masks_it():
    locked = "31:digest:app:tZXX4202qH8gjeD2plIBQIGcAVg=\n1:world:anyone\n"
    assert zkb.masked(locked) == "31:digest:app:x\n1:world:anyone\n"
    read = {"/a": zkb.Listed("1", "31:digest:app:x\n1:world:anyone\n")}
    assert zkb.compare({"/a": zkb.Listed("1", locked)}, read, digests_masked=True) == []
    assert zkb.compare({"/a": zkb.Listed("1", locked)}, read) != []


def test_a_dry_run_may_list_a_servers_data_and_nothing_else_of_the_backup_script():
    from clusterctl.core.session import reads_only
    assert reads_only("zk_backup.sh", ["list", "/var/lib/zookeeper", "/var/lib/zookeeper/datalog"])
    assert not any(reads_only("zk_backup.sh", [action]) for action in ("cat", "verify", "restore"))


def test_a_backup_is_of_this_ensemble_only_with_its_cluster_name_and_server_ids(tmp_path):
    from types import SimpleNamespace

    from clusterctl.steps.backup import same_ensemble
    m = manifest(tmp_path)

    def session(name, servers):
        spec = SimpleNamespace(servers=[SimpleNamespace(host=h, id=i) for h, i in servers.items()])
        return SimpleNamespace(inventory=SimpleNamespace(cluster=SimpleNamespace(name=name), zookeeper=spec))

    assert same_ensemble(session("lab", {"n1": 1, "n2": 2, "n3": 3}), m)
    assert not same_ensemble(session("prod", {"n1": 1, "n2": 2, "n3": 3}), m)
    assert not same_ensemble(session("lab", {"n1": 1, "n2": 2, "n4": 4}), m)


@pytest.mark.parametrize("own, backup, expected", [("1", 3, "3"), ("5", 3, "5"), (None, 2, "2")])
def test_a_restored_server_gets_its_own_epochs_raised_to_the_backups(tmp_path, own, backup, expected):
    import subprocess
    from importlib import resources
    data = tmp_path / "data"
    (data / "version-2").mkdir(parents=True)
    (data / "myid").write_text("1\n")
    if own is not None:
        for name in ("acceptedEpoch", "currentEpoch"):
            (data / "version-2" / name).write_text(own)
    snapshot = b"snapshot bytes"
    script = resources.files("clusterctl.remote").joinpath("zk_backup.sh").read_bytes()
    subprocess.run(["bash", "-s", "--", "restore", str(data), str(data / "datalog"), "s1", str(backup), "snapshot",
                    "snapshot.300000001", str(len(snapshot)), hashlib.sha256(snapshot).hexdigest()],
                   input=script + snapshot, capture_output=True, check=True)
    assert [(data / "version-2" / n).read_text() for n in ("acceptedEpoch", "currentEpoch")] == [expected] * 2
    assert (data / "version-2" / "snapshot.300000001").read_bytes() == snapshot
    assert (tmp_path / "data.before-restore-s1" / "myid").is_file() and (data / "myid").read_text() == "1\n"


def test_an_epoch_is_the_high_half_of_a_zxid():
    assert zkb.epoch_of("0x300000001") == 3 and zkb.epoch_of("0x5") == 0
