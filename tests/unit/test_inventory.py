"""The inventory is validated before any host is contacted: one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterctl.errors import ExitStatus, InventoryError
from clusterctl.inventory import load_inventory
from test_package_files import write_package

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
        write_package(package)
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
])
def test_each_problem_names_its_key(tmp_path, mutation, key, words):
    err = error_for(tmp_path, mutation(BASE))
    assert err.key == key
    assert words in str(err)
    assert str(tmp_path / "cluster.toml") in str(err)
    assert err.exit_status == ExitStatus.USAGE
    assert "\n" not in str(err)


def test_package_files_are_not_read_at_load(tmp_path):
    """An operator checking status from another machine, or after deleting the tarball, has no package file."""
    text = BASE + ('\n[jdk]\npackage = "gone/jdk.rpm"\n[zookeeper]\npackage = "/nowhere/zk.tar.gz"\n'
                   '[zookeeper.servers]\nnode2 = 1\n')
    inv = load_inventory(write(tmp_path, text))
    assert inv.jdk.package == tmp_path / "gone" / "jdk.rpm" and inv.jdk.kind == "rpm"
    assert inv.zookeeper.package == Path("/nowhere/zk.tar.gz")


def test_broken_toml_is_one_line(tmp_path):
    err = error_for(tmp_path, "[cluster\nname=")
    assert "not valid TOML" in str(err) and "\n" not in str(err)


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="file not found"):
        load_inventory(tmp_path / "nope.toml")


def zk_inventory(tmp_path: Path, servers: str, extra: str = "") -> str:
    write_package(tmp_path / "zk.tar.gz")
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


# -- every value has a strict type and shape -------------------------------------------------

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def with_node1(tmp_path: Path, lines: str) -> str:
    return BASE.replace('[hosts.node1]\naddress = "192.168.10.11"', f"[hosts.node1]\n{lines}")


def node1_also(tmp_path: Path, lines: str) -> str:
    """BASE with ``lines`` added to node1's address."""
    return with_node1(tmp_path, f'address = "192.168.10.11"\n{lines}')


def with_cluster(tmp_path: Path, lines: str) -> str:
    """BASE with ``lines`` in [cluster], in place of BASE's own lines for the same keys."""
    keys = {line.split("=")[0].strip() for line in lines.splitlines()}
    kept = [line for line in BASE.splitlines() if line.split("=")[0].strip() not in keys]
    return "\n".join(kept).replace("[cluster]", f"[cluster]\n{lines}")


def with_section(tmp_path: Path, text: str) -> str:
    return BASE + "\n" + text + "\n"


def files(tmp_path: Path) -> None:
    """The files the cases below point at: keys, packages good and broken, a directory, a file as a parent."""
    (tmp_path / "id_ed25519").write_text(PRIVATE_KEY)
    (tmp_path / "id_ed25519.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINBJ me@host\n")
    (tmp_path / "notes.txt").write_text("a private key\n")
    (tmp_path / "id_dsa").write_text("-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ\n")
    (tmp_path / "a-directory").mkdir()
    for name in ("jdk.rpm", "jdk.deb", "jdk.tar.gz", "zk.tar.gz"):
        write_package(tmp_path / name)
        (tmp_path / f"cut-{name}").write_bytes((tmp_path / name).read_bytes()[:-40])
        (tmp_path / f"garbage-{name}").write_bytes(b"<html>404 not found</html>" * 10)
    (tmp_path / "zk-head.tar.gz").write_bytes((tmp_path / "zk.tar.gz").read_bytes()[:20])


ZK = '[zookeeper]\npackage = "zk.tar.gz"\n{}\n[zookeeper.servers]\nnode2 = 1\nnode3 = 2\nnode4 = 3'


