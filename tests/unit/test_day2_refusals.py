"""Bad input to the day-2 commands is refused before anything is touched.

What the inventory and the arguments alone show to be wrong (a node name no
host has, a server not listed or still listed in [zookeeper.servers], a role
the inventory does not give, a package that is not what the command installs)
is one line naming the argument and the fix, exit 2, and no connection.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from clusterctl.cli import main
from clusterctl.errors import ExitStatus, PackageFileError, UsageError
from clusterctl.inventory import load_inventory
from clusterctl.package_files import tarball_lacks
from clusterctl.packages import JDK, ZOOKEEPER_RELEASE
from clusterctl.steps import upgrade
from clusterctl.zk.membership import check_request
from tests.fakes import refuse_connections, unreachable_inventory
from test_package_files import write_package

INVENTORY = unreachable_inventory("jdk-17.0.15.tar.gz", node4="{ id = 3, observer = true }")


def tarball(path: Path, top: str, members: list[str], last: bytes = b"") -> Path:
    """A gzip tarball of empty ``members`` under ``top``, then a file holding ``last``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in [top + "/", *(f"{top}/{m}" for m in members), f"{top}/last"]:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
            data = last if name.endswith("/last") else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def release(path: Path, top: str = "apache-zookeeper-3.8.1-bin") -> Path:
    """A ZooKeeper release as Apache ships it: the scripts, the server jar among its modules' jars."""
    return tarball(path, top, ["bin/zkEnv.sh", "bin/zkServer.sh", "lib/zookeeper-jute-3.8.1.jar",
                               "lib/zookeeper-3.8.1.jar"])


def jdk_tarball(path: Path, top: str = "jdk-17.0.16") -> Path:
    return tarball(path, top, ["bin/jar", "bin/java", "lib/modules"])


@pytest.fixture
def attempts(monkeypatch) -> list[str]:
    return refuse_connections(monkeypatch)


@pytest.fixture
def cluster(tmp_path) -> Path:
    jdk_tarball(tmp_path / "jdk-17.0.15.tar.gz", "jdk-17.0.15")
    release(tmp_path / "apache-zookeeper-3.8.0-bin.tar.gz", "apache-zookeeper-3.8.0-bin")
    (tmp_path / "cluster.toml").write_text(INVENTORY)
    return tmp_path / "cluster.toml"


def refused(cluster: Path, attempts: list[str], capsys, *argv: str) -> str:
    """The one line ``clusterctl ARGV`` was refused with (exit 2, no host contacted)."""
    status = main([*argv, "-i", str(cluster), "--log", str(cluster.parent / "run.log")])
    err = capsys.readouterr().err
    assert status == ExitStatus.USAGE, err
    assert len(err.splitlines()) == 1 and err.startswith("clusterctl: ") and "Traceback" not in err, err
    assert attempts == []
    return err


# -- membership -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["zk", "add", "node99"], "clusterctl: zk add node99: node99 is not a host of {inv}; add [hosts.node99] and "
                              "list it in [zookeeper.servers] with a new id first"),
    (["zk", "add", "node1"], "{inv}: [zookeeper.servers]: node1 is not listed; add it there (with a new id) "
                             "before clusterctl zk add node1"),
    (["zk", "add", "node5", "node1"], "node5 is not listed"),
    (["zk", "remove", "node2"], "{inv}: [zookeeper.servers]: node2 is still listed; remove it there before "
                                "clusterctl zk remove node2"),
    (["zk", "promote", "node99"], "node99 is not a host of {inv}; name a server of [zookeeper.servers] "
                                  "(node2, node3, node4)"),
    (["zk", "promote", "node1"], "node1 is not listed; only a server listed there can be promoted"),
    (["zk", "promote", "node4"], "{inv}: [zookeeper.servers]: node4: promote needs the inventory to say so first "
                                 "(no observer = true)"),
    (["zk", "demote", "node2"], "node2: demote needs the inventory to say so first (observer = true)"),
    (["zk", "demote", "node5"], "node5 is not listed; only a server listed there can be demoted"),
    (["zk", "replace", "node2", "node2"], "clusterctl: zk replace node2 node2: DEAD and NEW are the same host"),
    (["zk", "replace", "node1", "node99"], "clusterctl: zk replace node1 node99: NEW node99 is not a host of {inv}"),
    (["zk", "replace", "node1", "node5"], "{inv}: [zookeeper.servers]: NEW node5 is not listed; put it there in "
                                          "node1's place (with a new id) before clusterctl zk replace node1 node5"),
    (["zk", "replace", "node3", "node2"], "{inv}: [zookeeper.servers]: DEAD node3 is still listed; put node2 "
                                          "there in its place before clusterctl zk replace node3 node2"),
])
def test_a_membership_change_the_inventory_does_not_say_is_refused_before_any_host(
        cluster, attempts, capsys, argv, words):
    err = refused(cluster, attempts, capsys, *argv)
    assert words.format(inv=cluster) in err, err


