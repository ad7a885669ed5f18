"""Package files are checked by the commands that send them or compare hosts with them, not at load.

Without [jdk] package or [zookeeper] package on this controller, zk status,
zk stop, zk smoke, ssh-trust, preflight, plan and the rest still run; a
command that sends the package (bootstrap, apply, jdk install, zk install,
zk add, zk upgrade) refuses in one line naming the file, the key and the fix,
exit 2, before any host is contacted; plan says per host and step what it
could not compare.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from clusterctl.cli import main
from clusterctl.core.facts import Fact
from clusterctl.display import plan_json, show_plan
from clusterctl.errors import ExitStatus
from clusterctl.inventory import load_inventory
from clusterctl.steps import jdk, preflight, zookeeper
from clusterctl.steps.base import plan_steps
from clusterctl.zk import install as zk_install
from tests.fakes import fake_session, refuse_connections, unreachable_inventory
from test_package_files import write_package

INVENTORY = unreachable_inventory("jdk-17.0.15_linux-x64_bin.rpm")
JDK_FILE, ZK_FILE = "jdk-17.0.15_linux-x64_bin.rpm", "apache-zookeeper-3.8.0-bin.tar.gz"


@pytest.fixture
def attempts(monkeypatch) -> list[str]:
    return refuse_connections(monkeypatch)


@pytest.fixture
def cluster(tmp_path) -> Path:
    """The inventory, beside both of its packages; a test deletes the one it does without."""
    write_package(tmp_path / JDK_FILE)
    write_package(tmp_path / ZK_FILE)
    (tmp_path / "cluster.toml").write_text(INVENTORY)
    return tmp_path / "cluster.toml"


def run(cluster: Path, *argv: str) -> int:
    return main([*argv, "-i", str(cluster), "--log", str(cluster.parent / "run.log")])


# -- what needs no package file ---------------------------------------------------------------------

@pytest.mark.parametrize("gone", [JDK_FILE, ZK_FILE])
@pytest.mark.parametrize("argv", [["zk", "status"], ["zk", "stop"], ["zk", "smoke"], ["zk", "start"],
                                  ["zk", "restart", "--rolling"], ["ssh-trust"], ["preflight"], ["plan"],
                                  ["jdk", "verify"], ["zk", "remove", "node5"], ["zk", "upgrade", "--cleanup"]])
def test_commands_that_send_no_package_go_on_to_the_hosts_without_it(cluster, attempts, capsys, argv, gone):
    (cluster.parent / gone).unlink()
    status = run(cluster, *argv)
    err = capsys.readouterr().err
    assert attempts, f"{argv} stopped before the hosts: {err}"
    assert ".package" not in err and "does not exist" not in err and "unexpected error" not in err, err
    assert status in (ExitStatus.HOST_FAILURE, ExitStatus.NO_QUORUM) or argv[1:2] == ["remove"], (status, err)


def test_zk_install_needs_the_release_and_not_the_jdk(cluster, attempts, capsys):
    (cluster.parent / JDK_FILE).unlink()
    run(cluster, "zk", "install")
    assert attempts and "jdk.package" not in capsys.readouterr().err


def test_bootstrap_without_the_jdk_step_needs_no_jdk_package(cluster, attempts, capsys):
    (cluster.parent / JDK_FILE).unlink()
    run(cluster, "bootstrap", "--skip", "jdk")
    assert attempts and "jdk.package" not in capsys.readouterr().err


# -- what sends a package refuses without it, touching nothing ---------------------------------------

@pytest.mark.parametrize("gone, key, argv", [
    (JDK_FILE, "jdk.package", ["bootstrap"]),
    (JDK_FILE, "jdk.package", ["apply"]),
    (JDK_FILE, "jdk.package", ["jdk", "install"]),
    (JDK_FILE, "jdk.package", ["zk", "add", "node2"]),  # add converges every host as bootstrap does
    (JDK_FILE, "jdk.package", ["bootstrap", "--only", "jdk"]),
    (ZK_FILE, "zookeeper.package", ["bootstrap"]),
    (ZK_FILE, "zookeeper.package", ["zk", "install"]),
    (ZK_FILE, "zookeeper.package", ["zk", "replace", "node5", "node2"]),  # node2 in node5's place
    (ZK_FILE, "zookeeper.package", ["zk", "upgrade"]),  # the inventory's release is the one it rolls
])
def test_a_command_that_sends_a_missing_package_is_refused_in_one_line_before_any_host(
        cluster, attempts, capsys, gone, key, argv):
    (cluster.parent / gone).unlink()
    assert run(cluster, *argv) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err == (f"clusterctl: {cluster}: {key}: {cluster.parent / gone} does not exist or is unreadable "
                   f"(fix: build it with 'clusterctl artifacts' or point the key at your package)\n")
    assert attempts == []
    run(cluster, "zk", "stop")  # and only by a command that sends it
    assert attempts and ".package" not in capsys.readouterr().err


def package_files(tmp_path: Path) -> None:
    for name in ("jdk.rpm", "jdk.deb", "jdk.tar.gz", "zk.tar.gz"):
        write_package(tmp_path / name)
        (tmp_path / f"cut-{name}").write_bytes((tmp_path / name).read_bytes()[:-40])
        (tmp_path / f"garbage-{name}").write_bytes(b"<html>404 not found</html>" * 10)
    (tmp_path / "zk-head.tar.gz").write_bytes((tmp_path / "zk.tar.gz").read_bytes()[:20])
    (tmp_path / "a-directory.rpm").mkdir()


@pytest.mark.parametrize("key, name, words", [
    ("jdk", "cut-jdk.rpm", "is truncated"),
    ("jdk", "cut-jdk.deb", "is truncated"),
    ("jdk", "garbage-jdk.rpm", "is not an rpm package"),
    ("jdk", "garbage-jdk.deb", "is not a deb package"),
    ("jdk", "garbage-jdk.tar.gz", "not a readable tar archive"),
    ("jdk", "a-directory.rpm", "is a directory"),
    ("zookeeper", "zk-head.tar.gz", "cannot read"),
    ("zookeeper", "garbage-zk.tar.gz", "tar archive"),
])
def test_a_broken_package_is_refused_when_it_would_be_sent(tmp_path, attempts, capsys, key, name, words):
    package_files(tmp_path)
    good = {"jdk": JDK_FILE, "zookeeper": ZK_FILE}
    write_package(tmp_path / good["zookeeper" if key == "jdk" else "jdk"])
    (tmp_path / "cluster.toml").write_text(INVENTORY.replace(good[key], name))
    load_inventory(tmp_path / "cluster.toml")  # a broken file is no inventory problem for zk status and the rest
    assert run(tmp_path / "cluster.toml", "bootstrap") == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"clusterctl: {tmp_path / 'cluster.toml'}: {key}.package: ") and words in err, err
    assert len(err.splitlines()) == 1 and "(fix: " in err and attempts == []


# -- plan says what it could not compare ------------------------------------------------------------

def test_plan_names_each_step_it_cannot_compare_on_each_host(cluster):
    (cluster.parent / JDK_FILE).unlink()
    inventory = load_inventory(cluster)
    session, fake, _ = fake_session(inventory, {})
    planned = plan_steps(session, jdk.steps())
    for step in (jdk.STAGE_STEP, jdk.INSTALL_STEP):
        assert set(planned[step]) == set(inventory.hosts)
        assert all(p.not_compared.startswith(f"not compared: jdk.package: {cluster.parent / JDK_FILE} does not "
                                              "exist or is unreadable on this controller (fix: ")
                   for p in planned[step].values())
    assert not any(p.not_compared for p in planned[jdk.VERIFY_STEP].values()), "a login shell's java is read"
    console = Console(record=True, width=400)
    show_plan(console, planned)
    shown = console.export_text()
    assert shown.count("not compared: jdk.package") == 2 * len(inventory.hosts)
    assert "plan: nothing to change; not compared: jdk-stage, jdk-install (a package file is not on this " \
           "controller)" in shown
    assert set(plan_json(planned, {})["not_compared"]) == {jdk.STAGE_STEP, jdk.INSTALL_STEP}


def test_a_dry_run_of_zk_add_keeps_what_it_could_not_compare(cluster):
    from clusterctl.steps.day2 import Day2Plan
    (cluster.parent / JDK_FILE).unlink()
    session, _, _ = fake_session(load_inventory(cluster), {})
    decided = Day2Plan()
    decided.merge(plan_steps(session, jdk.steps()))
    assert set(decided.steps) == {jdk.STAGE_STEP, jdk.INSTALL_STEP}
    assert all(p.not_compared for per_host in decided.steps.values() for p in per_host.values())


def test_without_the_release_the_servers_are_compared_in_all_but_the_release(cluster):
    (cluster.parent / ZK_FILE).unlink()
    inventory = load_inventory(cluster)
    assert zookeeper.known_release(inventory) is None
    asked = zk_install.facts(inventory.zookeeper, None)
    assert "zk.release" not in {q.name for q in asked}
    state = zk_install.ServerState.from_facts({q.name: Fact("", 1) for q in asked}
                                            | {"zk.link": Fact("link /opt/some-release\n", 0)}, inventory.zookeeper)
    plan = zk_install.decide(inventory, "node3", state, None)
    assert not plan.unpack and not plan.relink and f"{inventory.zookeeper.conf_dir}/zoo.cfg" in plan.files
    assert not any(path.endswith("log4j.properties") for path in plan.files), "that file comes from the release"


def test_preflight_without_a_package_warns_that_its_room_is_not_checked(cluster):
    (cluster.parent / ZK_FILE).unlink()
    inventory = load_inventory(cluster)
    step = preflight.Preflight()
    asked = {q.name for q in step.facts(inventory, inventory.hosts["node2"])}
    assert "zk.myid" in asked and not any(name.startswith("staged.") and "zookeeper" in name for name in asked)
    facts = {name: Fact("", 1) for name in asked} | {"zk.myid": Fact("1\n", 0)}
    checks = preflight.check_disk(inventory, "node2", facts)
    assert [c.level for c in checks] == ["warn"]
    assert "the room zookeeper.package needs is not checked" in checks[0].detail
