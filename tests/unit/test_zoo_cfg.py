"""zoo.cfg and java.env rendered from the inventory: plain input → output cases."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from clusterctl.errors import InventoryError
from clusterctl.inventory import Inventory, ZkServer, load_inventory
from test_package_files import write_package
from clusterctl.render.zoo_cfg import (parse_members, render_dynamic, render_java_env, render_myid, render_zoo_cfg)

RUNBOOK = """
[cluster]
name = "seed"
[hosts.node1]
address = "192.168.10.11"
[hosts.node2]
address = "192.168.10.12"
[hosts.node3]
address = "192.168.10.13"
[hosts.node4]
address = "192.168.10.14"
[zookeeper]
package = "apache-zookeeper-3.8.0-bin.tar.gz"
{extra}
[zookeeper.servers]
{servers}
"""


def inventory(extra: str = "", servers: str = "node2 = 1\nnode3 = 2\nnode4 = 3") -> Inventory:
    root = Path(tempfile.mkdtemp(prefix="zoo-cfg-"))
    write_package(root / "apache-zookeeper-3.8.0-bin.tar.gz")  # a real tarball: the loader reads it
    (root / "cluster.toml").write_text(RUNBOOK.format(extra=extra, servers=servers))
    return load_inventory(root / "cluster.toml")


def test_the_runbook_topology():
    inv = inventory()
    assert render_zoo_cfg(inv.zookeeper, inv, "node2") == """\
# ZooKeeper ensemble of cluster 'seed', written by clusterctl from the inventory.
# The membership is in the dynamic file; change it with clusterctl zk add/remove/replace.
tickTime=2000
initLimit=5
syncLimit=2
dataDir=/var/lib/zookeeper
dataLogDir=/var/lib/zookeeper/datalog
4lw.commands.whitelist=srvr, mntr, ruok, stat, conf, isro
admin.enableServer=false
snapCount=100000
autopurge.snapRetainCount=3
autopurge.purgeInterval=24
reconfigEnabled=true
standaloneEnabled=false
dynamicConfigFile=/etc/zookeeper/zoo.cfg.dynamic
"""


def members_of(inv) -> str:
    return render_dynamic(inv.zookeeper, [(s.id, s.host, s.observer) for s in inv.zookeeper.servers])


def test_the_runbook_membership():
    assert members_of(inventory()) == (
        "server.1=node2:2888:3888:participant;0.0.0.0:2181\n"
        "server.2=node3:2888:3888:participant;0.0.0.0:2181\n"
        "server.3=node4:2888:3888:participant;0.0.0.0:2181\n")


def test_every_voter_gets_the_same_file():
    inv = inventory()
    assert len({render_zoo_cfg(inv.zookeeper, inv, h) for h in ("node2", "node3", "node4")}) == 1


def test_the_runbook_ports_and_timing_come_from_the_inventory():
    inv = inventory('quorum_port = 2881\nelection_port = 3881\ntick_time = 500\ninit_limit = 10\n'
                    'sync_limit = 5\nclient_port = 2182\ndata_dir = "/data/zk"\ndata_log_dir = "/log/zk"')
    text = render_zoo_cfg(inv.zookeeper, inv, "node3") + members_of(inv)
    for line in ("server.2=node3:2881:3881:participant;0.0.0.0:2182", "tickTime=500", "initLimit=10",
                 "syncLimit=5", "dataDir=/data/zk", "dataLogDir=/log/zk"):
        assert line in text.splitlines()


def test_an_observer_is_marked_in_the_membership_and_nowhere_else():
    inv = inventory(servers="node1 = 1\nnode2 = 2\nnode3 = 3\nnode4 = { id = 4, observer = true }")
    observer_file = render_zoo_cfg(inv.zookeeper, inv, "node4").splitlines()
    voter_file = render_zoo_cfg(inv.zookeeper, inv, "node2").splitlines()
    assert "server.4=node4:2888:3888:observer;0.0.0.0:2181" in members_of(inv).splitlines()
    assert parse_members(members_of(inv))[4] == ("node4", "observer")
    # Its role is its membership line's alone: a promotion by reconfig leaves no static file stale.
    assert [line for line in observer_file if not line.startswith("#")] == \
        [line for line in voter_file if not line.startswith("#")]
    assert not [line for line in observer_file if line.startswith("peerType")]


@pytest.mark.parametrize("mode, lines", [
    ("off", ["admin.enableServer=false"]),
    ("localhost", ["admin.enableServer=true", "admin.serverAddress=127.0.0.1", "admin.serverPort=8081"]),
    ("all", ["admin.enableServer=true", "admin.serverPort=8081"]),
])
def test_admin_server(mode, lines):
    inv = inventory(f'admin_server = "{mode}"\nadmin_port = 8081')
    admin = [line for line in render_zoo_cfg(inv.zookeeper, inv, "node2").splitlines() if line.startswith("admin.")]
    assert admin == lines


def test_the_whitelist_is_the_inventory_s():
    inv = inventory('four_letter_words = ["srvr"]')
    assert "4lw.commands.whitelist=srvr" in render_zoo_cfg(inv.zookeeper, inv, "node2").splitlines()
    inv = inventory('four_letter_words = ["*"]')
    assert "4lw.commands.whitelist=*" in render_zoo_cfg(inv.zookeeper, inv, "node2").splitlines()


def test_java_env_sets_the_server_heap_where_zkserver_sh_starts_it():
    assert "export ZK_SERVER_HEAP=1000\n" in render_java_env(inventory().zookeeper, "/usr/java/default", False, "d")
    assert "export ZK_SERVER_HEAP=128\n" in render_java_env(inventory("heap_mb = 128").zookeeper, "/j", False, "d")


def test_a_heap_too_small_for_a_jvm_is_an_inventory_error():
    with pytest.raises(InventoryError, match="zookeeper.heap_mb"):
        inventory("heap_mb = 8")


def test_myid_is_the_id_alone():
    assert render_myid(3) == "3\n"


BASE = inventory()


@given(st.lists(st.tuples(st.integers(1, 255), st.booleans()), min_size=1, max_size=7,
                unique_by=lambda t: t[0]))
def test_each_server_is_listed_once_in_id_order_and_only_observers_say_peer_type(members):
    if all(observer for _, observer in members):
        members[0] = (members[0][0], False)
    servers = tuple(ZkServer(f"zk{sid}", sid, observer) for sid, observer in members)
    spec = dataclasses.replace(BASE.zookeeper, servers=servers)
    listed = render_dynamic(spec, [(s.id, s.host, s.observer) for s in servers]).splitlines()
    assert [int(re.match(r"server\.(\d+)=", line).group(1)) for line in listed] == sorted(s.id for s in servers)
    for s in servers:
        role = "observer" if s.observer else "participant"
        assert f"server.{s.id}=zk{s.id}:2888:3888:{role};0.0.0.0:2181" in listed
    assert {i: r for i, (_, r) in parse_members("\n".join(listed)).items()} == \
        {s.id: ("observer" if s.observer else "participant") for s in servers}
    for own in servers:
        lines = render_zoo_cfg(spec, BASE, own.host).splitlines()
        assert not [line for line in lines if line.startswith("server.")]
        assert not [line for line in lines if line.startswith("peerType")]
        keys = [line.split("=", 1)[0] for line in lines if not line.startswith("#")]
        assert len(keys) == len(set(keys)), "no key twice"