def test_the_request_check_is_pure_and_passes_what_the_inventory_says(cluster):
    spec = load_inventory(cluster).zookeeper
    hosts = ["node1", "node2", "node3", "node4", "node5"]
    check_request("add", ["node2"], spec, hosts, "inv.toml")  # whether it runs already is the ensemble's to say
    check_request("remove", ["node1", "gone-node"], spec, hosts, "inv.toml")  # a dead node may have left [hosts]
    check_request("promote", ["node2"], spec, hosts, "inv.toml")
    check_request("demote", ["node4"], spec, hosts, "inv.toml")
    check_request("replace", ["gone-node", "node3"], spec, hosts, "inv.toml")
    with pytest.raises(UsageError, match="node9 is not a host"):
        check_request("add", ["node9"], spec, hosts, "inv.toml")


# -- upgrades: the package is what the command installs ---------------------------------------------

def test_zk_upgrade_refuses_a_jdk_as_a_release_before_any_host(cluster, attempts, capsys, tmp_path):
    jdk = jdk_tarball(tmp_path / "jdk-17.0.16.tar.gz")
    err = refused(cluster, attempts, capsys, "zk", "upgrade", "--package", str(jdk))
    assert err == (f"clusterctl: --package: {jdk} is not a ZooKeeper release: it has no jdk-17.0.16/bin/zkServer.sh "
                   f"and no jdk-17.0.16/lib/zookeeper-VERSION.jar (fix: {ZOOKEEPER_RELEASE.fix})\n")


def test_jdk_upgrade_refuses_a_release_as_a_jdk_before_any_host(cluster, attempts, capsys, tmp_path):
    zk = release(tmp_path / "apache-zookeeper-3.8.1-bin.tar.gz")
    err = refused(cluster, attempts, capsys, "jdk", "upgrade", "--package", str(zk))
    assert err == (f"clusterctl: --package: {zk} is not a JDK: it has no apache-zookeeper-3.8.1-bin/bin/java "
                   f"(fix: {JDK.fix})\n")


@pytest.mark.parametrize("command, name, words", [
    ("zk", "zk.rpm", "is not a .tar.gz, .tgz package"),
    ("zk", "zk.tar.gz", "is not a readable tar archive"),
    ("jdk", "jdk.rpm", "jdk upgrade switches java_home"),
    ("jdk", "jdk.zip", "is not a .rpm, .deb, .tar.gz, .tgz package"),
    ("jdk", "jdk.tar.gz", "is not a readable tar archive"),
])
def test_an_upgrade_package_of_the_wrong_kind_is_refused_before_any_host(cluster, attempts, capsys, tmp_path,
                                                                          command, name, words):
    (tmp_path / name).write_bytes(b"<html>404 not found</html>" * 10)
    err = refused(cluster, attempts, capsys, command, "upgrade", "--package", str(tmp_path / name))
    assert err.startswith("clusterctl: --package: ") and words in err and "(fix: " in err, err


def test_zk_upgrade_checks_the_inventorys_release_when_no_package_is_given(cluster, attempts, capsys):
    jdk_tarball(cluster.parent / "apache-zookeeper-3.8.0-bin.tar.gz", "jdk-17.0.15")
    err = refused(cluster, attempts, capsys, "zk", "upgrade")
    assert err.startswith(f"clusterctl: {cluster}: zookeeper.package: ") and "is not a ZooKeeper release" in err