@pytest.mark.parametrize("make, lines, key, words", [
    # a list or a number where an address string belongs
    (node1_also, 'gateway = ["10.0.0.1"]', "hosts.node1.gateway", "got an array"),
    (node1_also, 'dns = [1]', "hosts.node1.dns", "must be a string, got 1"),
    (with_node1, "address = 10", "hosts.node1.address", "must be a string, got 10"),
    (with_node1, 'address = ["192.168.10.11"]', "hosts.node1.address", "got an array"),
    (with_node1, 'address = ""', "hosts.node1.address", "must not be empty"),
    # prefix by address family
    (node1_also, 'prefix = 33', "hosts.node1.prefix", "from 1 to 32"),
    (with_node1, 'address = "fd00::11"\nprefix = 129', "hosts.node1.prefix", "from 1 to 128"),
    (node1_also, 'prefix = 24.0', "hosts.node1.prefix", "got 24.0"),
    (node1_also, 'prefix = true', "hosts.node1.prefix", "got true"),
    (node1_also, 'gateway = "fd00::1"', "hosts.node1.gateway", "not an IPv4 address"),
    (with_node1, 'address = "node1.example.com"\ninterface = "eth0"', "hosts.node1.address",
     "must be an IP address for the network step"),
    # DNS servers are addresses
    (node1_also, 'dns = ["ns1.example.com"]', "hosts.node1.dns", "not an IP address"),
    (node1_also, 'dns = "192.168.10.1"', "hosts.node1.dns", "must be an array"),
    (node1_also, 'dns = ["10.0.0.1", "10.0.0.1"]', "hosts.node1.dns", "twice"),
    (node1_also, 'gateway = "router"', "hosts.node1.gateway", "not an IP address"),
    # addresses and names that only look right
    (with_node1, 'address = "192.168.10.11\\n"', "hosts.node1.address", "control or invisible character '\\n'"),
    (with_node1, 'address = "192.168.010.11"', "hosts.node1.address", "neither"),
    (with_node1, 'address = "0x7f000001"', "hosts.node1.address", "neither"),
    (with_node1, 'address = "10.1"', "hosts.node1.address", "neither"),
    (with_node1, 'address = "fe80::1%eth0"', "hosts.node1.address", "neither"),
    (with_node1, 'address = "node\u212a"', "hosts.node1.address", "neither"),
    (with_node1, 'address = "node1;reboot"', "hosts.node1.address", "neither"),
    (lambda t, s: BASE + s, '\n[hosts."node5\\n"]\naddress = "10.0.0.5"', 'hosts."node5\\u000A"', "host names hold"),
    (lambda t, s: BASE + s, '\n[hosts."node\u212a"]\naddress = "10.0.0.5"', 'hosts."node\u212a"', "host names hold"),
    (lambda t, s: BASE + s, '\n[hosts.NODE1]\naddress = "10.0.0.5"', "hosts.NODE1", "same host name as node1"),
    (lambda t, s: BASE + s, '\n[hosts.node5]\naddress = "10.0.0.5"\nssh_address = "192.168.10.12"',
     "hosts.node5.ssh_address", "also the address of node2"),
    (with_node1, 'address = "192.168.10.12"\nssh_address = "10.9.9.9"\ninterface = "eth0"\n'
                 '[hosts.node9]\naddress = "192.168.10.12"\ninterface = "eth0"', "hosts.node9.address",
     "also the address of node1"),
    # users and interfaces reach shell commands and config files
    (node1_also, 'user = "root;reboot"', "hosts.node1.user", "is not a login name"),
    (node1_also, 'user = "Admin"', "hosts.node1.user", "is not a login name"),
    (node1_also, 'user = "root\\n"', "hosts.node1.user", "control"),
    (node1_also, f'user = "{"a" * 33}"', "hosts.node1.user", "at most 32"),
    (with_cluster, 'user = "$(id)"', "cluster.user", "is not a login name"),
    (node1_also, 'interface = "eth0;reboot"', "hosts.node1.interface", "interface name"),
    (node1_also, 'interface = "eth 0"', "hosts.node1.interface", "interface name"),
    (node1_also, 'interface = "eth0/1"', "hosts.node1.interface", "interface name"),
    (node1_also, 'interface = "averylonginterface"', "hosts.node1.interface", "1 to 15"),
    (node1_also, 'interface = "-eth0"', "hosts.node1.interface", "not '-' first"),
    (node1_also, 'interface = ".."', "hosts.node1.interface", "interface name"),
    # identities are private key files
    (with_cluster, 'identity = "id_ed25519.pub"', "cluster.identity", "point it at the private key /"),
    (with_cluster, 'identity = "notes.txt"', "cluster.identity", "not an SSH private key"),
    (with_cluster, 'identity = "id_dsa"', "cluster.identity", "a DSA key"),
    (with_cluster, 'identity = "a-directory"', "cluster.identity", "is a directory"),
    (node1_also, 'identity = ["id_ed25519"]', "hosts.node1.identity", "got an array"),
    (with_cluster, f'identity = "{"x" * 300}"', "cluster.identity", "is unreachable (File name too long)"),
    (with_cluster, 'known_hosts = "a-directory"', "cluster.known_hosts", "is a directory"),
    (with_cluster, 'known_hosts = "notes.txt/known_hosts"', "cluster.known_hosts", "notes.txt is a file"),
    # a package key's value: a path by the inventory's rules, a kind by its name (the file is read when needed)
    (with_section, '[jdk]\npackage = "jdk.zip"', "jdk.package", "is not a .rpm, .deb, .tar.gz, .tgz package"),
    (with_section, '[jdk]\npackage = ["jdk.rpm"]', "jdk.package", "must be a string, got an array"),
    (with_section, '[jdk]\npackage = ""', "jdk.package", "must not be empty"),
    (with_section, '[jdk]\nhosts = ["node1"]', "jdk.package", "missing"),
    (with_section, ZK.replace('"zk.tar.gz"', '"zk.rpm"').format(""), "zookeeper.package", "not a .tar.gz, .tgz"),
    (with_section, ZK.replace('"zk.tar.gz"', "2").format(""), "zookeeper.package", "must be a string, got 2"),
    # strings anywhere
    (with_cluster, 'name = "seed\\u0000"', "cluster.name", "control or invisible character '\\x00'"),
    (with_cluster, 'name = "my cluster"', "cluster.name", "is not a cluster name"),
    (with_cluster, 'name = "seed\\u2028"', "cluster.name", "control or invisible"),
    (with_cluster, 'name = ""', "cluster.name", "must not be empty"),
    (with_section, '[jdk]\npackage = "jdk.rpm"\nstage_dir = "/opt/$(reboot)"', "jdk.stage_dir", "absolute path"),
    (with_section, '[jdk]\npackage = "jdk.rpm"\nstage_dir = "/opt/../etc"', "jdk.stage_dir", "absolute path"),
    (with_section, '[jdk]\npackage = "jdk.rpm"\njava_home = "usr/java"', "jdk.java_home", "absolute path"),
    (with_section, '[jdk]\npackage = "jdk.rpm"\njava_home = "/usr/java:/bin"', "jdk.java_home", "absolute path"),
    (with_section, '[jdk]\npackage = "jdk\\n.rpm"', "jdk.package", "control"),
    (with_section, ZK.format('four_letter_words = ["srvr", "srvr\\n"]'), "zookeeper.four_letter_words",
     "not a four-letter word"),
    (with_section, ZK.format('four_letter_words = ["srvr", "srvr"]'), "zookeeper.four_letter_words", "twice"),
    (with_section, ZK.format('data_dir = "/var/lib/zoo keeper"'), "zookeeper.data_dir", "absolute path"),
    (with_section, ZK.format('admin_server = ["off"]'), "zookeeper.admin_server", "an array is not one of"),
    # TOML-level oddities
    (lambda t, s: s, '[[hosts]]\naddress = "10.0.0.1"', "hosts", "must be a table of hosts, got an array"),
    (lambda t, s: s + BASE.replace("[cluster]\n", "[cluster.x]\n"), "", "cluster.x", "unknown key"),
    (lambda t, s: "cluster = 5\n" + BASE.split("[hosts.node1]")[1].join(["[hosts.node1]", ""]), "", "cluster",
     "must be a table, got 5"),
    (lambda t, s: s, "[hosts]\nnode2 = 7", "hosts.node2", "must be a table, got 7"),
    (lambda t, s: s, "hosts = false", "hosts", "must be a table of hosts, got false"),
    (with_cluster, "port = 99999999999999999999999", "cluster.port", "got a huge integer"),
    (with_cluster, "port = 0x" + "f" * 5000, "cluster.port", "got a huge integer"),
    (with_cluster, "port = 1979-05-27", "cluster.port", "got a date"),
    (with_cluster, "port = inf", "cluster.port", "got inf"),
    (with_section, ZK.format("").replace("node2 = 1", 'node2 = "1"'), "zookeeper.servers.node2", "must be a myid"),
    (with_section, ZK.format("").replace("node2 = 1", "node2 = true"), "zookeeper.servers.node2", "must be a myid"),
    (with_section, ZK.format("").replace("node2 = 1", "node2 = { id = 1, observer = 1 }"),
     "zookeeper.servers.node2.observer", "must be true or false"),
    (with_section, ZK.format("").replace("node3 = 2", "node3 = 1"), "zookeeper.servers.node3", "already used"),
    (with_section, '[zookeeper]\npackage = "zk.tar.gz"\nservers = ["node2"]', "zookeeper.servers", "got an array"),
    (with_section, '[ssh_trust]\nhosts = ["node1", 2]', "ssh_trust.hosts", "names host 2 (item 2)"),
    (with_section, '[ssh_trust]\nhosts = ["node1", "node1"]', "ssh_trust.hosts", "lists host 'node1' twice"),
    (with_section, '[ssh_trust]\nhosts = "node1"', "ssh_trust.hosts", "non-empty array"),
    (with_section, '[ssh_trust]\nkey_type = 1', "ssh_trust.key_type", "1 is not one of"),
])
def test_each_bad_value_is_one_line_naming_its_key_and_fix(tmp_path, make, lines, key, words):
    files(tmp_path)
    err = error_for(tmp_path, make(tmp_path, lines))
    message = str(err)
    assert (err.key, words in message) == (key, True), message
    assert message.startswith(f"{tmp_path / 'cluster.toml'}: {key}: ")
    assert len(message.splitlines()) == 1 and "(fix: " in message
    assert err.exit_status == ExitStatus.USAGE


