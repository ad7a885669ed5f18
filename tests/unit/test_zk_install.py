"""What a server node needs, decided from its facts: fresh, converged, changed, refused."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from clusterctl.core.facts import Fact, gather_args, parse_facts
from clusterctl.inventory import Inventory, load_inventory
from test_package_files import write_package
from clusterctl.render.zk_service import DROPIN_PATH, GUARD_PATH, UNIT_PATH, render_dropin, render_unit
from clusterctl.render.zoo_cfg import (changed_settings, render_dynamic, render_java_env, render_secret_env,
                                      render_zoo_cfg)
from clusterctl.zk.install import (PROFILE_PATH, RELEASE_MARK, guard_text, ServerState, Release, decide, home, myid_conflict,
                                   profile_snippet, stamp_text)
from tests.fakes import run_locally

INVENTORY = """
[cluster]
name = "seed"
[hosts.node2]
address = "10.0.0.2"
[hosts.node3]
address = "10.0.0.3"
[hosts.node4]
address = "10.0.0.4"
[zookeeper]
package = "apache-zookeeper-3.8.0-bin.tar.gz"
heap_mb = 128
[zookeeper.servers]
node2 = 1
node3 = 2
node4 = { id = 3, observer = true }
"""
RELEASE_DIR = "/opt/apache-zookeeper-3.8.0-bin"


def inventory() -> Inventory:
    root = Path(tempfile.mkdtemp(prefix="zk-install-"))
    write_package(root / "apache-zookeeper-3.8.0-bin.tar.gz")  # a real tarball: the loader reads it
    (root / "cluster.toml").write_text(INVENTORY)
    return load_inventory(root / "cluster.toml")


INV = inventory()
RELEASE = Release(INV.zookeeper.package, "apache-zookeeper-3.8.0-bin", "ab" * 32)


JAVA = "/usr/java/default"
DIGEST = "c3VwZXI="
CONF = "/etc/zookeeper"
MEMBERS = render_dynamic(INV.zookeeper, [(1, "node2", False), (2, "node3", False), (3, "node4", True)])


def facts(**overrides: Fact) -> dict[str, Fact]:
    """The facts of a node under systemd as clusterctl left it (node3), with ``overrides``."""
    spec = INV.zookeeper
    converged = {
        "zk.release": Fact(f"mark {RELEASE.sha256}\n", 0),  # and below, a server under systemd as left
        "zk.link": Fact(f"link {RELEASE_DIR}\n", 0),
        "zk.zoo_cfg": Fact(render_zoo_cfg(spec, INV, "node3"), 0),
        "zk.java_env": Fact(render_java_env(spec, JAVA, supervised=True, super_digest=DIGEST), 0),
        "zk.log4j": Fact("", 0),
        "zk.secret": Fact(render_secret_env(DIGEST), 0),
        "zk.dynamic": Fact(f"{CONF}/zoo.cfg.dynamic.100000000\n{MEMBERS}version=100000000\n", 0),
        "zk.data": Fact("4\n", 0),
        "zk.profile": Fact(profile_snippet(spec), 0),
        "zk.myid": Fact("2\n", 0),
        "zk.dirs": Fact("750 zookeeper zookeeper\n" * 4, 0),
        "zk.server": Fact("", 1),
        "zk.init": Fact("systemd running\n", 0),
        "zk.account": Fact("user 998 998 /var/lib/zookeeper /usr/sbin/nologin\ngroup 998\n", 0),
        "zk.unit": Fact(render_unit(spec, INV), 0),
        "zk.dropin": Fact(render_dropin(spec, JAVA), 0),
        "zk.guard": Fact(guard_text(), 0),
        "zk.unit_state": Fact("enabled enabled\nactive inactive\n", 0),
    }
    converged.update(overrides)
    return converged


STAMP = f"{CONF}/.clusterctl-written"


def server(pid: int, seconds: int, changed: dict[str, int] | None = None, manager: str = "systemd",
           user: str = "zookeeper") -> Fact:
    """The zk.server fact of a running server, with each config file's age in seconds."""
    ages = {STAMP: 3000, **(changed or {})}
    return Fact(f"{pid} {seconds} {manager} {user}\n" + "".join(f"{age} {path}\n" for path, age in ages.items()), 0)