def test_an_upgrade_installs_the_package_it_is_given_once_checked(cluster, tmp_path):
    inventory = load_inventory(cluster)
    new = release(tmp_path / "apache-zookeeper-3.8.1-bin.tar.gz")
    assert upgrade.with_package(inventory, new).zookeeper.package == new
    assert upgrade.with_package(inventory, None).zookeeper.package == inventory.zookeeper.package
    jdk = jdk_tarball(tmp_path / "jdk-17.0.16.tar.gz")
    changed = upgrade.with_jdk_package(inventory, jdk).jdk
    assert (changed.package, changed.kind) == (jdk, "tarball")


def test_a_tarballs_members_are_read_only_as_far_as_needed(tmp_path):
    path = tarball(tmp_path / "zk.tar.gz", "zk", ["bin/zkServer.sh", "lib/zookeeper-3.8.1.jar"], os.urandom(1 << 16))
    path.write_bytes(path.read_bytes()[:-(1 << 15)])  # cut short after the members that matter
    assert tarball_lacks(path, ZOOKEEPER_RELEASE.members) == ("zk", [])
    with pytest.raises(PackageFileError):
        tarball_lacks(path, JDK.members)


def test_only_the_server_jar_counts_as_a_releases_jar(tmp_path):
    modules_only = tarball(tmp_path / "zk.tar.gz", "zk", ["bin/zkServer.sh", "lib/zookeeper-jute-3.8.1.jar",
                                                          "lib/zookeeper-prometheus-metrics-3.8.1.jar"])
    assert tarball_lacks(modules_only, ZOOKEEPER_RELEASE.members) == ("zk", ["lib/zookeeper-VERSION.jar"])
    elsewhere = tarball(tmp_path / "zk2.tar.gz", "zk", ["bin/zkServer.sh", "docs/lib/zookeeper-3.8.1.jar"])
    assert tarball_lacks(elsewhere, ZOOKEEPER_RELEASE.members)[1] == ["lib/zookeeper-VERSION.jar"]


def test_the_lab_built_release_and_jdk_are_what_the_upgrades_need():
    """The artifacts the lab builds (when this machine has built them) pass the same checks."""
    cache = Path(os.environ.get("CLUSTERCTL_ARTIFACTS_CACHE", "artifacts"))
    zk, jdk = cache / "apache-zookeeper-3.8.0-bin.tar.gz", cache / "jdk-17.0.15_linux-x64_bin.tar.gz"
    if not zk.exists() or not jdk.exists():
        pytest.skip("no lab artifacts built on this machine")
    assert tarball_lacks(zk, ZOOKEEPER_RELEASE.members)[1] == []
    assert tarball_lacks(jdk, JDK.members)[1] == []
    assert re.fullmatch(r"jdk-[\d.]+", tarball_lacks(jdk, JDK.members)[0])


# -- the CA ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize("tls, words", [
    ("", "[tls]: TLS is off in the inventory: there is no CA to rotate"),
    ('[tls]\nquorum = true\nca = { cert = "ca.crt", key = "ca.key" }\n',
     "[tls] ca: the CA is yours (cert and key paths), not clusterctl's: rotate it yourself"),
])
def test_rotating_a_ca_clusterctl_does_not_keep_is_refused_before_any_host(cluster, attempts, capsys, tmp_path,
                                                                          monkeypatch, dry_run, tls, words):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if tls:
        from clusterctl.tls.ca import _make_ca, _pem_cert, _pem_key
        key, cert = _make_ca("theirs")
        (cluster.parent / "ca.crt").write_bytes(_pem_cert(cert))
        (cluster.parent / "ca.key").write_bytes(_pem_key(key))
        cluster.write_text(cluster.read_text() + "\n" + tls)
    err = refused(cluster, attempts, capsys, "tls", "rotate-ca", *dry_run)
    assert words in err, err
    assert not (tmp_path / "state").exists(), "nothing made on the controller either"