def test_good_values_of_every_kind_load(tmp_path):
    files(tmp_path)
    inv = load_inventory(write(tmp_path, with_cluster(tmp_path, 'identity = "id_ed25519"\nuser = "svc_zk$"')
                               .replace('[hosts.node1]\naddress = "192.168.10.11"',
                                        '[hosts.node1]\naddress = "FD00:0::11"\nprefix = 64\ngateway = "fd00::1"\n'
                                        'interface = "enp0s3.100"\ndns = ["fd00::53", "192.168.10.1"]')
                               + '\n[hosts.db]\naddress = "db-1.example.com"\nport = 2222\n'
                               + '[jdk]\npackage = "jdk.deb"\nstage_dir = "/srv/stage/"\n'
                               + ZK.format('four_letter_words = ["*"]')))
    node1 = inv.hosts["node1"]
    assert (node1.address, node1.prefix, node1.gateway, node1.interface) == ("fd00::11", 64, "fd00::1", "enp0s3.100")
    assert node1.dns == ("fd00::53", "192.168.10.1") and node1.user == "svc_zk$"
    assert node1.identity == (tmp_path / "id_ed25519").resolve()
    assert (inv.hosts["db"].address, inv.hosts["db"].port) == ("db-1.example.com", 2222)
    assert inv.jdk.kind == "deb" and inv.jdk.stage_dir == "/srv/stage"
    assert inv.zookeeper.four_letter_words == ("*",)