FRESH = facts(**{name: Fact("", 1) for name in ("zk.release", "zk.zoo_cfg", "zk.java_env", "zk.profile",
                                                  "zk.myid", "zk.dirs", "zk.unit", "zk.dropin", "zk.guard", "zk.log4j",
                                                  "zk.secret")},
              **{"zk.dynamic": Fact("", 0), "zk.data": Fact("0\n", 0)},
              **{"zk.link": Fact("", 0), "zk.account": Fact("", 0), "zk.unit_state": Fact("enabled disabled\n", 0)})


def plan_for(f: dict[str, Fact], host: str = "node3", running=None):
    return decide(INV, host, ServerState.from_facts(f, INV.zookeeper), RELEASE, running, DIGEST)


def test_a_fresh_node_needs_everything():
    plan = plan_for(FRESH)
    assert plan.unpack and plan.relink and plan.make_dirs and plan.write_myid and not plan.conflict
    assert set(plan.files) == {f"{CONF}/zoo.cfg", f"{CONF}/zoo.cfg.dynamic", f"{CONF}/java.env", f"{CONF}/super.env",
                               PROFILE_PATH, UNIT_PATH, DROPIN_PATH, GUARD_PATH}
    assert plan.make_account and plan.enable
    summaries = [c.summary for c in plan.changes(INV.zookeeper)]
    assert summaries[0].startswith("stage and unpack apache-zookeeper-3.8.0-bin under /opt")
    assert "write myid 2 to /var/lib/zookeeper/myid" in summaries
    assert not plan.restart_needed


def test_a_converged_node_needs_nothing():
    plan = plan_for(facts())
    assert plan.empty and plan.changes(INV.zookeeper) == []


def test_a_changed_zoo_cfg_shows_as_a_diff():
    old = render_zoo_cfg(INV.zookeeper, INV, "node3").replace("tickTime=2000", "tickTime=3000")
    plan = plan_for(facts(**{"zk.zoo_cfg": Fact(old, 0)}))
    [change] = plan.changes(INV.zookeeper)
    assert "-tickTime=3000" in change.diff and "+tickTime=2000" in change.diff


def test_a_running_server_whose_config_changes_needs_a_restart_but_is_not_restarted():
    old = render_zoo_cfg(INV.zookeeper, INV, "node3").replace("syncLimit=2", "syncLimit=9")
    plan = plan_for(facts(**{"zk.zoo_cfg": Fact(old, 0), "zk.server": server(4242, 600)}))
    assert plan.restart_needed
    assert plan.notes()[-1].startswith("restart needed: the server (pid 4242) runs an older configuration: changed")


def test_a_server_started_before_its_config_was_written_still_needs_a_restart():
    plan = plan_for(facts(**{"zk.server": server(4242, 600, {f"{RELEASE_DIR}/conf/zoo.cfg": 30})}))
    assert plan.empty and plan.restart_needed


def test_a_server_running_its_current_config_needs_nothing():
    plan = plan_for(facts(**{"zk.server": server(4242, 30)}))
    assert plan.empty and not plan.restart_needed


def test_a_profile_change_alone_does_not_need_a_restart():
    plan = plan_for(facts(**{"zk.profile": Fact("", 1), "zk.server": server(4242, 30)}))
    assert list(plan.files) == [PROFILE_PATH] and not plan.restart_needed


def test_the_observer_is_one_by_its_membership_line_alone():
    plan = plan_for(FRESH, "node4")
    assert "peerType" not in plan.files[f"{CONF}/zoo.cfg"][1]
    assert ":observer;" in plan.files[f"{CONF}/zoo.cfg.dynamic"][1]


