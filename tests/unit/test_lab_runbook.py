"""The lab's runbook sections parse as an inventory that mirrors the runbook."""

from __future__ import annotations

import tomllib
from pathlib import Path

from clusterctl.lab.runbook import render_runbook_sections, zookeeper_nodes


def test_four_nodes_put_zookeeper_on_node2_to_node4_with_myid_1_to_3():
    text = render_runbook_sections(["node1", "node2", "node3", "node4"], Path("/a/jdk.rpm"), Path("/a/zk.tar.gz"))
    data = tomllib.loads(text)
    assert data["zookeeper"]["servers"] == {"node2": 1, "node3": 2, "node4": 3}
    assert data["jdk"]["hosts"] == ["node1", "node2", "node3", "node4"]
    assert data["jdk"]["package"] == "/a/jdk.rpm"


def test_small_labs_run_zookeeper_everywhere():
    assert zookeeper_nodes(["node1", "node2", "node3"]) == ["node1", "node2", "node3"]
    assert zookeeper_nodes(["node1", "node2", "node3", "node4", "node5"]) == ["node2", "node3", "node4", "node5"]


def test_shipped_lab_inventory_is_what_lab_up_writes_for_the_demo_lab():
    from clusterctl.lab import Lab, render_lab_inventory

    shipped = tomllib.loads((Path(__file__).parents[2] / "configs" / "lab.toml").read_text())
    lab = Lab("demo")
    names = ["node1", "node2", "node3", "node4"]
    rendered = tomllib.loads(render_lab_inventory(
        "demo", {n: str(lab.topology.address(n)) for n in names},
        lab.key_path, lab.known_hosts_path, lab.password_path,
        extra=render_runbook_sections(names, Path("/x/jdk.rpm"), Path("/x/zk.tar.gz"))))
    for section in ("jdk", "zookeeper"):
        shipped[section].pop("package"), rendered[section].pop("package")
    assert shipped == rendered
