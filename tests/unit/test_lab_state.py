"""A lab's record says how it was built, so later commands boot it the same way and 'up' can tell its shape."""

from __future__ import annotations

import json
from dataclasses import replace

from clusterctl.lab import LabUser, SudoRights
from clusterctl.lab.state import LabRecord, read_record, shape_differences, write_record

RECORD = LabRecord(name="tlsd", subnet="10.231.140.0/24", nodes=("node1", "node2", "node3"), disk_size="6g",
                   lab_key_authorized=True, init="systemd", disk_sizes={"node3": "64m"})


def test_a_record_reads_back_as_it_was_written(tmp_path):
    write_record(tmp_path, RECORD)
    assert read_record(tmp_path) == RECORD


def test_a_login_user_and_a_bastion_read_back_as_they_were_written(tmp_path):
    record = replace(RECORD, user=LabUser("deploy", SudoRights.NOPASSWD), bastion=True)
    write_record(tmp_path, record)
    assert read_record(tmp_path) == record


def test_each_node_has_the_lab_disk_size_unless_given_its_own():
    assert [RECORD.disk_size_of(node) for node in RECORD.nodes] == ["6g", "6g", "64m"]


def test_a_record_from_before_inits_and_node_disks_reads_as_those_labs_booted(tmp_path):
    (tmp_path / "lab.json").write_text(json.dumps({"name": "tlsd", "subnet": "10.231.140.0/24",
                                                   "nodes": ["node1"], "disk_size": "6g",
                                                   "lab_key_authorized": True}))
    record = read_record(tmp_path)
    assert (record.init, record.disk_sizes, record.disk_size_of("node1")) == ("none", {}, "6g")
    assert (record.user, record.bastion) == (None, False)


def test_an_unreadable_record_is_no_record(tmp_path):
    (tmp_path / "lab.json").write_text("{not json")
    assert read_record(tmp_path) is None


def test_the_same_shape_has_no_differences_whatever_the_spelling_of_sizes():
    assert shape_differences(RECORD, replace(RECORD, disk_sizes={"node3": "64M"})) == []


def test_a_disk_given_explicitly_at_the_lab_size_is_the_same_shape():
    assert shape_differences(RECORD, replace(RECORD, disk_sizes={"node1": "6g", "node3": "64m"})) == []


def test_each_difference_of_shape_is_named():
    wanted = replace(RECORD, subnet="10.231.141.0/24", init="none", disk_sizes={}, lab_key_authorized=False)
    assert shape_differences(RECORD, wanted) == [
        "subnet 10.231.140.0/24, not 10.231.141.0/24", "init systemd, not none", "node3 disk 64m, not 6g",
        "lab key authorized"]


def test_another_login_user_or_other_sudo_rights_are_another_shape():
    deploy = replace(RECORD, user=LabUser("deploy"))
    assert shape_differences(deploy, replace(RECORD, user=LabUser("ops"))) == ["user deploy:sudo, not ops:sudo"]
    assert shape_differences(deploy, replace(RECORD, user=LabUser("deploy", SudoRights.NOSUDO))) == [
        "user deploy:sudo, not deploy:nosudo"]
    assert shape_differences(deploy, RECORD) == ["user deploy:sudo, not none"]
    assert shape_differences(RECORD, deploy) == ["user none, not deploy:sudo"]


def test_a_bastion_or_none_is_another_shape():
    assert shape_differences(replace(RECORD, bastion=True), RECORD) == ["a bastion"]
    assert shape_differences(RECORD, replace(RECORD, bastion=True)) == ["no bastion"]


def test_another_node_count_is_named_once_not_per_disk():
    assert shape_differences(RECORD, replace(RECORD, nodes=("node1", "node2"), disk_sizes={})) == [
        "3 nodes, not 2"]