@pytest.mark.parametrize("current, conflict", [(None, False), ("2", False), ("3", True), ("", True), ("x", True)])
def test_myid_is_written_or_kept_but_another_one_is_never_replaced(current, conflict):
    assert (myid_conflict(current, 2, "/var/lib/zookeeper") is not None) == conflict


def test_a_node_holding_another_servers_myid_is_refused_and_nothing_else_is_planned():
    plan = plan_for(facts(**{"zk.myid": Fact("7\n", 0), "zk.release": Fact("", 1)}))
    assert "holds '7'" in plan.conflict and "id 2" in plan.conflict
    assert not plan.unpack and not plan.files
    [change] = plan.changes(INV.zookeeper)
    assert change.summary.startswith("refused:")


def test_a_real_directory_where_the_link_goes_is_refused():
    plan = plan_for(facts(**{"zk.link": Fact("other\n", 0)}))
    assert "not a symbolic link" in plan.conflict


def test_myid_is_created_once_and_another_is_never_written_over_it(tmp_path):
    import hashlib
    data, log = tmp_path / "data", tmp_path / "log"
    me = os.getuid(), os.getgid()
    assert run_locally("zk_install.sh", "data-dirs", *me, data, log).returncode == 0 and data.is_dir() and log.is_dir()

    def create(text: bytes):
        return run_locally("write_file.sh", data / "myid", "644", "-", "-", len(text), hashlib.sha256(text).hexdigest(),
                           "-", "new", payload=text)

    assert create(b"2\n").returncode == 0
    refused = create(b"5\n")
    assert refused.returncode == 3 and b"not replaced" in refused.stderr
    assert (data / "myid").read_text() == "2\n" and sorted(p.name for p in data.iterdir()) == ["myid"]


def test_the_link_is_swapped_in_place(tmp_path):
    (tmp_path / RELEASE.name).mkdir()
    (tmp_path / "zookeeper").symlink_to(tmp_path / "old")
    assert run_locally("zk_install.sh", "relink", tmp_path / RELEASE.name, tmp_path / "zookeeper").returncode == 0
    assert (tmp_path / "zookeeper").readlink() == tmp_path / RELEASE.name
    assert sorted(p.name for p in tmp_path.iterdir()) == [RELEASE.name, "zookeeper"]


def test_the_facts_read_a_bare_node_as_host_state(tmp_path):
    from clusterctl.zk.install import facts as fact_queries
    spec = INV.zookeeper.__class__(**{**INV.zookeeper.__dict__, "install_dir": str(tmp_path / "opt"),
                                      "data_dir": str(tmp_path / "data"), "data_log_dir": str(tmp_path / "log"),
                                      "log_dir": str(tmp_path / "logs")})
    out = run_locally("facts.sh", *gather_args(fact_queries(spec, RELEASE))).stdout.decode()
    state = ServerState.from_facts(parse_facts(out), spec)
    assert state.release_sha256 == "" and state.link_target == "" and state.myid is None
    assert state.zoo_cfg is None and state.dirs == {} and state.server is None


