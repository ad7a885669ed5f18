"""The inventory is validated before any host is contacted: one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterctl.errors import ExitStatus, InventoryError
from clusterctl.inventory import load_inventory

BASE = """
[cluster]
name = "seed"
user = "root"
known_hosts = "kh"

[hosts.node1]
address = "192.168.10.11"
[hosts.node2]
address = "192.168.10.12"
[hosts.node3]
address = "192.168.10.13"
[hosts.node4]
address = "192.168.10.14"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> InventoryError:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, text))
    return info.value


def test_runbook_inventory_loads_with_defaults(tmp_path):
    inv = load_inventory(write(tmp_path, BASE))
    assert list(inv.hosts) == ["node1", "node2", "node3", "node4"]
    assert inv.hosts["node2"].address == "192.168.10.12"
    assert inv.hosts["node2"].port == 22 and inv.hosts["node2"].user == "root"
    assert inv.ssh_trust.key_type == "ed25519"
    assert inv.ssh_trust.hosts == ("node1", "node2", "node3", "node4")
    assert inv.cluster.known_hosts == (tmp_path / "kh").resolve()


def test_shipped_runbook_inventory_describes_the_runbook(tmp_path):
    """configs/cluster.toml loads once its packages exist (they are built, not committed)."""
    shipped = Path(__file__).parents[2] / "configs" / "cluster.toml"
    text = shipped.read_text().replace('identity = "~/.ssh/id_ed25519"', "")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "cluster.toml").write_text(text)
    inv_raw = __import__("tomllib").loads(text)
    for key in ("jdk", "zookeeper"):
        package = (tmp_path / "configs" / inv_raw[key]["package"]).resolve()
        package.parent.mkdir(exist_ok=True)
        package.write_bytes(b"stand-in")
    inv = load_inventory(tmp_path / "configs" / "cluster.toml")
    assert list(inv.hosts) == ["node1", "node2", "node3", "node4"]
    assert inv.jdk.kind == "rpm" and inv.jdk.stage_dir == "/opt/apps"
    assert [(s.host, s.id) for s in inv.zookeeper.servers] == [("node2", 1), ("node3", 2), ("node4", 3)]
    assert inv.hosts["node1"].interface == "eth0" and inv.hosts["node1"].gateway == "192.168.10.1"


def test_per_host_overrides_win_over_cluster_defaults(tmp_path):
    inv = load_inventory(write(tmp_path, BASE.replace(
        '[hosts.node2]\naddress = "192.168.10.12"',
        '[hosts.node2]\naddress = "192.168.10.12"\nuser = "ops"\nport = 2222')))
    assert (inv.hosts["node2"].user, inv.hosts["node2"].port) == ("ops", 2222)
    assert inv.hosts["node1"].user == "root"


@pytest.mark.parametrize("mutation, key, words", [
    (lambda t: t + "\n[cluster2]\n", "cluster2", "unknown key"),
    (lambda t: t.replace('user = "root"', 'usr = "root"'), "cluster.usr", "did you mean 'user'"),
    (lambda t: t.replace('"192.168.10.12"', '"192.168.10.11"'), "hosts.node2.address", "also the address of node1"),
    (lambda t: t + '\n[ssh_trust]\nhosts = ["node1", "node9"]\n', "ssh_trust.hosts", "node9"),
    (lambda t: t + '\n[ssh_trust]\nkey_type = "dsa"\n', "ssh_trust.key_type", "dsa is refused"),
    (lambda t: t + '\n[ssh_trust]\nkey_type = "ecdsa"\n', "ssh_trust.key_type", "not one of"),
    (lambda t: t.replace('[cluster]', '[cluster]\nidentity = "/nonexistent/key"'), "cluster.identity", "unreadable"),
    (lambda t: t.replace('address = "192.168.10.13"', 'address = "300.1.1.1"'), "hosts.node3.address", "neither"),
    (lambda t: t.replace('[cluster]', '[cluster]\nport = 0'), "cluster.port", "from 1 to 65535"),
    (lambda t: t + '\n[jdk]\npackage = "jdk.zip"\n', "jdk.package", "not a .rpm"),
    (lambda t: t + '\n[jdk]\npackage = "missing.rpm"\n', "jdk.package", "does not exist"),
])
def test_each_problem_names_its_key(tmp_path, mutation, key, words):
    err = error_for(tmp_path, mutation(BASE))
    assert err.key == key
    assert words in str(err)
    assert str(tmp_path / "cluster.toml") in str(err)
    assert err.exit_status == ExitStatus.USAGE
    assert "\n" not in str(err)


def test_broken_toml_is_one_line(tmp_path):
    err = error_for(tmp_path, "[cluster\nname=")
    assert "not valid TOML" in str(err) and "\n" not in str(err)


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="file not found"):
        load_inventory(tmp_path / "nope.toml")


def zk_inventory(tmp_path: Path, servers: str, extra: str = "") -> str:
    (tmp_path / "zk.tar.gz").write_bytes(b"x")
    return BASE + f'\n[zookeeper]\npackage = "zk.tar.gz"\n{extra}\n[zookeeper.servers]\n{servers}\n'


def test_zookeeper_servers_by_id_or_table(tmp_path):
    inv = load_inventory(write(tmp_path, zk_inventory(
        tmp_path, 'node2 = 1\nnode3 = 2\nnode4 = { id = 3, observer = true }')))
    zk = inv.zookeeper
    assert [(s.host, s.id, s.observer) for s in zk.servers] == [
        ("node2", 1, False), ("node3", 2, False), ("node4", 3, True)]
    assert [s.host for s in zk.voters] == ["node2", "node3"]
    assert zk.package == (tmp_path / "zk.tar.gz").resolve()
    assert (zk.client_port, zk.quorum_port, zk.election_port) == (2181, 2888, 3888)
    assert zk.admin_server == "off"
    assert any("2 voters tolerate 0" in w for w in inv.warnings)


@pytest.mark.parametrize("servers, key, words", [
    ("node2 = 1\nnode3 = 1", "zookeeper.servers.node3", "already used by node2"),
    ("node2 = 0", "zookeeper.servers.node2.id", "from 1 to 255"),
    ("node2 = 256", "zookeeper.servers.node2.id", "from 1 to 255"),
    ("node9 = 1", "zookeeper.servers.node9", "not a defined host"),
    ("node2 = { id = 1, observer = true }", "zookeeper.servers", "no voter"),
])
def test_bad_zookeeper_servers(tmp_path, servers, key, words):
    err = error_for(tmp_path, zk_inventory(tmp_path, servers))
    assert err.key == key and words in str(err)


def test_zookeeper_ports_must_differ(tmp_path):
    err = error_for(tmp_path, zk_inventory(tmp_path, "node2 = 1", "quorum_port = 2181"))
    assert err.key == "zookeeper" and "ports must differ" in str(err)


def test_hosts_limit_keeps_only_named_hosts_in_steps(tmp_path):
    inv = load_inventory(write(tmp_path, BASE)).limited_to(["node2", "node3"])
    assert inv.ssh_trust.hosts == ("node2", "node3")
    with pytest.raises(InventoryError, match="unknown host"):
        inv.limited_to(["node7"])
