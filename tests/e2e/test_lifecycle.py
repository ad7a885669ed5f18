"""A live ensemble changed for years: apply with the least restarts, grow and shrink it, change roles, replace
a crashed server. Each operation runs with a client writing throughout and every acknowledged write read
back; what the servers run is checked from inside the nodes and from ZooKeeper's own /zookeeper/config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from tests.ensembles import SECOND_BUILD, Ensemble, java_of, link, rebuild, rebuild_jdk, whole
from tests.lab_helpers import Writer, inside, running_lab

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NODES = [f"node{i}" for i in range(1, 8)]  # node1 a client; node2..node4 the first ensemble; node5..7 spares
TUNING = "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5"

FIRST = {"node2": 1, "node3": 2, "node4": 3}


@pytest.fixture(scope="module")
def ensemble(artifacts):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    extra = extra.replace("heap_mb = 128", TUNING)
    with running_lab("tlc", "10.231.130.0/24", len(NODES), inventory_extra=extra) as lab:
        # Everything but the servers, which each test writes (they are the file's last section).
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = Ensemble(lab, base)
        ensemble.inventory(FIRST)
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


def test_a_changed_setting_restarts_each_server_once_leader_last_and_a_no_op_apply_restarts_none(ensemble):
    ensemble.inventory(FIRST)
    leader = next(n for n in FIRST if ensemble.role(n) == "leader")
    before = {n: ensemble.pid(n) for n in FIRST}
    # A [zookeeper] key and a zoo.cfg key of the inventory's own ([zookeeper.settings]), changed together.
    ensemble.inventory(FIRST, sync_limit=7, settings="maxClientCnxns = 77")
    began = time.time() - 1
    with Writer(ensemble.hosts(FIRST)) as writer:
        applied = ensemble.cli("apply")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    after = {n: ensemble.pid(n) for n in FIRST}
    assert all(after[n] != before[n] for n in FIRST), "every server restarted"
    for node in FIRST:
        # Exactly once: the unit was started once since the apply began, as its journal on the node says.
        starts = inside(ensemble.lab, node, f"journalctl -u zookeeper --since @{began:.0f} -o cat | "
                                            f"grep -c '^Started' || true").strip()
        assert starts == "1", f"{node} started {starts} times"
        assert inside(ensemble.lab, node, "grep -c '^syncLimit=7' /etc/zookeeper/zoo.cfg").strip() == "1"
        # The server itself runs with it (conf: the configuration it read).
        assert re.search(r"^maxClientCnxns=77$", ensemble.word(node, "conf"), re.M), ensemble.word(node, "conf")
    order = sorted(FIRST, key=ensemble.started_at)
    assert order[-1] == leader, f"the leader ({leader}) went last: {order}"
    assert "syncLimit 5 → 7" in applied.stdout and "maxClientCnxns=77 added" in applied.stdout, applied.stdout[-3000:]

    again = ensemble.cli("apply")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert {n: ensemble.pid(n) for n in FIRST} == after, "a no-op apply restarts nothing"
    ensemble.inventory(FIRST)
    assert ensemble.cli("apply").returncode == 0
    ensemble.plan_is_empty()


def test_apply_asks_before_each_restart_pauses_between_them_and_a_server_refused_stays_stale(ensemble):
    ensemble.inventory(FIRST, sync_limit=6)
    before = {n: ensemble.pid(n) for n in FIRST}
    with Writer(ensemble.hosts(FIRST)) as writer:
        asked = ensemble.cli("apply", "--confirm", "--pause", "3", answers="n\ny\ny\n")
        assert asked.returncode == 0, asked.stdout[-3000:] + asked.stderr
        # One question a server (on one line here: what is typed on a pipe is not echoed), in the roll's order.
        questions = re.findall(r"restart (node\d) \([^?]*zoo\.cfg \(syncLimit 5 → 6\)\)\? \[Y/n\]", asked.stderr)
        assert len(questions) == 3 and sorted(questions) == sorted(FIRST), asked.stderr
        refused, *agreed = questions
        assert re.search(rf"^{refused}\s+zk-roll\s+skipped\s+not restarted: skipped at the prompt", asked.stdout,
                         re.M), asked.stdout[-3000:]
        after = {n: ensemble.pid(n) for n in FIRST}
        assert after[refused] == before[refused] and all(after[n] != before[n] for n in agreed)
        # The pause is between two restarts: the second server started at least 3 s after the first was back.
        first, second = sorted(agreed, key=ensemble.started_at)
        assert (ensemble.started_at(second) - ensemble.started_at(first)) / 1e6 >= 3
        stale = ensemble.cli("plan")
        assert re.search(rf"^{refused}\s+zk-roll\s+restart needed", stale.stdout, re.M), stale.stdout[-3000:]
        assert not re.search(rf"^({'|'.join(agreed)})\s+zk-roll", stale.stdout, re.M), stale.stdout[-3000:]
        finished = ensemble.cli("apply")
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    last = {n: ensemble.pid(n) for n in FIRST}
    assert last[refused] != after[refused] and all(last[n] == after[n] for n in agreed), "only the stale one"
    ensemble.inventory(FIRST)
    assert ensemble.cli("apply").returncode == 0
    ensemble.plan_is_empty()


def test_grow_to_five_demote_promote_and_shrink_back_losing_no_write(ensemble):
    ensemble.inventory(FIRST)
    grown = {**FIRST, "node5": 4, "node6": 5}
    ensemble.inventory(grown)
    with Writer(ensemble.hosts(FIRST)) as writer:
        added = ensemble.cli("zk", "add", "node5", "node6")
    assert added.returncode == 0, added.stdout[-3000:] + added.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert "ConnectionLoss" not in writer.errors and "SessionExpiredError" not in writer.errors, writer.errors[:5]
    assert ensemble.config(list(FIRST)) == {sid: (h, "participant") for h, sid in grown.items()}
    assert sorted(ensemble.role(n) for n in grown).count("leader") == 1
    assert all(ensemble.role(n) in ("leader", "follower") for n in grown)
    ensemble.plan_is_empty()

    ensemble.inventory({**grown, "node6": (5, True)})
    with Writer(ensemble.hosts(FIRST)) as writer:
        demoted = ensemble.cli("zk", "demote", "node6")
    assert demoted.returncode == 0, demoted.stdout[-3000:] + demoted.stderr
    assert writer.lost() == []
    assert ensemble.role("node6") == "observer" and ensemble.config(list(FIRST))[5] == ("node6", "observer")
    ensemble.plan_is_empty()

    ensemble.inventory(grown)
    with Writer(ensemble.hosts(FIRST)) as writer:
        promoted = ensemble.cli("zk", "promote", "node6")
    assert promoted.returncode == 0, promoted.stdout[-3000:] + promoted.stderr
    assert writer.lost() == []
    assert ensemble.role("node6") in ("leader", "follower")
    assert ensemble.config(list(FIRST))[5] == ("node6", "participant")

    pids = {n: ensemble.pid(n) for n in FIRST}
    ensemble.inventory(FIRST)
    with Writer(ensemble.hosts(FIRST)) as writer:
        removed = ensemble.cli("zk", "remove", "node5", "node6")
    assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert "ConnectionLoss" not in writer.errors and "SessionExpiredError" not in writer.errors, writer.errors[:5]
    assert ensemble.config(list(FIRST)) == {sid: (h, "participant") for h, sid in FIRST.items()}
    assert {n: ensemble.pid(n) for n in FIRST} == pids, "no server that stays was restarted"
    assert "clusterctl zk remove" not in removed.stdout, "the status after the change is read after it"
    for node in ("node5", "node6"):
        assert inside(ensemble.lab, node, "systemctl is-active zookeeper", check=False).strip() != "active"
        assert inside(ensemble.lab, node, "systemctl is-enabled zookeeper", check=False).strip() == "disabled"
        kept = inside(ensemble.lab, node, "ls -d /var/lib/zookeeper.removed-*/version-2 /var/lib/zookeeper.removed-*/myid")
        assert len(kept.split()) == 2, "the data and myid were moved aside, not deleted"
    ensemble.plan_is_empty()
    again = ensemble.cli("zk", "remove", "node5")
    assert again.returncode == 0 and "no server data left" in again.stdout + again.stderr, again.stdout + again.stderr


def test_removing_servers_the_quorum_needs_is_refused_before_anything_changes(ensemble):
    ensemble.inventory(FIRST)
    config = ensemble.config(list(FIRST))
    pids = {n: ensemble.pid(n) for n in FIRST}
    ensemble.inventory({"node2": 1})
    refused = ensemble.cli("zk", "remove", "node3", "node4")
    assert refused.returncode == 4, refused.stdout[-2000:] + refused.stderr
    assert "refusing" in refused.stderr and "Traceback" not in refused.stderr
    assert ensemble.config(list(FIRST)) == config and {n: ensemble.pid(n) for n in FIRST} == pids

    ensemble.inventory({"node2": 1, "node3": 2, "node7": 3})
    usage = ensemble.cli("zk", "add", "node7")
    assert usage.returncode == 2 and "id 3 is running as node4" in usage.stderr, usage.stderr
    ensemble.inventory(FIRST)


def test_a_crashed_server_is_replaced_by_a_fresh_node_without_losing_the_quorum(ensemble):
    # The operator drops the dead node from the inventory (it has no address to reach any more) and names
    # the fresh one in its place.
    ensemble.inventory(FIRST)
    dead = next(n for n in FIRST if ensemble.role(n) == "follower")
    ensemble.lab.stop_node(dead, crash=True)
    rest = [n for n in FIRST if n != dead]
    replaced = {**{n: FIRST[n] for n in rest}, "node7": 6}
    ensemble.inventory(replaced, without=[dead])
    try:
        with Writer(ensemble.hosts(rest)) as writer:
            result = ensemble.cli("zk", "replace", dead, "node7")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
        assert ensemble.config(rest) == {sid: (h, "participant") for h, sid in replaced.items()}
        assert all(ensemble.role(n) in ("leader", "follower") for n in replaced)
        assert "its node was not touched" in result.stdout + result.stderr
        ensemble.plan_is_empty()
    finally:
        ensemble.lab.start_node(dead)


# -- upgrades -------------------------------------------------------------------

def test_an_interrupted_upgrade_resumes_and_completes_leader_last_losing_no_write(ensemble, artifacts, tmp_path):
    ensemble.inventory(*ensemble.current)
    servers = list(ensemble.current[0])
    second = rebuild(artifacts["zookeeper"], tmp_path / "zookeeper-b2.tar.gz", "apache-zookeeper-3.8.0-b2-bin")
    old = {n: link(ensemble, n) for n in servers}
    leader = next(n for n in servers if ensemble.role(n) == "leader")
    follower = next(n for n in servers if ensemble.role(n) == "follower")
    pids = {n: ensemble.pid(n) for n in servers}
    assert all(ensemble.version(n).startswith("3.8.0-") and SECOND_BUILD.decode() not in ensemble.version(n)
               for n in servers), {n: ensemble.version(n) for n in servers}
    with Writer(ensemble.hosts(servers)) as writer:
        upgrading = subprocess.Popen([sys.executable, "-m", "clusterctl", "zk", "upgrade", "--package", str(second),
                                      "-i", str(ensemble.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=REPO)
        deadline = time.monotonic() + 300
        while not any(link(ensemble, n).endswith("-b2-bin") for n in servers):
            assert upgrading.poll() is None and time.monotonic() < deadline, upgrading.communicate()
            time.sleep(0.2)
        upgrading.send_signal(2)
        out, err = upgrading.communicate(timeout=300)
        assert upgrading.returncode == 130, out[-3000:] + err
        assert link(ensemble, leader) == old[leader], "the leader, last, was not reached"
        resumed = ensemble.cli("zk", "upgrade", "--package", str(second))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert all(link(ensemble, n) == "/opt/apache-zookeeper-3.8.0-b2-bin" for n in servers)
    assert all(ensemble.pid(n) != pids[n] for n in servers) and whole(ensemble, servers)
    assert all(ensemble.version(n).startswith(f"3.8.0-{SECOND_BUILD.decode()}, built on") for n in servers), \
        {n: ensemble.version(n) for n in servers}
    reported = {s["host"]: s["version"] for s in json.loads(ensemble.cli("zk", "status", "--json").stdout)["servers"]}
    assert all(SECOND_BUILD.decode() in (reported[n] or "") for n in servers), reported
    assert sorted(servers, key=ensemble.started_at)[-1] == leader
    assert inside(ensemble.lab, follower, "ls -d /opt/apache-zookeeper-3.8.0-bin /etc/zookeeper.backup-*").strip()
    assert "still names" in resumed.stdout, "the inventory is said to lag behind"

    upgraded = {n: ensemble.pid(n) for n in servers}
    again = ensemble.cli("zk", "upgrade", "--package", str(second), "--cleanup")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert {n: ensemble.pid(n) for n in servers} == upgraded, "run again, it restarts nothing"
    assert "runs apache-zookeeper-3.8.0-b2-bin already" in again.stdout
    assert inside(ensemble.lab, follower, "ls -d /opt/apache-zookeeper-3.8.0-bin 2>/dev/null || echo gone").strip() == "gone"
    ensemble.base = ensemble.base.replace(str(artifacts["zookeeper"]), str(second))
    ensemble.inventory(*ensemble.current)
    ensemble.plan_is_empty()


def test_an_upgrade_to_a_broken_build_rolls_the_first_server_back_by_itself(ensemble, artifacts, tmp_path):
    ensemble.inventory(*ensemble.current)
    servers = list(ensemble.current[0])
    broken = rebuild(artifacts["zookeeper"], tmp_path / "zookeeper-broken.tar.gz",
                     "apache-zookeeper-3.8.0-broken-bin", broken=True)
    before = {n: link(ensemble, n) for n in servers}
    pids = {n: ensemble.pid(n) for n in servers}
    leader = next(n for n in servers if ensemble.role(n) == "leader")
    with Writer(ensemble.hosts(servers)) as writer:
        result = ensemble.cli("zk", "upgrade", "--package", str(broken), "--timeout", "20")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "rolled back" in result.stdout and "Traceback" not in result.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert {n: link(ensemble, n) for n in servers} == before, "every server on the release it had"
    assert whole(ensemble, servers)
    touched = [n for n in servers if ensemble.pid(n) != pids[n]]
    assert len(touched) == 1 and touched[0] != leader, f"only the first follower was tried: {touched}"
    assert "the upgrade stopped" in result.stdout
    ensemble.plan_is_empty()


def test_a_jdk_upgrade_switches_server_by_server_and_a_broken_jdk_is_switched_back(ensemble, artifacts, tmp_path):
    ensemble.inventory(*ensemble.current)
    servers = list(ensemble.current[0])
    nodes = [n for n in NODES if n not in ensemble.current[2]]
    home = {n: inside(ensemble.lab, n, "readlink /usr/java/default").strip() for n in nodes}
    pids = {n: ensemble.pid(n) for n in servers}
    broken = rebuild_jdk(artifacts["jdk_tarball"], tmp_path / "jdk-broken.tar.gz", "jdk-17.0.15-broken",
                         broken=True)
    with Writer(ensemble.hosts(servers)) as writer:
        failed = ensemble.cli("jdk", "upgrade", "--package", str(broken), "--timeout", "20")
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
    assert "rolled back" in failed.stdout and "Traceback" not in failed.stderr, failed.stdout[-3000:]
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert {n: inside(ensemble.lab, n, "readlink /usr/java/default").strip() for n in nodes} == home
    assert whole(ensemble, servers)
    assert len([n for n in servers if ensemble.pid(n) != pids[n]]) == 1, "one server tried, then switched back"

    second = rebuild_jdk(artifacts["jdk_tarball"], tmp_path / "jdk-b2.tar.gz", "jdk-17.0.15-b2")
    leader = next(n for n in servers if ensemble.role(n) == "leader")
    with Writer(ensemble.hosts(servers)) as writer:
        upgraded = ensemble.cli("jdk", "upgrade", "--package", str(second))
    assert upgraded.returncode == 0, upgraded.stdout[-3000:] + upgraded.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert all(inside(ensemble.lab, n, "readlink /usr/java/default").strip() == "jdk-17.0.15-b2" for n in nodes)
    assert all(java_of(ensemble, n) == "/usr/java/jdk-17.0.15-b2/bin/java" for n in servers)
    assert sorted(servers, key=ensemble.started_at)[-1] == leader and whole(ensemble, servers)
    pids = {n: ensemble.pid(n) for n in servers}
    again = ensemble.cli("jdk", "upgrade", "--package", str(second))
    assert again.returncode == 0 and "runs jdk-17.0.15-b2 already" in again.stdout, again.stdout[-2000:]
    assert {n: ensemble.pid(n) for n in servers} == pids