def test_the_facts_read_an_installed_node_as_host_state(tmp_path):
    from clusterctl.zk.install import facts as fact_queries
    spec = INV.zookeeper.__class__(**{**INV.zookeeper.__dict__, "install_dir": str(tmp_path / "opt"),
                                      "data_dir": str(tmp_path / "data"), "data_log_dir": str(tmp_path / "log"),
                                      "log_dir": str(tmp_path / "logs"), "conf_dir": str(tmp_path / "conf")})
    release_dir = tmp_path / "opt" / RELEASE.name
    release_dir.mkdir(parents=True)
    (release_dir / RELEASE_MARK).write_text(RELEASE.sha256 + "\n")
    (tmp_path / "opt" / "zookeeper").symlink_to(release_dir)
    run_locally("zk_install.sh", "data-dirs", os.getuid(), os.getgid(), tmp_path / "data", tmp_path / "log",
                tmp_path / "logs", tmp_path / "conf")
    (tmp_path / "data" / "myid").write_text("2\n")
    (tmp_path / "data" / "version-2").mkdir()
    (tmp_path / "data" / "version-2" / "snapshot.100000000").write_text("")
    members = "server.1=node2:2888:3888:participant;0.0.0.0:2181\nversion=100000000\n"
    (tmp_path / "conf" / "zoo.cfg.dynamic.100000000").write_text(members)
    (tmp_path / "conf" / "zoo.cfg").write_text(f"tickTime=2000\ndynamicConfigFile={tmp_path}/conf/zoo.cfg.dynamic.100000000\n")
    out = run_locally("facts.sh", *gather_args(fact_queries(spec, RELEASE))).stdout.decode()
    state = ServerState.from_facts(parse_facts(out), spec)
    assert state.release_sha256 == RELEASE.sha256 and state.link_target == str(release_dir)
    assert state.myid == "2" and state.zoo_cfg.startswith("tickTime=2000\n") and len(state.dirs) == 4
    assert state.members == {1: ("node2", "participant")} and state.version == 0x100000000 and state.has_data
    assert home(spec) == str(tmp_path / "opt" / "zookeeper")


def test_a_release_directory_unpacked_by_hand_is_replaced_but_kept_aside():
    plan = plan_for(facts(**{"zk.release": Fact("unmarked\n", 0)}))
    assert plan.unpack and plan.replaces
    assert "kept as /opt/apache-zookeeper-3.8.0-bin.replaced-<time>" in plan.changes(INV.zookeeper)[0].summary


def test_unpacking_moves_the_whole_tree_in_marked_and_keeps_an_old_one(tmp_path):
    import tarfile
    top = tmp_path / "src" / RELEASE.name
    (top / "bin").mkdir(parents=True)
    (top / "bin" / "zkServer.sh").write_text("#!/bin/sh\n")
    (top / "bin" / "zkServer.sh").chmod(0o755)
    with tarfile.open(tmp_path / "release.tar.gz", "w:gz") as tar:
        tar.add(top, arcname=RELEASE.name)
    (tmp_path / "opt" / RELEASE.name / "conf").mkdir(parents=True)
    (tmp_path / "opt" / RELEASE.name / "conf" / "zoo.cfg").write_text("by hand\n")
    done = run_locally("zk_install.sh", "unpack", tmp_path / "release.tar.gz", tmp_path / "opt", RELEASE.name,
                       RELEASE.sha256, RELEASE_MARK)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "opt" / RELEASE.name / ".clusterctl-release").read_text().strip() == RELEASE.sha256
    [kept] = (tmp_path / "opt").glob(f"{RELEASE.name}.replaced-*")
    assert (kept / "conf" / "zoo.cfg").read_text() == "by hand\n"
    assert not list((tmp_path / "opt").glob(".clusterctl-unpack.*")), "no temporary directory left"


# -- the service ------------------------------------------------------------------

def test_a_node_without_systemd_gets_no_unit_and_a_java_env_that_carries_the_environment():
    plan = plan_for(facts(**{"zk.init": Fact("none\n", 0), "zk.unit": Fact("", 1), "zk.dropin": Fact("", 1),
                             "zk.java_env": Fact("", 1)}))
    assert UNIT_PATH not in plan.files and DROPIN_PATH not in plan.files and not plan.enable
    java_env = plan.files[f"{CONF}/java.env"][1]
    assert "superDigest=super:c3VwZXI=" in java_env
    assert "export ZK_SERVER_HEAP=128" in java_env and "export ZOO_LOG_DIR=/var/log/zookeeper" in java_env
    assert any("not supervised: started by zkServer.sh" in note for note in plan.notes()), "never silently"