def test_the_same_address_on_other_ports_is_other_hosts(tmp_path):
    inv = load_inventory(write(tmp_path, '[hosts.a]\naddress = "127.0.0.1"\nport = 2201\n'
                                         '[hosts.b]\naddress = "127.0.0.1"\nport = 2202\n'))
    assert [h.port for h in inv.hosts.values()] == [2201, 2202]


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe[cluster]", "not UTF-8 text"),
    (b"x = [" * 2000, "not valid TOML"),
    (b"[cluster]\nname = \"a\nb\"\n", "not valid TOML"),
    (b"[cluster]\nport = " + b"9" * 5000, "cluster.port: must be a whole number from 1 to 65535, got a huge integer"),
])
def test_a_file_that_is_no_toml_inventory_is_one_line(tmp_path, content, words):
    path = tmp_path / "cluster.toml"
    path.write_bytes(content)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert words in str(info.value) and len(str(info.value).splitlines()) == 1


def test_an_inventory_that_is_a_directory_is_one_line(tmp_path):
    with pytest.raises(InventoryError, match="is a directory"):
        load_inventory(tmp_path)


# -- size -----------------------------------------------------------------------------------

def many_hosts(count: int) -> str:
    hosts = "".join(f'[hosts.n{i}]\naddress = "10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"\n' for i in range(count))
    listed = ", ".join(f'"n{i}"' for i in range(count))
    return f'[cluster]\nknown_hosts = "kh"\n{hosts}[ssh_trust]\nhosts = [{listed}]\n'


def test_an_inventory_of_100000_hosts_loads_and_is_rejected_whole(tmp_path):
    """Loading is linear in the hosts (benchmarks/inventory_load.py times it); here only the outcome counts."""
    text = many_hosts(100_000)
    inv = load_inventory(write(tmp_path, text))
    assert len(inv.hosts) == 100_000 and len(inv.ssh_trust.hosts) == 100_000
    assert inv.hosts["n99999"].address == "10.1.134.159"
    err = error_for(tmp_path, text.replace("[ssh_trust]", '[hosts.last]\naddress = "10.0.0.1"\n[ssh_trust]'))
    assert err.key == "hosts.last.address" and "also the address of n1" in str(err)


def test_a_line_break_in_the_inventory_s_own_directory_is_escaped_in_the_error(tmp_path):
    odd = tmp_path / "a\nb"
    odd.mkdir()
    (odd / "cluster.toml").write_text('[cluster]\nidentity = "missing-key"\n[hosts.node1]\naddress = "10.0.0.1"\n')
    err = error_for(odd, (odd / "cluster.toml").read_text())
    assert len(str(err).splitlines()) == 1 and "a\\nb" in str(err) and err.key == "cluster.identity"
