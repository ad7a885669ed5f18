"""A lab's record says how it was built, so later commands boot it the same way and 'up' can tell its shape."""

from __future__ import annotations

import json
from dataclasses import replace

from clusterctl.lab.state import LabRecord, read_record, shape_differences, write_record

RECORD = LabRecord(name="tlsd", subnet="10.231.140.0/24", nodes=("node1", "node2", "node3"), disk_size="6g",
                   lab_key_authorized=True, init="systemd", disk_sizes={"node3": "64m"})


def test_a_record_reads_back_as_it_was_written(tmp_path):
    write_record(tmp_path, RECORD)
    assert read_record(tmp_path) == RECORD


def test_each_node_has_the_lab_disk_size_unless_given_its_own():
    assert [RECORD.disk_size_of(node) for node in RECORD.nodes] == ["6g", "6g", "64m"]


def test_a_record_from_before_inits_and_node_disks_reads_as_those_labs_booted(tmp_path):
    (tmp_path / "lab.json").write_text(json.dumps({"name": "tlsd", "subnet": "10.231.140.0/24",
                                                   "nodes": ["node1"], "disk_size": "6g",
                                                   "lab_key_authorized": True}))
    record = read_record(tmp_path)
    assert (record.init, record.disk_sizes, record.disk_size_of("node1")) == ("none", {}, "6g")


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


def test_another_node_count_is_named_once_not_per_disk():
    assert shape_differences(RECORD, replace(RECORD, nodes=("node1", "node2"), disk_sizes={})) == [
        "3 nodes, not 2"]