def test_under_systemd_the_environment_is_the_drop_in_and_java_env_sets_nothing():
    spec = INV.zookeeper
    dropin = render_dropin(spec, JAVA)
    assert 'Environment="ZK_SERVER_HEAP=128"' in dropin and 'Environment="JAVA_HOME=/usr/java/default"' in dropin
    assert "-Xlog:gc*:file=/var/log/zookeeper/gc.log" in dropin and "ROLLINGFILE" in dropin
    assert "EnvironmentFile=/etc/zookeeper/super.env" in dropin and "superDigest" not in dropin
    assert not [line for line in render_java_env(spec, JAVA, supervised=True, super_digest=DIGEST).splitlines()
                if line and not line.startswith("#")]


def test_the_unit_runs_the_server_as_its_account_restarting_it_on_failure_and_starts_at_boot():
    unit = render_unit(INV.zookeeper, INV)
    for line in ("User=zookeeper", "Group=zookeeper", "Restart=on-failure", "LimitNOFILE=65536",
                 "WantedBy=multi-user.target", "ExecStart=/opt/zookeeper/bin/zkServer.sh start-foreground"):
        assert line in unit.splitlines()


def test_data_dirs_owned_by_root_are_given_to_the_account():
    plan = plan_for(facts(**{"zk.dirs": Fact("755 root root\n750 zookeeper zookeeper\n750 zookeeper zookeeper\n", 0)}))
    assert plan.make_dirs and not plan.make_account


def test_a_server_started_by_zkserver_sh_as_root_is_converted_by_a_restart():
    plan = plan_for(facts(**{"zk.server": server(4242, 30, manager="zkserver", user="root")}))
    assert plan.migrate and plan.restart_needed
    assert plan.restart_reasons[0].startswith("runs outside zookeeper.service (as root")


def test_a_restart_names_the_files_that_changed_since_the_server_started():
    old = render_zoo_cfg(INV.zookeeper, INV, "node3").replace("syncLimit=2", "syncLimit=9")
    plan = plan_for(facts(**{"zk.zoo_cfg": Fact(old, 0), "zk.server": server(4242, 600, {DROPIN_PATH: 60})}))
    [reason] = plan.restart_reasons
    assert DROPIN_PATH in reason and f"{CONF}/zoo.cfg" in reason


def test_autopurge_and_snap_count_are_in_zoo_cfg():
    lines = render_zoo_cfg(INV.zookeeper, INV, "node2").splitlines()
    assert {"autopurge.snapRetainCount=3", "autopurge.purgeInterval=24", "snapCount=100000"} <= set(lines)



# -- membership ---------------------------------------------------------------

def test_a_server_the_running_ensemble_lacks_is_a_joiner_with_the_running_membership_and_itself():
    running = {1: ("node2", "participant"), 2: ("node3", "participant")}
    plan = plan_for(FRESH, "node4", running)
    assert plan.joins and not plan.conflict
    members = plan.files[f"{CONF}/zoo.cfg.dynamic"][1]
    assert "server.3=node4:2888:3888:observer;0.0.0.0:2181" in members and "server.1=node2" in members
    assert any("clusterctl zk add node4" in note for note in plan.notes())


def test_a_joiner_holding_another_ensembles_data_is_refused_naming_the_directory():
    running = {1: ("node2", "participant"), 2: ("node3", "participant")}
    plan = plan_for({**FRESH, "zk.data": Fact("12\n", 0)}, "node4", running)
    assert "/var/lib/zookeeper (or /var/lib/zookeeper/datalog) holds snapshots" in plan.conflict
    assert "clusterctl zk add node4" in plan.conflict


def test_a_joiner_with_a_stale_dynamic_config_is_refused_naming_the_file():
    running = {1: ("node2", "participant"), 2: ("node3", "participant")}
    stale = Fact(f"{CONF}/zoo.cfg.dynamic.200000000\nserver.9=elsewhere:2888:3888\nversion=200000000\n", 0)
    plan = plan_for({**FRESH, "zk.dynamic": stale}, "node4", running)
    assert f"{CONF}/zoo.cfg.dynamic.200000000 is the membership of an ensemble" in plan.conflict


