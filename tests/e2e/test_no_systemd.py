"""Every ZooKeeper operation on nodes without systemd (`lab up --init none`: containers, minimal images,
the runbook's own hosts of its era), where zkServer.sh starts the server as the service account.

One ensemble goes through the core scenarios in order: an interrupted cold bootstrap resumed, a no-op,
status, a rolling restart and an apply, stop and start, a server added and removed, a ZooKeeper and a
JDK upgrade. Each operation on the live ensemble runs under a client writing throughout, with every
acknowledged write read back; what each server runs is checked from inside its node.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from tests.ensembles import REPO, SECOND_BUILD, Ensemble, java_of, link, rebuild, rebuild_jdk, whole
from tests.lab_helpers import SERVER_PID, Writer, inside, running_lab

pytestmark = pytest.mark.e2e
NODES = [f"node{i}" for i in range(1, 6)]  # node1 a client; node2..node4 the ensemble; node5 a spare
FIRST = {"node2": 1, "node3": 2, "node4": 3}
TUNING = "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5"
NOT_SUPERVISED = "not supervised: started by zkServer.sh as zookeeper"


@pytest.fixture(scope="module")
def ensemble(artifacts):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    extra = extra.replace("heap_mb = 128", TUNING)
    with running_lab("tns", "10.231.150.0/24", len(NODES), init="none", inventory_extra=extra) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = Ensemble(lab, base)
        ensemble.inventory(FIRST)
        assert inside(lab, "node2", "test -d /run/systemd/system || echo none").strip() == "none"
        yield ensemble


def servers_running(ensemble, nodes) -> list[str]:
    return [n for n in nodes if ensemble.pid(n)]


def test_an_interrupted_cold_bootstrap_resumes_and_each_server_runs_as_the_account_in_its_own_dirs(ensemble):
    # Interrupted as the release is being installed on the servers: none of them has started yet.
    booting = subprocess.Popen([sys.executable, "-m", "clusterctl", "bootstrap", "-i", str(ensemble.path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 300
    while not any(link(ensemble, n) for n in FIRST):
        assert booting.poll() is None and time.monotonic() < deadline, booting.communicate()
        time.sleep(0.05)
    booting.send_signal(signal.SIGTERM)
    out, err = booting.communicate(timeout=120)
    assert booting.returncode == 143, out[-3000:] + err
    assert "resumes where it stopped" in out and not servers_running(ensemble, FIRST)

    resumed = ensemble.cli("bootstrap")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert whole(ensemble, FIRST)
    for node in FIRST:
        pid = ensemble.pid(node)
        assert inside(ensemble.lab, node, f"stat -c %U /proc/{pid}").strip() == "zookeeper"
        assert inside(ensemble.lab, node, "cat /var/lib/zookeeper/zookeeper_server.pid").strip() == pid
        args = inside(ensemble.lab, node, f"tr '\\0' '\\n' < /proc/{pid}/cmdline").splitlines()
        assert args[-1] == "/etc/zookeeper/zoo.cfg" and "-Xmx128m" in args, args
        assert "-Dzookeeper.log.dir=/var/log/zookeeper" in args, args
        logs = inside(ensemble.lab, node, "ls /var/log/zookeeper").split()
        assert f"zookeeper-zookeeper-server-{node}.out" in logs and "zookeeper.log" in logs, logs
        assert inside(ensemble.lab, node, "ls -d /opt/zookeeper/logs 2>/dev/null || echo none").strip() == "none"
        # The super user's digest reaches the server from java.env, never in its arguments.
        assert not any("superDigest" in a for a in args)
        assert "superDigest" in inside(ensemble.lab, node, f"tr '\\0' '\\n' < /proc/{pid}/environ")
    summary = resumed.stdout.rsplit(" host ", 1)[-1]
    assert all(f"{n}  changed" in summary for n in FIRST) and summary.count(NOT_SUPERVISED) >= 3, summary


def test_a_second_bootstrap_changes_nothing_and_restarts_no_server(ensemble):
    pids = {n: ensemble.pid(n) for n in FIRST}
    again = ensemble.cli("bootstrap")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert "0 changed" in again.stdout, again.stdout[-2000:]
    assert {n: ensemble.pid(n) for n in FIRST} == pids
    ensemble.plan_is_empty()


def test_status_tells_each_servers_role_as_it_says_itself_and_that_nothing_supervises_it(ensemble):
    status = ensemble.cli("zk", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert {s["host"]: s["role"] for s in report["servers"]} == {n: ensemble.role(n) for n in FIRST}
    assert all(any(NOT_SUPERVISED in note for note in s["notes"]) for s in report["servers"]), report
    assert report["quorum"]["up"] == 3
    plan = ensemble.cli("plan")
    assert plan.stdout.count(NOT_SUPERVISED) >= 3, plan.stdout[-3000:]


@pytest.fixture(scope="module")
def second_builds(artifacts, tmp_path_factory) -> dict[str, Path]:
    """A second ZooKeeper build and a second JDK to upgrade to."""
    where = tmp_path_factory.mktemp("second-builds")
    return {"zookeeper": rebuild(artifacts["zookeeper"], where / "zookeeper-b2.tar.gz", "apache-zookeeper-3.8.0-b2-bin"),
            "jdk": rebuild_jdk(artifacts["jdk_tarball"], where / "jdk-b2.tar.gz", "jdk-17.0.15-b2")}


# What a dry run must leave as it is on a node: the files clusterctl manages, and the server's process.
# Not the server's own log (it logs every four-letter word a dry run asks, as any monitoring does), nor
# ssh's shared-connection sockets, which a node-to-node copy of the bootstrap leaves for 30 s.
NODE_STATE = ("find /etc/zookeeper /var/lib/zookeeper /opt /usr/java /etc/hosts /etc/profile.d /root/.ssh "
              "-type d -printf '%p dir %u %m\n' -o -not -name 'clusterctl-mux-*' -printf '%p %s %T@ %u %m\n' "
              "2>/dev/null | sort; " + SERVER_PID)


def controller_and_nodes(ensemble, state_home: Path) -> dict[str, str]:
    """Every file under the controller's state home and the lab's known_hosts, and each node's NODE_STATE."""
    files = sorted(p for p in state_home.rglob("*"))
    found = {"controller": "\n".join(f"{p} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in files)}
    found["known_hosts"] = (ensemble.lab.state_dir / "known_hosts").read_text()
    for node in NODES:
        found[node] = inside(ensemble.lab, node, NODE_STATE)
    return found


def planned(output: str, step: str) -> list[str]:
    """The hosts a dry run lists for ``step``, in the order its "N of M" says."""
    rows = re.findall(rf"^(node\d+)\s+{step}\s+(\d+) of \d+", output, re.M)
    return [host for host, _ in sorted(rows, key=lambda row: int(row[1]))]


def test_every_command_that_changes_something_has_a_dry_run_that_changes_nothing_anywhere(ensemble, second_builds, tmp_path):
    ensemble.inventory(FIRST, *ensemble.current[1:])
    state_home = tmp_path / "state"
    secrets = state_home / "clusterctl" / "secrets"
    secrets.mkdir(parents=True)
    own = Path.home() / ".local" / "state" / "clusterctl" / "secrets"
    for secret in own.glob(f"{ensemble.lab.name}.*"):
        (secrets / secret.name).write_bytes(secret.read_bytes())
        (secrets / secret.name).chmod(0o600)
    before = controller_and_nodes(ensemble, state_home)
    dry = {}
    for words in (("bootstrap",), ("apply",), ("ssh-trust",), ("hosts",), ("jdk", "install"), ("zk", "install"),
                  ("zk", "start"), ("zk", "stop"), ("zk", "restart"), ("zk", "restart", "--rolling"),
                  ("zk", "upgrade", "--package", str(second_builds["zookeeper"])),
                  ("jdk", "upgrade", "--package", str(second_builds["jdk"]))):
        dry[words] = ensemble.cli(*words, "--dry-run", state_home=state_home)
        assert dry[words].returncode == 0, dry[words].stdout[-3000:] + dry[words].stderr
        assert "dry run: nothing was changed" in dry[words].stdout
    ensemble.inventory({**FIRST, "node5": 4}, *ensemble.current[1:])
    dry["add"] = ensemble.cli("zk", "add", "node5", "--dry-run", state_home=state_home)
    assert dry["add"].returncode == 0, dry["add"].stdout[-3000:] + dry["add"].stderr
    ensemble.inventory({"node2": 1, "node3": 2}, *ensemble.current[1:])
    refused = ensemble.cli("zk", "remove", "node4", "--dry-run", state_home=state_home)
    assert refused.returncode == 4, "a dry run is refused where the command would be: " + refused.stdout[-2000:]
    ensemble.inventory(FIRST, *ensemble.current[1:])
    after = controller_and_nodes(ensemble, state_home)
    changed = {where: sorted(set(after[where].splitlines()) ^ set(before[where].splitlines()))
               for where in before if after[where] != before[where]}
    assert changed == {}, changed

    assert len(planned(dry[("zk", "restart", "--rolling")].stdout, "zk-restart")) == 3
    assert planned(dry[("zk", "upgrade", "--package", str(second_builds["zookeeper"]))].stdout, "zk-upgrade")[-1] == \
        next(n for n in FIRST if ensemble.role(n) == "leader")
    assert re.search(r"^node5\s+zk-add\s+1 of 1: add node5 \(server\.4\)", dry["add"].stdout, re.M), dry["add"].stdout
    assert re.search(r"^node5\s+zookeeper\s", dry["add"].stdout, re.M), "the install it does first is planned too"


def test_a_rolling_restart_restarts_each_server_once_in_the_planned_order_leader_last_losing_no_write(ensemble):
    leader = next(n for n in FIRST if ensemble.role(n) == "leader")
    pids = {n: ensemble.pid(n) for n in FIRST}
    order = planned(ensemble.cli("zk", "restart", "--rolling", "--dry-run").stdout, "zk-restart")
    ensemble.changes_losing_no_write("zk", "restart", "--rolling", through=FIRST)
    assert all(ensemble.pid(n) not in ("", pids[n]) for n in FIRST)
    assert sorted(FIRST, key=ensemble.started_at) == order and order[-1] == leader
    assert whole(ensemble, FIRST)


def test_apply_of_a_changed_setting_restarts_each_server_once_leader_last_and_then_nothing(ensemble):
    ensemble.inventory(FIRST, sync_limit=6)
    plan = ensemble.cli("plan")
    assert plan.stdout.count("restart needed") >= 3, plan.stdout[-3000:]
    leader = next(n for n in FIRST if ensemble.role(n) == "leader")
    pids = {n: ensemble.pid(n) for n in FIRST}
    ensemble.changes_losing_no_write("apply", through=FIRST)
    assert all(ensemble.pid(n) != pids[n] for n in FIRST)
    assert sorted(FIRST, key=ensemble.started_at)[-1] == leader
    assert all("syncLimit=6" in inside(ensemble.lab, n, "cat /etc/zookeeper/zoo.cfg") for n in FIRST)
    pids = {n: ensemble.pid(n) for n in FIRST}
    again = ensemble.cli("apply")
    assert again.returncode == 0 and {n: ensemble.pid(n) for n in FIRST} == pids, again.stdout[-2000:]
    ensemble.plan_is_empty()


def test_a_server_stopped_and_started_again_keeps_the_quorum_and_loses_no_write(ensemble):
    ensemble.inventory(*ensemble.current)
    node = next(n for n in FIRST if ensemble.role(n) == "follower")
    pid = ensemble.pid(node)
    with Writer(ensemble.hosts(FIRST)) as writer:
        stopped = ensemble.cli("zk", "stop", node)
        assert stopped.returncode == 0, stopped.stdout[-3000:] + stopped.stderr
        assert ensemble.pid(node) == "" and ensemble.role(node) == "down"
        assert inside(ensemble.lab, node, f"kill -0 {pid} 2>/dev/null && echo alive || echo gone").strip() == "gone"
        started = ensemble.cli("zk", "start", node)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert ensemble.pid(node) not in ("", pid) and whole(ensemble, FIRST)


def reconfigs(dry_run: str, run: str) -> tuple[list[str], list[str]]:
    """The reconfigs a dry run planned, in order, and those the command's run log says it made."""
    planned_rows = re.findall(r"(\d+) of \d+: ((?:add|remove|promote to voter|demote to observer) \S+ "
                              r"\(server\.\d+\))", dry_run)
    log = Path(re.search(r"log: (\S+)", run).group(1)).read_text()
    return [what for _, what in sorted(planned_rows, key=lambda r: int(r[0]))], \
        re.findall(r" note reconfig: (.*)$", log, re.M)


def test_a_server_added_demoted_promoted_and_removed_again_as_planned_losing_no_write(ensemble):
    grown = {**FIRST, "node5": 4}
    ensemble.inventory(grown, *ensemble.current[1:])
    plan = ensemble.cli("plan").stdout
    assert re.search(r"^node5\s+zk-add\s+clusterctl zk add node5: 1 of 1: add node5 \(server\.4\)", plan, re.M), plan
    dry = ensemble.cli("zk", "add", "node5", "--dry-run").stdout
    added = ensemble.changes_losing_no_write("zk", "add", "node5", through=FIRST)
    wanted, done = reconfigs(dry, added.stdout)
    assert wanted == done == ["add node5 (server.4)"], (wanted, done)
    assert ensemble.config(list(FIRST)) == {sid: (h, "participant") for h, sid in grown.items()}
    assert whole(ensemble, grown) and NOT_SUPERVISED in added.stdout
    ensemble.plan_is_empty()

    # Its role changed both ways: demoted to an observer, then promoted back to a voter.
    ensemble.inventory({**FIRST, "node5": (4, True)}, *ensemble.current[1:])
    assert re.search(r"^node5\s+zk-demote\s+clusterctl zk demote node5: 1 of 1", ensemble.cli("plan").stdout, re.M)
    ensemble.changes_losing_no_write("zk", "demote", "node5", through=FIRST)
    assert ensemble.role("node5") == "observer" and ensemble.config(list(FIRST))[4] == ("node5", "observer")
    ensemble.inventory(grown, *ensemble.current[1:])
    ensemble.changes_losing_no_write("zk", "promote", "node5", through=FIRST)
    assert ensemble.role("node5") in ("leader", "follower") and ensemble.config(list(FIRST))[4] == ("node5", "participant")
    ensemble.plan_is_empty()

    ensemble.inventory(FIRST, *ensemble.current[1:])
    plan = ensemble.cli("plan", "--json").stdout
    assert any(row["step"] == "zk-remove" and row["host"] == "node5" and row["changes"][0]["summary"].startswith(
        "clusterctl zk remove node5: 1 of 1: remove node5 (server.4)") for row in json.loads(plan)["plan"]), plan
    dry = ensemble.cli("zk", "remove", "node5", "--dry-run").stdout
    removed = ensemble.changes_losing_no_write("zk", "remove", "node5", through=FIRST)
    wanted, done = reconfigs(dry, removed.stdout)
    assert wanted == done == ["remove node5 (server.4)"], (wanted, done)
    assert ensemble.config(list(FIRST)) == {sid: (h, "participant") for h, sid in FIRST.items()}
    assert ensemble.pid("node5") == "" and ensemble.role("node5") == "down"
    assert "clusterctl zk remove" not in removed.stdout, "the status after the change is read after it"
    ensemble.plan_is_empty()


def test_a_zookeeper_upgrade_rolls_leader_last_losing_no_write(ensemble, artifacts, second_builds):
    ensemble.inventory(*ensemble.current)
    second = second_builds["zookeeper"]
    leader = next(n for n in FIRST if ensemble.role(n) == "leader")
    ensemble.changes_losing_no_write("zk", "upgrade", "--package", str(second), through=FIRST)
    assert all(link(ensemble, n) == "/opt/apache-zookeeper-3.8.0-b2-bin" for n in FIRST)
    assert all(SECOND_BUILD.decode() in ensemble.version(n) for n in FIRST), {n: ensemble.version(n) for n in FIRST}
    assert sorted(FIRST, key=ensemble.started_at)[-1] == leader and whole(ensemble, FIRST)
    ensemble.base = ensemble.base.replace(str(artifacts["zookeeper"]), str(second))
    ensemble.inventory(*ensemble.current)
    ensemble.plan_is_empty()


def test_a_jdk_upgrade_switches_server_by_server_leader_last_losing_no_write(ensemble, second_builds):
    ensemble.inventory(*ensemble.current)
    second = second_builds["jdk"]
    leader = next(n for n in FIRST if ensemble.role(n) == "leader")
    ensemble.changes_losing_no_write("jdk", "upgrade", "--package", str(second), through=FIRST)
    assert all(java_of(ensemble, n) == "/usr/java/jdk-17.0.15-b2/bin/java" for n in FIRST)
    assert sorted(FIRST, key=ensemble.started_at)[-1] == leader and whole(ensemble, FIRST)


# As the runbook (and clusterctl before the service account) left a server: root, zkServer.sh by hand.
AS_ROOT = ("cd / && ZOOCFGDIR=/etc/zookeeper ZOO_LOG_DIR=/var/log/zookeeper "
           "ZOOPIDFILE=/var/lib/zookeeper/zookeeper_server.pid JAVA_HOME=/usr/java/default "
           "/opt/zookeeper/bin/zkServer.sh start")


def test_a_server_started_by_hand_as_root_is_converted_by_the_next_bootstrap_losing_no_write(ensemble):
    ensemble.inventory(*ensemble.current)
    node = next(n for n in FIRST if ensemble.role(n) == "follower")
    stopped = ensemble.cli("zk", "stop", node)
    assert stopped.returncode == 0, stopped.stdout[-3000:] + stopped.stderr
    inside(ensemble.lab, node, AS_ROOT)
    deadline = time.monotonic() + 60
    while ensemble.role(node) not in ("follower", "leader"):
        assert time.monotonic() < deadline, ensemble.srvr(node)
        time.sleep(0.5)
    assert inside(ensemble.lab, node, f"stat -c %U /proc/{ensemble.pid(node)}").strip() == "root"
    plan = ensemble.cli("plan")
    assert f"restart needed: the server (pid {ensemble.pid(node)}) runs as root" in plan.stdout, plan.stdout[-3000:]
    others = {n: ensemble.pid(n) for n in FIRST if n != node}
    ensemble.changes_losing_no_write("bootstrap", through=FIRST)
    assert inside(ensemble.lab, node, f"stat -c %U /proc/{ensemble.pid(node)}").strip() == "zookeeper"
    assert {n: ensemble.pid(n) for n in FIRST if n != node} == others, "only the root server restarted"
    assert whole(ensemble, FIRST)
    ensemble.plan_is_empty()