def test_zoo_cfg_rewritten_by_zookeeper_itself_needs_nothing():
    from clusterctl.render.zoo_cfg import static_differs
    ours = render_zoo_cfg(INV.zookeeper, INV, "node3")
    theirs = "\n".join(sorted(line for line in ours.splitlines() if not line.startswith("#")
                              and not line.startswith("dynamicConfigFile")))
    theirs += f"\ndynamicConfigFile={CONF}/zoo.cfg.dynamic.100000002\n"
    assert not static_differs(theirs, ours)
    assert static_differs(theirs.replace("tickTime=2000", "tickTime=1000"), ours)


def test_the_running_membership_is_the_newest_any_server_took_up():
    from clusterctl.zk.install import running_members
    old = ServerState.from_facts(facts(), INV.zookeeper)
    newer = ServerState.from_facts(facts(**{"zk.dynamic": Fact(
        f"{CONF}/zoo.cfg.dynamic.100000005\nserver.1=node2:2888:3888:participant;0.0.0.0:2181\nversion=100000005\n", 0)}),
        INV.zookeeper)
    assert running_members({"a": old, "b": newer}) == {1: ("node2", "participant")}
    assert running_members({"a": ServerState.from_facts(FRESH, INV.zookeeper)}) == {}


def test_the_leaders_membership_is_the_committed_one_when_a_follower_lags_behind_a_remove():
    from clusterctl.zk.install import running_members
    before = ServerState.from_facts(facts(**{"zk.dynamic": Fact(
        f"{CONF}/zoo.cfg.dynamic.100000005\nserver.1=node2:2888:3888:participant;0.0.0.0:2181\n"
        f"server.2=node3:2888:3888:participant;0.0.0.0:2181\nversion=100000005\n", 0)}), INV.zookeeper)
    after = ServerState.from_facts(facts(**{"zk.dynamic": Fact(
        f"{CONF}/zoo.cfg.dynamic.100000003\nserver.1=node2:2888:3888:participant;0.0.0.0:2181\nversion=100000003\n",
        0)}), INV.zookeeper)
    # The leader's is taken as it is, whatever the others' files say; without a leader, the newest.
    assert running_members({"leader": after, "follower": before}, leader="leader") == {1: ("node2", "participant")}
    assert running_members({"leader": after, "follower": before}) == {1: ("node2", "participant"),
                                                                       2: ("node3", "participant")}


def test_the_membership_clusterctl_wrote_counts_once_servers_ran_with_it_and_the_majority_wins():
    from clusterctl.zk.install import running_members
    ours = f"{CONF}/zoo.cfg.dynamic\n{MEMBERS}"
    member = ServerState.from_facts(facts(**{"zk.dynamic": Fact(ours, 0)}), INV.zookeeper)
    joiner_file = ours + "server.9=node9:2888:3888:participant;0.0.0.0:2181\n"
    joiner = ServerState.from_facts(facts(**{"zk.dynamic": Fact(joiner_file, 0)}), INV.zookeeper)
    assert member.version == 0 and member.took_part
    assert running_members({"a": member, "b": member, "j": joiner}) == member.members
    named = ServerState.from_facts(facts(**{"zk.dynamic": Fact(f"{CONF}/zoo.cfg.dynamic.10000000a\n{MEMBERS}", 0)}),
                                 INV.zookeeper)
    assert named.version == 0x10000000A


def test_a_joiner_interrupted_after_its_start_may_go_on_joining():
    running = {1: ("node2", "participant"), 2: ("node3", "participant")}
    own = Fact(f"{CONF}/zoo.cfg.dynamic\nserver.1=node2:2888:3888:participant;0.0.0.0:2181\n"
               f"server.2=node3:2888:3888:participant;0.0.0.0:2181\n"
               f"server.3=node4:2888:3888:observer;0.0.0.0:2181\n", 0)
    plan = plan_for({**FRESH, "zk.dynamic": own, "zk.data": Fact("3\n", 0)}, "node4", running)
    assert plan.joins and not plan.conflict


def test_a_restart_names_the_settings_and_the_stamp_keeps_saying_them_until_the_restart():
    old = render_zoo_cfg(INV.zookeeper, INV, "node3").replace("syncLimit=2", "syncLimit=9")
    plan = plan_for(facts(**{"zk.zoo_cfg": Fact(old, 0), "zk.server": server(4242, 600)}))
    assert plan.config_changes == [f"{CONF}/zoo.cfg (syncLimit 9 → 2)"]
    written = stamp_text(plan, None)
    assert written == f"{CONF}/zoo.cfg (syncLimit 9 → 2)\n"
    # The next run: the file is as wanted, the server still runs the old one; the stamp says why.
    later = plan_for(facts(**{"zk.stamp": Fact(written, 0), "zk.server": server(4242, 600, {STAMP: 60})}))
    assert later.restart_reasons == [f"runs an older configuration: changed since it started: "
                                     f"{CONF}/zoo.cfg (syncLimit 9 → 2)"]
    assert changed_settings("a=1\nb=2\n", "a=1\nc=3\n") == ["c=3 added", "b removed"]


def test_plan_names_the_membership_command_where_the_running_ensemble_differs():
    # node4 is an observer in the inventory; the ensemble runs it as a voter and also runs node9.
    running = {1: ("node2", "participant"), 2: ("node3", "participant"), 3: ("node4", "participant"),
               9: ("node9", "participant")}
    first, observer = plan_for(facts(), "node2", running), plan_for(facts(), "node4", running)
    assert any("server.9 (node9)" in n and "clusterctl zk remove node9" in n for n in first.notes())
    assert any("clusterctl zk demote node4" in n for n in observer.notes())
    assert not [n for n in plan_for(facts(), "node3", running).notes() if "clusterctl zk" in n]


def test_planning_a_new_cluster_makes_no_secret_on_the_controller_and_says_when_it_is_made(tmp_path, monkeypatch):
    from clusterctl.steps.zookeeper import ZkInstall
    from clusterctl.zk import superuser
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    plans = ZkInstall().decide(INV, {h: FRESH for h in ("node2", "node3", "node4")})
    assert list(tmp_path.iterdir()) == [], "deciding wrote nothing"
    assert superuser.known_digest(INV) == superuser.PENDING
    assert all(any("password is made at install" in n for n in p.notes) for p in plans.values())
    made = superuser.password(INV)
    assert superuser.known_digest(INV) == superuser.digest(made) and superuser.password(INV) == made
    assert oct(superuser.secret_path(INV).stat().st_mode & 0o777) == "0o600"


def test_reconfig_without_the_secret_is_refused_naming_the_file_instead_of_making_a_new_one(tmp_path, monkeypatch):
    from clusterctl.errors import UsageError
    from clusterctl.zk import superuser
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with pytest.raises(UsageError, match="no ZooKeeper super-user secret on this controller"):
        superuser.auth_data(INV)
    assert not superuser.secret_path(INV).exists()


def test_the_servers_are_decided_once_for_the_same_facts_and_again_when_a_host_answered_anew():
    from clusterctl.steps import zookeeper
    from clusterctl.zk import install as zk_install
    calls = []
    real = zk_install.decide

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    gathered = {h: dict(facts()) for h in ("node2", "node3", "node4")}
    staged = {h: {**f, "staged.x": Fact("", 0)} for h, f in gathered.items()}
    original = zk_install.decide
    zk_install.decide = counting
    try:
        first = zookeeper.decide_all(INV, gathered)
        assert zookeeper.decide_all(INV, staged) is first, "the stage step's extra facts do not count"
        assert len(calls) == 3
        answered = {**gathered, "node3": {**gathered["node3"], "zk.myid": Fact("2\n", 0)}}
        assert zookeeper.decide_all(INV, answered) is not first and len(calls) == 6
    finally:
        zk_install.decide = original
